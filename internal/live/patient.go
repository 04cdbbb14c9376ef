package live

import (
	"context"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/patientsession"
	"github.com/whisper-health/whisper/ent/session"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// This file is the live side of patient conversations (SPEC §12): a portal
// patient's streams (messageAdded, unreadBadge, channelUpdated) cover their
// own conversations, authorised per event like every other stream; the care
// team's unreadBadge counts every patient conversation the way
// conversationStats.unreadMessages does (their read mark, or nothing read),
// and their channelUpdated hears of every new one.

// principal is who a subscription is registered under: the staff user, or
// the portal patient (ids name their type, so the two never collide).
func principal(v *viewer.Viewer) pulid.ID {
	if v.UserID != "" {
		return v.UserID
	}
	return v.PatientID
}

// ownConversation reports whether m is in a patient conversation about the
// subscribing portal patient: the channel as released, read once by the
// hub; a patient conversation never changes its patient.
func ownConversation(v *viewer.Viewer, m *ent.Message) bool {
	ch := m.Edges.Channel
	return rule.PortalPatient.Holds(v) && ch != nil && ch.Kind == channel.KindPATIENT &&
		ch.PatientID != nil && *ch.PatientID == v.PatientID
}

// counts reports whether a released message moves this badge although its
// viewer is not a member of the channel: a patient conversation counts for
// every care-team member (unread until they read it) and for its patient.
func (s *badgeSub) counts(m *ent.Message) bool {
	ch := m.Edges.Channel
	if ch == nil || ch.Kind != channel.KindPATIENT {
		return false
	}
	return rule.Messaging.Holds(s.viewer) || ownConversation(s.viewer, m)
}

// patientLine is the badge line of a patient conversation the badge counts
// without a membership (see counts): nothing read yet for a care-team
// member, the patient's own read mark for the patient.
func (s *badgeSub) patientLine(ch *ent.Channel) *badgeLine {
	line := &badgeLine{channel: ch, last: ch.LastSeq}
	if rule.PortalPatient.Holds(s.viewer) {
		line.read = ch.PatientReadSeq
	}
	return line
}

// ownMessage reports whether the viewer sent m (staff or patient): the
// sender never has their own message unread. A staff auto-reply is not
// its away user's own in that sense: it does not mean they read what it
// answers (see messenger's append).
func ownMessage(v *viewer.Viewer, m *ent.Message) bool {
	if m.Kind == message.KindAUTO_REPLY {
		return false
	}
	if m.SenderID != nil {
		return *m.SenderID == v.UserID && v.UserID != ""
	}
	return m.SenderPatientID != nil && *m.SenderPatientID == v.PatientID && v.PatientID != ""
}

// patientAudience is who else hears of a channel change: for a new patient
// conversation, every care-team member with a channelUpdated stream on this
// replica (each event is still read as its viewer before it is sent).
func (h *Hub) patientAudience(ctx context.Context, id pulid.ID, change string) []pulid.ID {
	if change != "CREATED" {
		return nil
	}
	patient, err := h.client.Channel.Query().
		Where(channel.ID(id), channel.KindEQ(channel.KindPATIENT)).
		Exist(system(ctx, "tell the care team of a new patient conversation"))
	if err != nil || !patient {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []pulid.ID
	for u, subs := range h.chans {
		for s := range subs {
			if rule.Messaging.Holds(s.viewer) {
				out = append(out, u)
				break
			}
		}
	}
	return out
}

// validSessions returns those of ids (staff or portal sessions) that are
// not revoked.
func (h *Hub) validSessions(ctx context.Context, ids []pulid.ID) ([]pulid.ID, error) {
	var staff, portal []pulid.ID
	for _, id := range ids {
		if id.Prefix() == "ps" {
			portal = append(portal, id)
		} else {
			staff = append(staff, id)
		}
	}
	sctx := system(ctx, "re-check the sessions of open streams")
	var out []pulid.ID
	if len(staff) > 0 {
		valid, err := h.client.Session.Query().Where(session.IDIn(staff...), session.RevokedAtIsNil()).IDs(sctx)
		if err != nil {
			return nil, err
		}
		out = append(out, valid...)
	}
	if len(portal) > 0 {
		valid, err := h.client.PatientSession.Query().
			Where(patientsession.IDIn(portal...), patientsession.RevokedAtIsNil()).IDs(sctx)
		if err != nil {
			return nil, err
		}
		out = append(out, valid...)
	}
	return out, nil
}

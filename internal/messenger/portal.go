package messenger

import (
	"context"
	"fmt"
	"strings"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// This file is the patient's side of patient conversations (SPEC §12): what
// a portal patient reads of the staff who write to them, their read mark,
// the conversations they start, and the PATIENT_PORTAL notification their
// messages raise for the conversation's owner.

// StaffDetails reports whether the viewer may read a staff member's private
// details (email, mobile, security groups, permissions, preferences) on the
// user rows they can see. A portal patient sees staff by name and job title
// only: for them those fields resolve to null or an empty list, never to an
// error that would void the rest of the answer.
func StaffDetails(ctx context.Context) bool {
	return rule.StaffDetailsReader.Holds(viewer.FromContext(ctx))
}

// StaffEmail is u's email, or nil when the viewer may not read it.
func StaffEmail(ctx context.Context, u *ent.User) *string {
	if !StaffDetails(ctx) {
		return nil
	}
	return &u.Email
}

// StaffMobile is u's mobile number, or nil when the viewer may not read it.
func StaffMobile(ctx context.Context, u *ent.User) *string {
	if !StaffDetails(ctx) {
		return nil
	}
	return u.Mobile
}

// StaffGroups is u's security groups, or none when the viewer may not read
// them.
func StaffGroups(ctx context.Context, u *ent.User) ([]*ent.SecurityGroup, error) {
	if !StaffDetails(ctx) {
		return []*ent.SecurityGroup{}, nil
	}
	if gs, err := u.Edges.SecurityGroupsOrErr(); err == nil {
		return gs, nil // loaded with the page
	}
	return u.QuerySecurityGroups().All(ctx)
}

// portalNotificationKey makes one PATIENT_PORTAL notification per
// conversation until its owner reads it: the key names the owner's read
// mark, which stays put until they read, so a second message finds the
// first notification (a unique key, so concurrent sends agree) and a
// message after they have read raises a new one.
func portalNotificationKey(channelID pulid.ID, readSeq int64) string {
	return fmt.Sprintf("%s%d", portalNotificationPrefix(channelID), readSeq)
}

func portalNotificationPrefix(channelID pulid.ID) string {
	return "patient-portal:" + string(channelID) + ":"
}

// owner is the staff member a patient conversation belongs to: the sender
// of its first staff message — who started it, or, for a conversation the
// patient started, who answered first. ok is false while no staff member
// has written in it. It reads as the messenger (the caller decides who may
// learn the owner).
func owner(ctx context.Context, c *ent.Client, channelID pulid.ID) (pulid.ID, bool, error) {
	first, err := c.Message.Query().
		Where(message.ChannelID(channelID), message.SenderIDNotNil(), message.KindEQ(message.KindUSER)).
		Order(ent.Asc(message.FieldSeq)).
		Select(message.FieldSenderID).
		First(system(ctx, "find the patient conversation's owner"))
	if ent.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("finding the conversation's owner: %w", err)
	}
	return *first.SenderID, true, nil
}

// notifyOwner raises the PATIENT_PORTAL notification of a patient's message
// for the conversation's owner, unless one is open already (one per
// conversation until they read it). It runs inside the patient's send,
// after the channel row is locked, so two messages at once are serialised
// and the second sees the first one's notification; it writes as the
// messenger, since a patient may not notify staff.
func (s *Service) notifyOwner(ctx context.Context, c *ent.Client, ch *ent.Channel, emit func(...pubsub.Event)) error {
	sctx := system(ctx, "notify the patient conversation's owner of the patient's message")
	uid, ok, err := owner(ctx, c, ch.ID)
	if err != nil || !ok || ch.PatientID == nil {
		return err
	}
	p, err := c.Patient.Get(sctx, *ch.PatientID)
	if err != nil {
		return fmt.Errorf("reading the conversation's patient: %w", err)
	}
	var read int64
	m, err := c.ChannelMember.Query().
		Where(channelmember.ChannelID(ch.ID), channelmember.UserID(uid)).
		Only(sctx)
	switch {
	case err == nil:
		read = m.LastReadSeq
	case !ent.IsNotFound(err):
		return err
	}
	key := portalNotificationKey(ch.ID, read)
	open, err := c.Notification.Query().
		Where(notification.RecipientID(uid), notification.DedupeKey(key)).
		Exist(sctx)
	if err != nil || open {
		return err
	}
	topic := "a conversation"
	if ch.Topic != nil {
		topic = "“" + *ch.Topic + "”"
	}
	now := s.now()
	n, err := c.Notification.Create().
		SetKind(notification.KindPATIENT_PORTAL).
		SetRecipientID(uid).
		SetTitle(fmt.Sprintf("%s %s wrote in %s", p.FirstName, p.LastName, topic)).
		SetPatientID(p.ID).
		SetDeliverAt(now).
		SetAnnouncedAt(now).
		SetDedupeKey(key).
		Save(sctx)
	if err != nil {
		return fmt.Errorf("notifying the conversation's owner: %w", err)
	}
	emit(pubsub.Event{Kind: pubsub.Notification, Users: []pulid.ID{uid}, Message: n.ID})
	return nil
}

// acknowledgePortalNotifications acknowledges the viewer's open
// PATIENT_PORTAL notifications of a conversation they have just read: the
// patient's message they announced has been seen. It acts as the viewer
// (who acknowledges their own notifications).
func (s *Service) acknowledgePortalNotifications(ctx context.Context, v *viewer.Viewer, channelID pulid.ID) error {
	n, err := s.client.Notification.Update().
		Where(notification.RecipientID(v.UserID), notification.KindEQ(notification.KindPATIENT_PORTAL),
			notification.AcknowledgedAtIsNil(), notification.DedupeKeyHasPrefix(portalNotificationPrefix(channelID))).
		SetAcknowledgedAt(s.now()).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("acknowledging portal notifications: %w", err)
	}
	if n > 0 {
		s.bus.Publish(ctx, pubsub.Event{Kind: pubsub.Notification, Users: []pulid.ID{v.UserID}, Change: "ACKNOWLEDGED"})
	}
	return nil
}

// movePatientReadMark moves the portal patient's read mark in their own
// conversation to seq (never backwards), as the patient: the channel policy
// lets them change that column of their own conversations only.
func movePatientReadMark(ctx context.Context, c *ent.Client, v *viewer.Viewer, channelID pulid.ID, seq int64) (bool, error) {
	n, err := c.Channel.Update().
		Where(channel.ID(channelID), channel.PatientReadSeqLT(seq)).
		SetPatientReadSeq(seq).
		Save(ctx)
	if err != nil {
		return false, fmt.Errorf("moving the patient's read mark: %w", err)
	}
	return n > 0, nil
}

// patientMarkRead marks every message of the patient's own conversation
// read for them.
func (s *Service) patientMarkRead(ctx context.Context, v *viewer.Viewer, channelID pulid.ID) (*ent.Channel, error) {
	// Read as the patient: any other channel is not found.
	ch, err := s.client.Channel.Get(ctx, channelID)
	if err != nil {
		return nil, err
	}
	moved, err := movePatientReadMark(ctx, s.client, v, ch.ID, ch.LastSeq)
	if err != nil {
		return nil, err
	}
	if moved {
		ch.PatientReadSeq = ch.LastSeq
		s.bus.Publish(ctx, pubsub.Event{Kind: pubsub.Read, Channel: ch.ID, Users: []pulid.ID{v.PatientID}})
	}
	return ch, nil
}

// patientStart opens a conversation a portal patient starts about
// themself, with their first message. patientID, when given, must be their
// own (another patient's is as unknown as a missing one). Nobody is a
// member: the care team shares it at once (their lists, badges and
// messageAdded), and the first staff member who answers becomes its owner.
func (s *Service) patientStart(ctx context.Context, v *viewer.Viewer, in StartPatientInput, topic, body string) (*ent.Channel, error) {
	if in.PatientID != "" && in.PatientID != v.PatientID {
		return nil, apperr.Invalid("patientID", "unknown patient")
	}
	var ch *ent.Channel
	err := s.tx.Run(ctx, func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		c := tx.Client()
		var err error
		ch, err = c.Channel.Create().
			SetKind(channel.KindPATIENT).
			SetTopic(topic).
			SetPatientID(v.PatientID).
			SetLastActivityAt(s.now()).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("creating patient conversation: %w", err)
		}
		msg, err := s.post(ctx, c, ch, c.Message.Create().
			SetSenderPatientID(v.PatientID).
			SetBody(body), emit)
		if err != nil {
			return err
		}
		if _, err := movePatientReadMark(ctx, c, v, ch.ID, msg.Seq); err != nil {
			return err
		}
		emit(changed(ch.ID, Created, []pulid.ID{v.PatientID}, nil))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.client.Channel.Get(ctx, ch.ID)
}

// patientConversations is the portal patient's own list (the privacy rules
// filter channels to theirs), filtered by their read mark and searched like
// the care team's list.
func (s *Service) patientConversations(f PatientFilter) *ent.ChannelQuery {
	q := s.client.Channel.Query().Where(channel.KindEQ(channel.KindPATIENT))
	switch f.Read {
	case ReadUnread:
		q.Where(func(sel *entsql.Selector) {
			sel.Where(entsql.ColumnsLT(sel.C(channel.FieldPatientReadSeq), sel.C(channel.FieldLastSeq)))
		})
	case ReadRead:
		q.Where(func(sel *entsql.Selector) {
			sel.Where(entsql.ColumnsGTE(sel.C(channel.FieldPatientReadSeq), sel.C(channel.FieldLastSeq)))
		})
	}
	searchPatientConversations(q, f.Search)
	if f.PatientID != nil {
		q.Where(channel.PatientID(*f.PatientID))
	}
	if f.LastMessage {
		withLastMessage(q)
	}
	return q
}

// searchPatientConversations narrows q to conversations where every word
// matches the topic, the patient's first or last name, or their number.
func searchPatientConversations(q *ent.ChannelQuery, search string) {
	for _, w := range strings.Fields(search) {
		q.Where(channel.Or(
			channel.TopicContainsFold(w),
			channel.HasPatientWith(patient.Or(
				patient.FirstNameContainsFold(w),
				patient.LastNameContainsFold(w),
				patient.PatientNumberContainsFold(w),
			)),
		))
	}
}

// checkPatientFilter refuses a patientID the viewer cannot see: NOT_FOUND,
// alike for a missing patient and (for a portal patient) another one.
func (s *Service) checkPatientFilter(ctx context.Context, id *pulid.ID) error {
	if id == nil {
		return nil
	}
	_, err := s.client.Patient.Get(ctx, *id)
	return err
}

package rule

import (
	"context"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/ent/usertoken"
	"github.com/whisper-health/whisper/internal/viewer"
)

// The rules of the patient portal: what a portal patient reads of the staff
// who write to them, and what they may change of their own conversations.
var (
	// StaffDetailsReader: may read a staff member's private details — email,
	// mobile, security groups, permissions, preferences — on the user rows
	// they can see. Staff, service accounts and workers may; a portal
	// patient sees the staff of their conversations by name and job title
	// only (those fields resolve to null or an empty list for them).
	StaffDetailsReader = Predicate{"StaffDetailsReader", "only staff read a staff member's details", func(v *viewer.Viewer) bool {
		return v.Kind != viewer.Patient
	}}

	// ConversationParticipant: may take part in patient conversations —
	// their live streams (messageAdded, unreadBadge, channelUpdated) and
	// read marks: the care team (Messaging), and portal patients in their
	// own conversations.
	ConversationParticipant = Predicate{"ConversationParticipant", "you do not have access to messaging (ACCESS_WHISPER)", func(v *viewer.Viewer) bool {
		return Messaging.holds(v) || PortalPatient.holds(v)
	}}
)

// FilterUsersToPatientCareTeam lets a portal patient read the staff who
// take part in their own conversations (members of a PATIENT channel about
// them: whoever started, answered or read one) — so a message's sender and
// a conversation's members resolve for them — and no other user.
func FilterUsersToPatientCareTeam() privacy.QueryRule {
	return privacy.UserQueryRuleFunc(func(ctx context.Context, q *ent.UserQuery) error {
		v := viewer.FromContext(ctx)
		if !PortalPatient.Holds(v) {
			return privacy.Skip
		}
		// The membership table is consulted as data (ent #2957): the
		// patient could not read it themself, and needs no more than this.
		q.Where(user.HasChannelsWith(channel.KindEQ(channel.KindPATIENT), channel.PatientID(v.PatientID)))
		return allowConversationStaff
	})
}

// AllowIfPatientStartsConversation lets a portal patient open a PATIENT
// channel about themself (startPatientConversation), with no members and
// no shared key; the care team shares it as it shares every one.
func AllowIfPatientStartsConversation() privacy.MutationRule {
	return privacy.ChannelMutationRuleFunc(func(ctx context.Context, m *ent.ChannelMutation) error {
		v := viewer.FromContext(ctx)
		if !PortalPatient.Holds(v) || !m.Op().Is(ent.OpCreate) {
			return privacy.Skip
		}
		kind, _ := m.Kind()
		pid, _ := m.PatientID()
		_, keyed := m.UniqueKey()
		if kind != channel.KindPATIENT || pid != v.PatientID || keyed {
			return privacy.Denyf("a patient opens only a conversation about themself")
		}
		for _, e := range m.AddedEdges() {
			if e != channel.EdgePatient {
				return privacy.Denyf("a patient opens a conversation with no members")
			}
		}
		return privacy.Allow
	})
}

// PatientReadMarkFields are the only channel columns a portal patient may
// change: their own read mark in a conversation about them.
var PatientReadMarkFields = map[string]bool{
	channel.FieldPatientReadSeq: true,
	channel.FieldUpdatedAt:      true,
}

// AllowIfPatientReadMark lets a portal patient move their read mark in
// their own conversations (markChannelRead, and with each message they
// send), and nothing else; the update is narrowed to those channels, so
// any other id matches nothing.
func AllowIfPatientReadMark() privacy.MutationRule {
	return privacy.ChannelMutationRuleFunc(func(ctx context.Context, m *ent.ChannelMutation) error {
		v := viewer.FromContext(ctx)
		if !PortalPatient.Holds(v) || !m.Op().Is(ent.OpUpdate|ent.OpUpdateOne) {
			return privacy.Skip
		}
		for _, f := range append(m.Fields(), m.ClearedFields()...) {
			if !PatientReadMarkFields[f] {
				return privacy.Denyf("a patient may not change a conversation's %s", f)
			}
		}
		if len(m.AddedEdges()) > 0 || len(m.RemovedEdges()) > 0 || len(m.ClearedEdges()) > 0 {
			return privacy.Denyf("a patient may not change a conversation's members")
		}
		m.Where(channel.KindEQ(channel.KindPATIENT), channel.PatientID(v.PatientID))
		return privacy.Allow
	})
}

// FilterSecurityGroupsForPatients finds no security group for a portal
// patient (they see staff by name and job title only), rather than denying:
// a staff member's groups loaded with a message a patient reads are an
// empty list, never an error that voids the message.
func FilterSecurityGroupsForPatients() privacy.QueryRule {
	return privacy.SecurityGroupQueryRuleFunc(func(ctx context.Context, q *ent.SecurityGroupQuery) error {
		if !PortalPatient.Holds(viewer.FromContext(ctx)) {
			return privacy.Skip
		}
		q.Where(securitygroup.IDIn())
		return allowNoSecurityGroups
	})
}

// Who gives and takes away portal access (SPEC §12).
var (
	// PortalInviter: may invite a patient to the portal (invitePatient): the
	// care team (ACCESS_WHISPER), who see the patient and hear how they want
	// to be reached.
	PortalInviter = Predicate{"PortalInviter", "inviting a patient to the portal needs ACCESS_WHISPER", func(v *viewer.Viewer) bool {
		return Messaging.holds(v)
	}}

	// PortalRevoker: may take a patient's portal access away
	// (revokePatientPortalAccess): the care team, and directory managers,
	// who manage who may sign in.
	PortalRevoker = Predicate{"PortalRevoker", "revoking a patient's portal access needs ACCESS_WHISPER or DIRECTORY_MANAGE", func(v *viewer.Viewer) bool {
		return Messaging.holds(v) || DirectoryManager.holds(v)
	}}
)

// AllowIfPortalInvitation lets a PortalInviter create a portal invitation
// link (a PATIENT_INVITATION token for a patient) and no other kind of
// link: staff invitations and resets stay the directory managers' and the
// directory worker's.
func AllowIfPortalInvitation() privacy.MutationRule {
	return privacy.UserTokenMutationRuleFunc(func(ctx context.Context, m *ent.UserTokenMutation) error {
		if !PortalInviter.Holds(viewer.FromContext(ctx)) || !m.Op().Is(ent.OpCreate) {
			return privacy.Skip
		}
		purpose, _ := m.Purpose()
		_, forPatient := m.PatientID()
		uid, _ := m.UserID()
		if purpose != usertoken.PurposePATIENT_INVITATION || !forPatient || uid != "" {
			return privacy.Denyf("the care team issues portal invitations only")
		}
		return privacy.Allow
	})
}

// portalAccessFields are the patient columns revoking portal access
// changes: the portal password, and the update time.
var portalAccessFields = map[string]bool{
	patient.FieldPortalPasswordHash: true,
	patient.FieldUpdatedAt:          true,
}

// AllowIfPortalAccessRemoved lets a PortalRevoker remove a patient's portal
// password and change nothing else of the record (the practice system owns
// it).
func AllowIfPortalAccessRemoved() privacy.MutationRule {
	return privacy.PatientMutationRuleFunc(func(ctx context.Context, m *ent.PatientMutation) error {
		if !PortalRevoker.Holds(viewer.FromContext(ctx)) || !m.Op().Is(ent.OpUpdateOne) {
			return privacy.Skip
		}
		if !m.PortalPasswordHashCleared() {
			return privacy.Skip
		}
		for _, f := range append(m.Fields(), m.ClearedFields()...) {
			if !portalAccessFields[f] {
				return privacy.Skip
			}
		}
		if len(m.AddedEdges()) > 0 || len(m.RemovedEdges()) > 0 || len(m.ClearedEdges()) > 0 {
			return privacy.Skip
		}
		return privacy.Allow
	})
}

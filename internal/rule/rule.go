// Package rule owns Whisper's access rules: named ent privacy rules that the
// schemas compose into policies, so every read and write of every row —
// whether through a resolver, node(id:) or an edge — is decided in one place.
package rule

import (
	"context"

	"entgo.io/ent/entql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/label"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/predicate"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/ent/session"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/viewer"
)

// DenyIfNoViewer denies any query or mutation from a context with no viewer:
// nothing is readable anonymously.
func DenyIfNoViewer() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx) == nil {
			return privacy.Denyf("no viewer in context")
		}
		return privacy.Skip
	})
}

// DenyIfObserving denies every write from an observation context: observing
// a user is read-only at the data layer, whatever the resolver does.
func DenyIfObserving() privacy.MutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if v := viewer.FromContext(ctx); v != nil && v.ObservedBy != "" {
			return privacy.Denyf("observing is read-only")
		}
		return privacy.Skip
	})
}

// AllowIfSystem allows background workers and bootstrap steps that run with
// a system viewer (see viewer.NewSystemContext).
func AllowIfSystem() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if Worker.Holds(viewer.FromContext(ctx)) {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// FilterUsersToSelf lets any signed-in user or service account read its own
// user row (and only that, unless an earlier rule allowed more).
func FilterUsersToSelf() privacy.QueryRule {
	return privacy.UserQueryRuleFunc(func(ctx context.Context, q *ent.UserQuery) error {
		v := viewer.FromContext(ctx)
		if !Account.Holds(v) {
			return privacy.Skip
		}
		q.Where(user.ID(v.UserID))
		return allowOwnUser
	})
}

// SelfEditableUserFields are the only columns a user may change on their
// own row: their preferences and their auto-replies. Name, email, mobile,
// permissions, groups, the active flag and the password are the
// directory's (DIRECTORY_MANAGE) or the sign-in worker's.
var SelfEditableUserFields = map[string]bool{
	user.FieldOpenOnNewMessage:      true,
	user.FieldKeepHidden:            true,
	user.FieldNeverReceiveDirect:    true,
	user.FieldOpenOnStartup:         true,
	user.FieldPatientArrivedAlerts:  true,
	user.FieldStaffAutoReply:        true,
	user.FieldStaffAutoReplyUntil:   true,
	user.FieldPatientAutoReply:      true,
	user.FieldPatientAutoReplyUntil: true,
	user.FieldUpdatedAt:             true,
}

// AllowIfSelfUpdate lets a member of staff with messaging (their
// preferences are messaging preferences) update their own row, and only the
// fields SelfEditableUserFields names (set or cleared), no edge.
func AllowIfSelfUpdate() privacy.MutationRule {
	return privacy.UserMutationRuleFunc(func(ctx context.Context, m *ent.UserMutation) error {
		v := viewer.FromContext(ctx)
		id, ok := m.ID()
		if !Messaging.Holds(v) || !ok || !m.Op().Is(ent.OpUpdateOne) || id != v.UserID {
			return privacy.Skip
		}
		for _, f := range append(m.Fields(), m.ClearedFields()...) {
			if !SelfEditableUserFields[f] {
				return privacy.Denyf("a user may not change their own %s", f)
			}
		}
		if len(m.AddedEdges()) > 0 || len(m.RemovedEdges()) > 0 || len(m.ClearedEdges()) > 0 {
			return privacy.Denyf("a user may not change their own memberships")
		}
		return privacy.Allow
	})
}

// FilterSessionsToOwner lets a user read only their own sessions.
func FilterSessionsToOwner() privacy.QueryRule {
	return privacy.SessionQueryRuleFunc(func(ctx context.Context, q *ent.SessionQuery) error {
		v := viewer.FromContext(ctx)
		if !Account.Holds(v) {
			return privacy.Skip
		}
		q.Where(session.UserID(v.UserID))
		return allowOwnSessions
	})
}

// AllowIfOwnSessionUpdate lets a user revoke one of their own sessions.
func AllowIfOwnSessionUpdate() privacy.MutationRule {
	return privacy.SessionMutationRuleFunc(func(ctx context.Context, m *ent.SessionMutation) error {
		v := viewer.FromContext(ctx)
		id, ok := m.ID()
		if !Account.Holds(v) || !ok || !m.Op().Is(ent.OpUpdateOne) {
			return privacy.Skip
		}
		own, err := m.Client().Session.Query().Where(session.ID(id), session.UserID(v.UserID)).Exist(ctx)
		if err != nil {
			return privacy.Denyf("checking session owner: %v", err)
		}
		if own {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// FilterPatientsToSelf lets a portal patient read only their own record.
func FilterPatientsToSelf() privacy.QueryRule {
	return privacy.FilterFunc(func(ctx context.Context, f privacy.Filter) error {
		v := viewer.FromContext(ctx)
		if !PortalPatient.Holds(v) {
			return privacy.Skip
		}
		pf, ok := f.(*ent.PatientFilter)
		if !ok {
			return privacy.Denyf("unexpected filter %T", f)
		}
		pf.WhereID(entql.StringEQ(string(v.PatientID)))
		return allowOwnPatientRecord
	})
}

// VisibleChannels is the predicate "the viewer may read this channel": staff
// see the channels they are members of and, with ACCESS_WHISPER, every
// patient conversation (the care team shares them); a portal patient sees
// only their own patient conversations; a service account sees none (the
// integration surface has no messages). It returns false when the viewer can
// see no channel at all.
//
// Predicates inside HasXWith do not pass through X's privacy policy (ent
// #2957); here that is intended: the membership table is consulted as data.
func VisibleChannels(v *viewer.Viewer) (predicate.Channel, bool) {
	switch {
	case PortalPatient.Holds(v):
		return channel.And(channel.KindEQ(channel.KindPATIENT), channel.PatientID(v.PatientID)), true
	case Messaging.Holds(v):
		return channel.Or(
			channel.HasMembershipsWith(channelmember.UserID(v.UserID)),
			channel.KindEQ(channel.KindPATIENT),
		), true
	case StaffUser.Holds(v):
		// Staff who lost ACCESS_WHISPER read nothing new: their
		// memberships are removed with the group that gave it.
		return channel.HasMembershipsWith(channelmember.UserID(v.UserID)), true
	}
	return nil, false
}

// FilterChannelsToVisible limits channel reads to VisibleChannels.
func FilterChannelsToVisible() privacy.QueryRule {
	return privacy.ChannelQueryRuleFunc(func(ctx context.Context, q *ent.ChannelQuery) error {
		p, ok := VisibleChannels(viewer.FromContext(ctx))
		if !ok {
			// Filtered to nothing rather than denied: a channel this viewer
			// may not see is as missing as one that does not exist.
			p = channel.IDIn()
		}
		q.Where(p)
		return allowVisibleChannels
	})
}

// FilterMessagesToVisible limits message reads to visible channels.
func FilterMessagesToVisible() privacy.QueryRule {
	return privacy.MessageQueryRuleFunc(func(ctx context.Context, q *ent.MessageQuery) error {
		p, ok := VisibleChannels(viewer.FromContext(ctx))
		if !ok {
			p = channel.IDIn()
		}
		q.Where(message.HasChannelWith(p))
		return allowVisibleMessages
	})
}

// FilterMembershipsToVisible limits membership reads to visible channels.
func FilterMembershipsToVisible() privacy.QueryRule {
	return privacy.ChannelMemberQueryRuleFunc(func(ctx context.Context, q *ent.ChannelMemberQuery) error {
		p, ok := VisibleChannels(viewer.FromContext(ctx))
		if !ok {
			p = channel.IDIn()
		}
		q.Where(channelmember.HasChannelWith(p))
		return allowVisibleMemberships
	})
}

// FilterLabelsToOwner limits label reads to the viewer's own labels.
func FilterLabelsToOwner() privacy.QueryRule {
	return privacy.LabelQueryRuleFunc(func(ctx context.Context, q *ent.LabelQuery) error {
		v := viewer.FromContext(ctx)
		if !StaffUser.Holds(v) {
			// Only staff have labels; anyone else finds none.
			q.Where(label.IDIn())
			return allowNoLabels
		}
		q.Where(label.OwnerID(v.UserID))
		return allowOwnLabels
	})
}

// AllowIfLabelOwner lets a user create, rename and delete their own labels.
func AllowIfLabelOwner() privacy.MutationRule {
	return privacy.LabelMutationRuleFunc(func(ctx context.Context, m *ent.LabelMutation) error {
		v := viewer.FromContext(ctx)
		if !StaffUser.Holds(v) {
			return privacy.Skip
		}
		if m.Op().Is(ent.OpCreate) {
			if owner, ok := m.OwnerID(); ok && owner == v.UserID {
				return privacy.Allow
			}
			return privacy.Skip
		}
		// Updates and deletes are narrowed to the viewer's own labels, so a
		// foreign label id simply matches nothing.
		m.Where(label.OwnerID(v.UserID))
		return privacy.Allow
	})
}

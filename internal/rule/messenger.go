package rule

import (
	"context"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// isMember reports whether the viewer is a member of channel id. It reads
// through the caller's client, so inside a transaction it sees the
// transaction's own writes (a channel opened a moment ago).
func isMember(ctx context.Context, c *ent.Client, v *viewer.Viewer, id pulid.ID) (bool, error) {
	return c.ChannelMember.Query().
		Where(channelmember.ChannelID(id), channelmember.UserID(v.UserID)).
		Exist(ctx)
}

// AllowIfOpeningConversation lets staff with ACCESS_WHISPER create the
// conversations they may open: individual channels, custom groups and patient
// conversations.
func AllowIfOpeningConversation() privacy.MutationRule {
	return privacy.ChannelMutationRuleFunc(func(ctx context.Context, m *ent.ChannelMutation) error {
		v := viewer.FromContext(ctx)
		if !m.Op().Is(ent.OpCreate) || !Messaging.Holds(v) {
			return privacy.Skip
		}
		switch k, _ := m.Kind(); k {
		case channel.KindINDIVIDUAL, channel.KindCUSTOM_GROUP, channel.KindPATIENT:
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// AllowIfChannelMemberUpdate lets a member update a channel they are in (its
// counters when they post, a custom group's name and make-up). The update is
// narrowed to such channels, so any other channel id matches nothing.
func AllowIfChannelMemberUpdate() privacy.MutationRule {
	return privacy.ChannelMutationRuleFunc(func(ctx context.Context, m *ent.ChannelMutation) error {
		v := viewer.FromContext(ctx)
		if !Messaging.Holds(v) || !m.Op().Is(ent.OpUpdate|ent.OpUpdateOne) {
			return privacy.Skip
		}
		m.Where(channel.HasMembershipsWith(channelmember.UserID(v.UserID)))
		return privacy.Allow
	})
}

// AllowMembershipChangesByMembers decides membership writes by staff:
// adding members to a channel the viewer is in (or themself to a channel
// they are opening), moving their own read mark, and removing members from
// custom groups the viewer is in.
func AllowMembershipChangesByMembers() privacy.MutationRule {
	return privacy.ChannelMemberMutationRuleFunc(func(ctx context.Context, m *ent.ChannelMemberMutation) error {
		v := viewer.FromContext(ctx)
		if !Messaging.Holds(v) {
			return privacy.Skip
		}
		switch {
		case m.Op().Is(ent.OpCreate):
			chID, _ := m.ChannelID()
			if uid, _ := m.UserID(); uid == v.UserID {
				// The care team shares patient conversations: a staff
				// member joins one (to keep their read mark) by posting or
				// reading in it.
				shared, err := m.Client().Channel.Query().
					Where(channel.ID(chID), channel.KindEQ(channel.KindPATIENT)).
					Exist(ctx)
				if err != nil {
					return privacy.Denyf("checking channel kind: %v", err)
				}
				if shared {
					return privacy.Allow
				}
				// The opener of a new conversation joins it first: allowed
				// only while the channel has no members at all.
				taken, err := m.Client().ChannelMember.Query().Where(channelmember.ChannelID(chID)).Exist(privacy.DecisionContext(ctx, privacy.Allow))
				if err != nil {
					return privacy.Denyf("checking membership: %v", err)
				}
				if !taken {
					return privacy.Allow
				}
			}
			ok, err := isMember(ctx, m.Client(), v, chID)
			if err != nil {
				return privacy.Denyf("checking membership: %v", err)
			}
			if !ok {
				return privacy.Denyf("only members add members")
			}
			// Members add people to custom groups; an individual channel
			// takes its second member once, when it is opened.
			ch, err := m.Client().Channel.Get(ctx, chID)
			if err != nil {
				return privacy.Denyf("reading channel: %v", err)
			}
			switch ch.Kind {
			case channel.KindCUSTOM_GROUP:
				return privacy.Allow
			case channel.KindINDIVIDUAL:
				n, err := m.Client().ChannelMember.Query().Where(channelmember.ChannelID(chID)).
					Count(privacy.DecisionContext(ctx, privacy.Allow))
				if err != nil {
					return privacy.Denyf("counting members: %v", err)
				}
				if n < 2 {
					return privacy.Allow
				}
			}
			return privacy.Denyf("members cannot be added to a %s channel", ch.Kind)
		case m.Op().Is(ent.OpUpdate | ent.OpUpdateOne):
			m.Where(channelmember.UserID(v.UserID))
			return privacy.Allow
		case m.Op().Is(ent.OpDelete | ent.OpDeleteOne):
			m.Where(channelmember.HasChannelWith(
				channel.KindEQ(channel.KindCUSTOM_GROUP),
				channel.HasMembershipsWith(channelmember.UserID(v.UserID)),
			))
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// AllowIfMemberPosts lets a member post in a channel they belong to, as
// themself, or a system notice (no sender) of a change they made there.
func AllowIfMemberPosts() privacy.MutationRule {
	return privacy.MessageMutationRuleFunc(func(ctx context.Context, m *ent.MessageMutation) error {
		v := viewer.FromContext(ctx)
		if !Messaging.Holds(v) || !m.Op().Is(ent.OpCreate) {
			return privacy.Skip
		}
		sender, hasSender := m.SenderID()
		kind, _ := m.Kind()
		switch {
		case hasSender && sender == v.UserID && kind != message.KindSYSTEM:
		case !hasSender && kind == message.KindSYSTEM:
		default:
			return privacy.Denyf("a member posts only as themself")
		}
		chID, _ := m.ChannelID()
		member, chKind := false, channel.Kind("")
		if l, ok := ctx.Value(lockedMemberKey{}).(lockedMember); ok && l.channel == chID && l.user == v.UserID {
			// The send's statement found the membership under the
			// channel's row lock, current (see WithLockedMembership).
			member, chKind = true, l.kind
		} else {
			// One statement, after the send's UPDATE holds the channel's
			// row lock: the channel's kind if the viewer is a member. (The
			// UPDATE's own membership check ran on a snapshot from before
			// it waited for the lock, so a removal committed meanwhile is
			// seen only here.) Plain SQL ($n placeholders bind on both
			// databases): building it with ent cost ten times what running
			// it does.
			var err error
			if member, chKind, err = memberOf(ctx, m.Client(), chID, v.UserID); err != nil {
				return privacy.Denyf("checking membership: %v", err)
			}
		}
		if !member {
			return privacy.Denyf("not a member of the channel")
		}
		if kind != message.KindSYSTEM {
			if err := PostIn(v, chKind); err != nil {
				return privacy.Denyf("%v", err)
			}
		}
		return privacy.Allow
	})
}

// lockedMemberKey is the context key of a lockedMember.
type lockedMemberKey struct{}

// lockedMember is a membership a message write established under its
// channel's row lock (see WithLockedMembership).
type lockedMember struct {
	channel, user pulid.ID
	kind          channel.Kind
}

// WithLockedMembership returns ctx for the message writes of a transaction
// that holds channelID's row lock and has found, under it, that user is a
// member of the channel (of kind) as of the lock: on PostgreSQL, by a
// statement whose membership check ran on a snapshot that no membership
// change of the channel committed after — the channel's member_version,
// which every change of its members raises in the change's own
// transaction, is the same in the statement's snapshot as in the row it
// locked; on SQLite, by a statement of a transaction that holds the write
// lock. The membership then stays as it is until the transaction ends: a
// change must raise member_version, so it waits for the row lock (on
// SQLite, for the writer). AllowIfMemberPosts takes that finding for
// (channelID, user) instead of reading the membership again; anywhere
// else, and for anyone else, it reads it.
func WithLockedMembership(ctx context.Context, channelID, user pulid.ID, kind channel.Kind) context.Context {
	return context.WithValue(ctx, lockedMemberKey{}, lockedMember{channel: channelID, user: user, kind: kind})
}

// memberOf reports whether user is a member of channel id, and the
// channel's kind, in one statement.
func memberOf(ctx context.Context, c *ent.Client, id, user pulid.ID) (bool, channel.Kind, error) {
	rows, err := c.QueryContext(ctx, "SELECT c.kind FROM channel_members m JOIN channels c ON c.id = m.channel_id "+
		"WHERE m.channel_id = $1 AND m.user_id = $2", string(id), string(user))
	if err != nil {
		return false, "", err
	}
	defer rows.Close()
	var kind string
	found := rows.Next()
	if found {
		if err := rows.Scan(&kind); err != nil {
			return false, "", err
		}
	}
	if err := rows.Err(); err != nil {
		return false, "", err
	}
	return found, channel.Kind(kind), rows.Close()
}

// AllowIfQueuingOwnMessage lets a sender queue the SMS copy of a message
// they have just sent, in the same transaction.
func AllowIfQueuingOwnMessage() privacy.MutationRule {
	return privacy.OutboxMessageMutationRuleFunc(func(ctx context.Context, m *ent.OutboxMessageMutation) error {
		v := viewer.FromContext(ctx)
		cause, ok := m.CauseMessageID()
		if !Messaging.Holds(v) || !ok || !m.Op().Is(ent.OpCreate) {
			return privacy.Skip
		}
		own, err := m.Client().Message.Query().Where(message.ID(cause), message.SenderID(v.UserID)).Exist(ctx)
		if err != nil {
			return privacy.Denyf("checking message sender: %v", err)
		}
		if own {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// AllowIfPatientPosts lets a portal patient post in their own patient
// conversation, as themself: a USER message with senderPatient set to them
// and no staff sender. The channel is read as the patient, so any other
// channel is not found and the post is denied.
func AllowIfPatientPosts() privacy.MutationRule {
	return privacy.MessageMutationRuleFunc(func(ctx context.Context, m *ent.MessageMutation) error {
		v := viewer.FromContext(ctx)
		if !PortalPatient.Holds(v) || !m.Op().Is(ent.OpCreate) {
			return privacy.Skip
		}
		_, hasSender := m.SenderID()
		sp, _ := m.SenderPatientID()
		if kind, _ := m.Kind(); hasSender || sp != v.PatientID || kind != message.KindUSER {
			return privacy.Denyf("a patient posts only as themself")
		}
		chID, _ := m.ChannelID()
		own, err := m.Client().Channel.Query().
			Where(channel.ID(chID), channel.KindEQ(channel.KindPATIENT), channel.PatientID(v.PatientID)).
			Exist(ctx)
		if err != nil {
			return privacy.Denyf("checking channel: %v", err)
		}
		if !own {
			return privacy.Denyf("not the patient's conversation")
		}
		return privacy.Allow
	})
}

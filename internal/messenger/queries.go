package messenger

import (
	"context"
	"encoding/base64"
	"fmt"
	"github.com/whisper-health/whisper/internal/rule"
	"strconv"
	"strings"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// ListFilter narrows the channel list.
type ListFilter struct {
	Kinds         []channel.Kind
	Search        string
	IncludeHidden bool
	UnreadOnly    bool
	// Load names what the caller will read of every listed channel, so it
	// is loaded for the whole page with one statement each instead of one
	// per channel.
	Load ListLoad
}

// ListLoad names the computed parts of listed channels to load with the page.
type ListLoad struct {
	// Counterpart is the other person of individual channels (also their name).
	Counterpart bool
	// LastMessage is each channel's newest message.
	LastMessage bool
	// SecurityGroup is the security group a group channel follows.
	SecurityGroup bool
}

// Names of the eager-loaded edges Counterpart and LastMessage read.
const (
	counterpartEdge = "whisper_counterpart"
	lastMessageEdge = "whisper_last_message"
)

// ChannelList returns the query of the viewer's channel list: channels they
// are a member of that have unread messages or recent activity (or all, with
// IncludeHidden), with the viewer's own membership loaded for unreadCount.
// It never counts messages: unread is last_seq minus the read mark.
func (s *Service) ChannelList(ctx context.Context, f ListFilter) (*ent.ChannelQuery, error) {
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := s.now().Add(-s.cfg.HideAfter)
	uid := string(v.UserID)
	// channels.id IN (SELECT m.channel_id FROM channel_members m JOIN channels c …)
	listed := func(sel *entsql.Selector) {
		m := entsql.Table(channelmember.Table).As("lm")
		c := entsql.Table(channel.Table).As("lc")
		conds := []*entsql.Predicate{entsql.EQ(m.C(channelmember.FieldUserID), uid)}
		unread := entsql.ColumnsLT(m.C(channelmember.FieldLastReadSeq), c.C(channel.FieldLastSeq))
		switch {
		case f.UnreadOnly:
			conds = append(conds, unread)
		case !f.IncludeHidden:
			conds = append(conds, entsql.Or(unread, entsql.GTE(c.C(channel.FieldLastActivityAt), cutoff)))
		}
		sub := entsql.Select(m.C(channelmember.FieldChannelID)).From(m).
			Join(c).On(c.C(channel.FieldID), m.C(channelmember.FieldChannelID)).
			Where(entsql.And(conds...))
		sel.Where(entsql.In(sel.C(channel.FieldID), sub))
	}
	q := s.client.Channel.Query().
		Where(listed).
		WithMemberships(func(q *ent.ChannelMemberQuery) { q.Where(channelmember.UserID(v.UserID)) })
	if f.Load.Counterpart {
		q.WithNamedMemberships(counterpartEdge, func(q *ent.ChannelMemberQuery) {
			q.Where(channelmember.UserIDNEQ(v.UserID),
				channelmember.HasChannelWith(channel.KindEQ(channel.KindINDIVIDUAL))).
				WithUser()
		})
	}
	if f.Load.LastMessage {
		withLastMessage(q)
	}
	if f.Load.SecurityGroup {
		q.WithSecurityGroup()
	}
	if len(f.Kinds) > 0 {
		q.Where(channel.KindIn(f.Kinds...))
	}
	if term := strings.TrimSpace(f.Search); term != "" {
		q.Where(channel.Or(
			channel.NameContainsFold(term),
			channel.And(
				channel.KindEQ(channel.KindINDIVIDUAL),
				channel.HasMembersWith(user.NameContainsFold(term), user.IDNEQ(v.UserID)),
			),
		))
	}
	return q, nil
}

// withLastMessage loads each channel's newest message with the page, in one
// statement.
func withLastMessage(q *ent.ChannelQuery) {
	q.WithNamedMessages(lastMessageEdge, func(q *ent.MessageQuery) {
		q.Where(func(sel *entsql.Selector) {
			c := entsql.Table(channel.Table).As("lmc")
			sel.Where(entsql.Exists(entsql.Select(c.C(channel.FieldID)).From(c).Where(entsql.And(
				entsql.ColumnsEQ(c.C(channel.FieldID), sel.C(message.FieldChannelID)),
				entsql.ColumnsEQ(c.C(channel.FieldLastSeq), sel.C(message.FieldSeq)),
			))))
		})
	})
}

// Unread is how many messages of ch the viewer has not read: the channel's
// last sequence number minus the viewer's read mark.
func (s *Service) Unread(ctx context.Context, ch *ent.Channel) (int, error) {
	v := viewer.FromContext(ctx)
	if rule.PortalPatient.Holds(v) {
		// One patient per conversation: their mark is on the channel.
		return int(max(ch.LastSeq-ch.PatientReadSeq, 0)), nil
	}
	if !rule.Account.Holds(v) {
		return 0, nil
	}
	var mark *ent.ChannelMember
	if ms, err := ch.Edges.MembershipsOrErr(); err == nil {
		// Loaded by ChannelList already narrowed to the listing user (the
		// viewer, or the user an administrator observes).
		if len(ms) > 0 {
			mark = ms[0]
		}
	} else {
		m, err := s.client.ChannelMember.Query().
			Where(channelmember.ChannelID(ch.ID), channelmember.UserID(v.UserID)).
			Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return 0, err
		}
		mark = m
	}
	if mark == nil {
		if ch.Kind == channel.KindPATIENT && rule.Messaging.Holds(v) {
			// A care-team member who has never opened it has read nothing.
			return int(ch.LastSeq), nil
		}
		return 0, nil
	}
	return int(max(ch.LastSeq-mark.LastReadSeq, 0)), nil
}

// Name is what the viewer calls ch.
func (s *Service) Name(ctx context.Context, ch *ent.Channel) (string, error) {
	switch ch.Kind {
	case channel.KindINDIVIDUAL:
		u, err := s.Counterpart(ctx, ch)
		if err != nil || u == nil {
			return "Conversation", err
		}
		return u.Name, nil
	case channel.KindALERT:
		return orDefault(ch.Name, "Alerts"), nil
	case channel.KindARRIVAL:
		return orDefault(ch.Name, "Patient arrivals"), nil
	case channel.KindPATIENT:
		if ch.Topic != nil {
			return *ch.Topic, nil
		}
	}
	return orDefault(ch.Name, "Conversation"), nil
}

// Counterpart is the other person of an individual channel.
func (s *Service) Counterpart(ctx context.Context, ch *ent.Channel) (*ent.User, error) {
	v := viewer.FromContext(ctx)
	if ch.Kind != channel.KindINDIVIDUAL || v == nil {
		return nil, nil
	}
	if ms, err := ch.NamedMemberships(counterpartEdge); err == nil {
		// Loaded with the channel list page, already without the viewer.
		for _, m := range ms {
			if u, err := m.Edges.UserOrErr(); err == nil && m.UserID != v.UserID {
				return u, nil
			}
		}
		return nil, nil
	}
	u, err := ch.QueryMembers().Where(user.IDNEQ(v.UserID)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return u, err
}

// LastMessage is the newest message of ch.
func (s *Service) LastMessage(ctx context.Context, ch *ent.Channel) (*ent.Message, error) {
	if ch.LastSeq == 0 {
		return nil, nil
	}
	if ms, err := ch.NamedMessages(lastMessageEdge); err == nil {
		// Loaded with the channel list page.
		for _, m := range ms {
			if m.Seq == ch.LastSeq {
				return m, nil
			}
		}
		return nil, nil
	}
	m, err := s.client.Message.Query().Where(message.ChannelID(ch.ID), message.Seq(ch.LastSeq)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return m, err
}

// Messages returns the query of a channel's messages, after checking the
// viewer can see the channel (NOT_FOUND otherwise).
func (s *Service) Messages(ctx context.Context, channelID pulid.ID) (*ent.MessageQuery, error) {
	if _, err := s.client.Channel.Get(ctx, channelID); err != nil {
		return nil, err
	}
	return s.client.Message.Query().Where(message.ChannelID(channelID)), nil
}

// Notify reports whether the viewer's client should raise a notification
// for m: not for their own messages, and not with keep hidden on; with
// never receive on, only alerts notify. A portal patient is notified of
// every message in their conversations but their own.
func (s *Service) Notify(ctx context.Context, m *ent.Message) (bool, error) {
	v := viewer.FromContext(ctx)
	if rule.PortalPatient.Holds(v) {
		// A patient is told of every message in their conversations but
		// their own; they have no messenger preferences.
		return m.SenderPatientID == nil || *m.SenderPatientID != v.PatientID, nil
	}
	if !rule.Account.Holds(v) || (m.SenderID != nil && *m.SenderID == v.UserID) {
		return false, nil
	}
	u, err := s.client.User.Get(ctx, v.UserID)
	if err != nil {
		return false, err
	}
	switch {
	case u.KeepHidden:
		return false, nil
	case u.NeverReceiveDirect:
		return m.Kind == message.KindALERT, nil
	}
	return true, nil
}

// Cursor is a message's position in the live stream: its writing
// transaction, then its channel and sequence number. See internal/live.
type Cursor struct {
	TxID    int64
	Channel pulid.ID
	Seq     int64
}

// CursorOf returns m's cursor.
func CursorOf(m *ent.Message) Cursor { return Cursor{TxID: m.Txid, Channel: m.ChannelID, Seq: m.Seq} }

// String encodes the cursor for clients (opaque).
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%s:%d", c.TxID, c.Channel, c.Seq))
}

// Less orders cursors as the stream does.
func (c Cursor) Less(o Cursor) bool {
	if c.TxID != o.TxID {
		return c.TxID < o.TxID
	}
	if c.Channel != o.Channel {
		return c.Channel < o.Channel
	}
	return c.Seq < o.Seq
}

// PageCursor is a message's one client cursor (Message.cursor): the cursor
// of its edge in a channel's messages, which are ordered by seq, so
// messages(after:/before:) take it as it is. messageAdded(after:) reads the
// message's stream position from it (Position).
func PageCursor(m *ent.Message) ent.Cursor { return ent.Cursor{ID: m.ID, Value: m.Seq} }

// ClientCursor is PageCursor as the string clients see.
func ClientCursor(m *ent.Message) string {
	var b strings.Builder
	PageCursor(m).MarshalGQL(&b)
	s, _ := strconv.Unquote(b.String())
	return s
}

// Position reads the message a client's cursor names: Message.cursor (the
// message's edge and pageInfo cursor), or the stream cursor earlier
// versions returned as Message.cursor (txid:channel:seq, still accepted).
// Only where the message sits is read (id, channel, seq, writing
// transaction), never what it says, and with privilege: whoever holds a
// message's cursor saw the message, and a viewer who has since left its
// channel still resumes the stream of their other channels from it; the
// stream and the list apply the viewer's access as always. A string that
// names no message is BAD_USER_INPUT on arg.
func (s *Service) Position(ctx context.Context, arg, cursor string) (*ent.Message, error) {
	invalid := apperr.Invalid(arg, "%s must be the cursor of a message", arg)
	q := s.client.Message.Query().Select(message.FieldID, message.FieldChannelID, message.FieldSeq, message.FieldTxid)
	if c, ok := ParseCursor(cursor); ok {
		q.Where(message.ChannelID(c.Channel), message.Seq(c.Seq))
	} else {
		var pc ent.Cursor
		if err := pc.UnmarshalGQL(cursor); err != nil || !pc.ID.Valid() {
			return nil, invalid
		}
		q.Where(message.ID(pc.ID))
	}
	m, err := q.Only(system(ctx, "the position a client's message cursor names"))
	if ent.IsNotFound(err) {
		return nil, invalid
	}
	return m, err
}

// ParseCursor decodes a cursor from a client.
func ParseCursor(s string) (Cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, false
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 {
		return Cursor{}, false
	}
	tx, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.ParseInt(parts[2], 10, 64)
	ch := pulid.ID(parts[1])
	if err1 != nil || err2 != nil || tx < 0 || seq < 0 || !ch.Valid() {
		return Cursor{}, false
	}
	return Cursor{TxID: tx, Channel: ch, Seq: seq}, true
}

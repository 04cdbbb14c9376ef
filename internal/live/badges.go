package live

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Badge is one unreadBadge event: the viewer's unread totals, read from the
// database as the viewer when the event is delivered (its fields are
// resolved), not when the hub noticed the change — so every Channel it
// carries has today's unreadCount and lastMessage, and a normalised client
// cache is never overwritten with stale values.
type Badge struct {
	read func(context.Context) (*BadgeCounts, error)

	once   sync.Once
	counts *BadgeCounts
	err    error
}

// BadgeCounts is what a Badge says.
type BadgeCounts struct {
	// Total is unread messages plus unacknowledged notifications.
	Total    int
	Channels []ChannelUnread
	// Notifications counts unacknowledged notifications per kind.
	Notifications map[string]int
}

// Counts reads the badge's figures (once per event) as ctx's viewer.
func (b *Badge) Counts(ctx context.Context) (*BadgeCounts, error) {
	b.once.Do(func() { b.counts, b.err = b.read(ctx) })
	return b.counts, b.err
}

// Total is unread messages plus unacknowledged notifications.
func (b *Badge) Total(ctx context.Context) (int, error) {
	c, err := b.Counts(ctx)
	if err != nil {
		return 0, err
	}
	return c.Total, nil
}

// Channels are the channels with unread messages, each as it is now.
func (b *Badge) Channels(ctx context.Context) ([]*ChannelUnread, error) {
	c, err := b.Counts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*ChannelUnread, len(c.Channels))
	for i := range c.Channels {
		out[i] = &c.Channels[i]
	}
	return out, nil
}

// ChannelUnread is one channel's unread count.
type ChannelUnread struct {
	Channel *ent.Channel
	Unread  int
}

// badgeSub is one unreadBadge subscription. Its state is the viewer's read
// marks and each channel's last sequence number; new messages move it in
// memory, read-mark and membership events reload it from the database. The
// state decides when an event is due; what the event says is read again
// when it is delivered.
type badgeSub struct {
	ctx    context.Context
	client *ent.Client
	viewer *viewer.Viewer
	now    func() time.Time

	mu sync.Mutex
	// state is nil until the first figures are read (at the first event's
	// delivery, or by a reload): they are the starting point, so a new
	// subscription reads the database once, not once to start and again
	// to deliver.
	state map[pulid.ID]*badgeLine
	notes map[string]int
	// missed is set when a message arrived while state was still nil: the
	// first read may have begun before its commit, so another event follows.
	missed bool
	out    chan *Badge
}

type badgeLine struct {
	channel *ent.Channel
	last    int64
	read    int64
}

// Badge streams the viewer's unread totals: now, then after every change.
// The stream is registered before anything is read, so no change is
// missed; its first event, read when it is delivered, is also where its
// state starts (figures).
func (h *Hub) Badge(ctx context.Context) (<-chan *Badge, error) {
	v, err := rule.ConversationParticipant.Check(ctx)
	if err != nil {
		return nil, err
	}
	s := &badgeSub{ctx: ctx, client: h.client, viewer: v, now: h.cfg.Now, out: make(chan *Badge, 1)}
	h.badges.add(&h.mu, principal(v), s, ctx)
	reportReady(ctx)
	s.emit()
	return s.out, nil
}

// reload reads the badge's state again from the database.
func (s *badgeSub) reload() error {
	state, notes, err := s.load(s.ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.state, s.notes = state, notes
	s.mu.Unlock()
	return nil
}

// load reads the viewer's channels with their read marks and the patient
// conversations they see without a membership (badgeChannels), and their
// unacknowledged notifications, as ctx's viewer (the privacy rules decide).
func (s *badgeSub) load(ctx context.Context) (map[pulid.ID]*badgeLine, map[string]int, error) {
	state, err := s.badgeChannels(ctx)
	if err != nil {
		return nil, nil, err
	}
	var counts []struct {
		Kind  string `json:"kind"`
		Count int    `json:"count"`
	}
	err = s.client.Notification.Query().
		Where(notification.AcknowledgedAtIsNil(), notification.DeliverAtLTE(s.now().UTC())).
		GroupBy(notification.FieldKind).
		Aggregate(ent.Count()).
		Scan(ctx, &counts)
	if err != nil {
		return nil, nil, err
	}
	notes := map[string]int{}
	for _, c := range counts {
		notes[c.Kind] = c.Count
	}
	return state, notes, nil
}

// lastReadColumn is the alias of the viewer's read mark in badgeChannels:
// notMember for a channel they are no member of (a read mark is never
// negative; a NULL would leave SQLite's driver without a column type).
const lastReadColumn = "member_last_read_seq"

// notMember is lastReadColumn's value for a channel without the viewer's
// membership.
const notMember = -1

// badgeChannels reads, in one statement, the badge's lines: the channels
// as the viewer (FilterChannelsToVisible decides) that they are a member
// of, each with their read mark from their own membership row, and — for
// the care team and portal patients — the patient conversations they see
// without a membership (see counts and patientLine). The membership is
// joined under the rule memberships are read under
// (FilterMembershipsToVisible: the memberships of visible channels), so
// this yields what a ChannelMember query with its channels and a query of
// the patient conversations would, in one round trip: a connecting
// client's first badge is on the path of every reconnect. (For the care
// team the OR across the join reads the channel table through rather than
// by index; the patient conversations, which they see all of, were read
// in full before too.)
func (s *badgeSub) badgeChannels(ctx context.Context) (map[pulid.ID]*badgeLine, error) {
	patients := rule.Messaging.Holds(s.viewer) || rule.PortalPatient.Holds(s.viewer)
	q := s.client.Channel.Query()
	q.Modify(func(sel *entsql.Selector) {
		cm := entsql.Table(channelmember.Table)
		sel.LeftJoin(cm).OnP(entsql.And(
			entsql.ColumnsEQ(sel.C(channel.FieldID), cm.C(channelmember.FieldChannelID)),
			entsql.EQ(cm.C(channelmember.FieldUserID), string(s.viewer.UserID)),
		))
		mine := entsql.NotNull(cm.C(channelmember.FieldUserID))
		if patients {
			sel.Where(entsql.Or(mine, entsql.EQ(sel.C(channel.FieldKind), channel.KindPATIENT.String())))
		} else {
			sel.Where(mine)
		}
		sel.AppendSelect(entsql.As("COALESCE("+cm.C(channelmember.FieldLastReadSeq)+", "+strconv.Itoa(notMember)+")", lastReadColumn))
	})
	chans, err := q.All(ctx)
	if err != nil {
		return nil, err
	}
	state := make(map[pulid.ID]*badgeLine, len(chans))
	for _, ch := range chans {
		v, err := ch.Value(lastReadColumn)
		if err != nil {
			return nil, err
		}
		read, err := asInt64(v)
		if err != nil {
			return nil, fmt.Errorf("reading the read mark of %s: %w", ch.ID, err)
		}
		if read == notMember {
			// A patient conversation seen without a membership.
			state[ch.ID] = s.patientLine(ch)
			continue
		}
		state[ch.ID] = &badgeLine{channel: ch, last: ch.LastSeq, read: read}
	}
	return state, nil
}

// asInt64 is an integer column read without a declared Go type.
func asInt64(v ent.Value) (int64, error) {
	switch n := v.(type) {
	case int64:
		return n, nil
	case int32:
		return int64(n), nil
	case int:
		return int64(n), nil
	case float64:
		return int64(n), nil
	case []byte:
		return strconv.ParseInt(string(n), 10, 64)
	case string:
		return strconv.ParseInt(n, 10, 64)
	}
	return 0, fmt.Errorf("unexpected %T", v)
}

// message moves the state for a newly released message.
func (s *badgeSub) message(m *ent.Message) {
	s.mu.Lock()
	if s.state == nil {
		// Not started: the first event, read at its delivery, counts m
		// unless its read began before m's commit — then figures emits
		// again once the state is set.
		s.missed = true
		s.mu.Unlock()
		return
	}
	line := s.state[m.ChannelID]
	changed := false
	if line == nil && s.counts(m) {
		// A patient conversation started a moment ago: its line is new
		// (and already counts m, read with the channel), so the badge
		// changed even for a viewer without a channelUpdated stream, whose
		// badge the channel's creation does not reload.
		line = s.patientLine(m.Edges.Channel)
		s.state[m.ChannelID] = line
		changed = true
	}
	if line == nil {
		s.mu.Unlock()
		return // a channel joined a moment ago: the membership event reloads
	}
	if m.Seq > line.last {
		line.last, changed = m.Seq, true
	}
	if ownMessage(s.viewer, m) && m.Seq > line.read {
		line.read, changed = m.Seq, true
	}
	s.mu.Unlock()
	if changed {
		s.emit()
	}
}

// emit offers a badge event, replacing one still unread by the client: a
// badge is a state, only the latest matters, and it is read when delivered.
func (s *badgeSub) emit() {
	b := &Badge{read: s.figures}
	for {
		select {
		case s.out <- b:
			return
		default:
		}
		select {
		case <-s.out:
		default:
		}
	}
}

// figures reads the badge's figures now, as ctx's viewer.
func (s *badgeSub) figures(ctx context.Context) (*BadgeCounts, error) {
	state, notes, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	if s.start(state, notes) {
		s.emit()
	}
	b := &BadgeCounts{Notifications: map[string]int{}}
	for k, n := range notes {
		b.Notifications[k] = n
		b.Total += n
	}
	for _, line := range state {
		if n := int(line.last - line.read); n > 0 {
			b.Total += n
			b.Channels = append(b.Channels, ChannelUnread{Channel: line.channel, Unread: n})
		}
	}
	sort.Slice(b.Channels, func(i, j int) bool { return b.Channels[i].Channel.ID < b.Channels[j].Channel.ID })
	return b, nil
}

// start makes state and notes, read by figures, the subscription's state
// if it has none yet; it reports whether a message arrived before then,
// which may be missing from them (another event is then due, read later).
// The figures are copied: the event keeps its own.
func (s *badgeSub) start(state map[pulid.ID]*badgeLine, notes map[string]int) (again bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != nil {
		return false
	}
	s.state = make(map[pulid.ID]*badgeLine, len(state))
	for id, line := range state {
		l := *line
		s.state[id] = &l
	}
	s.notes = notes
	again, s.missed = s.missed, false
	return again
}

// reloadBadges refreshes a user's badges from the database.
func (h *Hub) reloadBadges(_ context.Context, user pulid.ID) {
	for _, s := range h.badges.of(&h.mu, user) {
		if err := s.reload(); err != nil {
			if s.ctx.Err() == nil {
				h.log.Warn("reloading unread badge", "err", err)
			}
			continue
		}
		s.emit()
	}
}

// reloadAllBadges refreshes every badge (after events may have been lost).
func (h *Hub) reloadAllBadges(ctx context.Context) {
	h.mu.Lock()
	var users []pulid.ID
	for u := range h.badges {
		users = append(users, u)
	}
	h.mu.Unlock()
	for _, u := range users {
		h.reloadBadges(ctx, u)
	}
}

// ChannelEvent is a change to one of the viewer's channels. The channel is
// read as the viewer when the event is delivered, so it is current (and the
// privacy rules decide, per event): one the viewer can no longer see makes
// the event REMOVED, with no channel.
type ChannelEvent struct {
	change string
	id     pulid.ID
	read   func(context.Context, pulid.ID) (*ent.Channel, error) // nil: removed

	once sync.Once
	ch   *ent.Channel
	err  error
}

func (e *ChannelEvent) resolve(ctx context.Context) (*ent.Channel, error) {
	e.once.Do(func() {
		if e.read == nil {
			return
		}
		e.ch, e.err = e.read(ctx, e.id)
		if ent.IsNotFound(e.err) {
			e.ch, e.err = nil, nil
		}
	})
	return e.ch, e.err
}

// Change is the event's type: the change, or REMOVED when the channel is
// gone for the viewer.
func (e *ChannelEvent) Change(ctx context.Context) (string, error) {
	ch, err := e.resolve(ctx)
	switch {
	case err != nil:
		return "", err
	case ch == nil:
		return messenger.Removed, nil
	}
	return e.change, nil
}

// Channel is the channel as it is now; nil when it is gone for the viewer.
func (e *ChannelEvent) Channel(ctx context.Context) (*ent.Channel, error) {
	return e.resolve(ctx)
}

type chanSub struct {
	*feed[*ChannelEvent]
	ctx    context.Context
	viewer *viewer.Viewer
}

// ChannelEvents streams changes to the viewer's channels: created, renamed,
// members changed, and removed-from (with no channel: it is gone for them).
func (h *Hub) ChannelEvents(ctx context.Context) (<-chan *ChannelEvent, error) {
	v, err := rule.ConversationParticipant.Check(ctx)
	if err != nil {
		return nil, err
	}
	s := &chanSub{feed: newFeed[*ChannelEvent](ctx, h.cfg.Buffer), ctx: ctx, viewer: v}
	s.registered(h.chans.add(&h.mu, principal(v), s, ctx))
	reportReady(ctx)
	return s.out, nil
}

// channelChanged tells the affected users' streams about a channel change,
// reloads their badges, and ends (with the reason) the channel's
// single-channel message streams whose viewers may no longer read it.
func (h *Hub) channelChanged(ctx context.Context, ev pubsub.Event) {
	affected := append(slices.Clone(ev.Users), ev.Removed...)
	affected = append(affected, h.patientAudience(ctx, ev.Channel, ev.Change)...)
	slices.Sort(affected)
	affected = slices.Compact(affected)
	var streams []*msgSub
	h.mu.Lock()
	for s := range h.msgs {
		if s.channel != nil && *s.channel == ev.Channel {
			streams = append(streams, s)
		}
	}
	h.mu.Unlock()
	for _, s := range streams {
		h.recheck(ctx, s)
	}
	var subs []*chanSub
	for _, u := range affected {
		subs = append(subs, h.chans.of(&h.mu, u)...)
	}
	for _, s := range subs {
		e := &ChannelEvent{change: ev.Change, id: ev.Channel}
		if !slices.Contains(ev.Removed, s.viewer.UserID) {
			e.read = h.client.Channel.Get
		}
		s.send(e)
	}
	for _, u := range affected {
		h.reloadBadges(ctx, u)
	}
}

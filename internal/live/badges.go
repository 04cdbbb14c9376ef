package live

import (
	"context"
	"github.com/whisper-health/whisper/internal/rule"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Badge is a viewer's unread totals.
type Badge struct {
	// Total is unread messages plus unacknowledged notifications.
	Total    int
	Channels []ChannelUnread
	// Notifications counts unacknowledged notifications per kind.
	Notifications map[string]int
}

// ChannelUnread is one channel's unread count.
type ChannelUnread struct {
	Channel *ent.Channel
	Unread  int
}

// badgeSub is one unreadBadge subscription. Its state is the viewer's read
// marks and each channel's last sequence number; new messages move it in
// memory, read-mark and membership events reload it from the database.
type badgeSub struct {
	ctx    context.Context
	viewer *viewer.Viewer
	now    func() time.Time

	mu    sync.Mutex
	state map[pulid.ID]*badgeLine
	notes map[string]int
	out   chan *Badge
}

type badgeLine struct {
	channel *ent.Channel
	last    int64
	read    int64
}

// Badge streams the viewer's unread totals: now, then after every change.
func (h *Hub) Badge(ctx context.Context) (<-chan *Badge, error) {
	v, err := rule.ConversationParticipant.Check(ctx)
	if err != nil {
		return nil, err
	}
	s := &badgeSub{ctx: ctx, viewer: v, now: h.cfg.Now, out: make(chan *Badge, 1)}
	if err := s.reload(h.client); err != nil {
		return nil, err
	}
	h.badges.add(&h.mu, principal(v), s, ctx.Done())
	reportReady(ctx)
	s.emit()
	return s.out, nil
}

// reload reads the viewer's memberships and their channels, as the viewer.
func (s *badgeSub) reload(client *ent.Client) error {
	ms, err := client.ChannelMember.Query().
		Where(channelmember.UserID(s.viewer.UserID)).
		WithChannel().
		All(s.ctx)
	if err != nil {
		return err
	}
	var counts []struct {
		Kind  string `json:"kind"`
		Count int    `json:"count"`
	}
	err = client.Notification.Query().
		Where(notification.AcknowledgedAtIsNil(), notification.DeliverAtLTE(s.now().UTC())).
		GroupBy(notification.FieldKind).
		Aggregate(ent.Count()).
		Scan(s.ctx, &counts)
	if err != nil {
		return err
	}
	notes := map[string]int{}
	for _, c := range counts {
		notes[c.Kind] = c.Count
	}
	state := map[pulid.ID]*badgeLine{}
	for _, m := range ms {
		if m.Edges.Channel == nil {
			continue
		}
		state[m.ChannelID] = &badgeLine{channel: m.Edges.Channel, last: m.Edges.Channel.LastSeq, read: m.LastReadSeq}
	}
	if err := s.reloadPatientConversations(client, state); err != nil {
		return err
	}
	s.mu.Lock()
	s.state, s.notes = state, notes
	s.mu.Unlock()
	return nil
}

// message moves the state for a newly released message.
func (s *badgeSub) message(m *ent.Message) {
	s.mu.Lock()
	line := s.state[m.ChannelID]
	if line == nil && s.counts(m) {
		// A patient conversation started a moment ago.
		line = s.patientLine(m.Edges.Channel)
		s.state[m.ChannelID] = line
	}
	if line == nil {
		s.mu.Unlock()
		return // a channel joined a moment ago: the membership event reloads
	}
	changed := false
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

// emit offers the current badge, replacing an older one still unread by the
// client: a badge is a state, only the latest matters.
func (s *badgeSub) emit() {
	b := s.badge()
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

func (s *badgeSub) badge() *Badge {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &Badge{Notifications: map[string]int{}}
	for k, n := range s.notes {
		b.Notifications[k] = n
		b.Total += n
	}
	for _, line := range s.state {
		if n := int(line.last - line.read); n > 0 {
			b.Total += n
			b.Channels = append(b.Channels, ChannelUnread{Channel: line.channel, Unread: n})
		}
	}
	sort.Slice(b.Channels, func(i, j int) bool { return b.Channels[i].Channel.ID < b.Channels[j].Channel.ID })
	return b
}

// reloadBadges refreshes a user's badges from the database.
func (h *Hub) reloadBadges(_ context.Context, user pulid.ID) {
	for _, s := range h.badges.of(&h.mu, user) {
		if err := s.reload(h.client); err != nil {
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

// ChannelEvent is a change to one of the viewer's channels.
type ChannelEvent struct {
	Type    string
	Channel *ent.Channel
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
	h.chans.add(&h.mu, principal(v), s, ctx.Done(), s.done)
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
		e := &ChannelEvent{Type: ev.Change}
		if slices.Contains(ev.Removed, s.viewer.UserID) {
			e.Type = messenger.Removed
		} else {
			ch, err := h.client.Channel.Get(s.ctx, ev.Channel)
			switch {
			case ent.IsNotFound(err):
				e.Type = messenger.Removed
			case err != nil:
				continue
			default:
				e.Channel = ch
			}
		}
		s.send(e)
	}
	for _, u := range affected {
		h.reloadBadges(ctx, u)
	}
}

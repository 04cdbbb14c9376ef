package live

import (
	"context"
	"sync"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// msgSub is one messageAdded subscription.
type msgSub struct {
	viewer  *viewer.Viewer
	channel *pulid.ID
	patient bool // may see every patient conversation (care team)

	mu     sync.Mutex
	queue  chan []*ent.Message // one slice per release, so a burst is one entry
	closed bool
	done   chan struct{}
}

// wants decides, per event, whether this subscriber may receive m now: it
// must be in the subscription's channel (if one was named) and the viewer
// must be a member of the channel at release time, or share the channel as
// care team.
func (s *msgSub) wants(m *ent.Message, kind channel.Kind, members map[pulid.ID]bool) bool {
	if s.channel != nil && *s.channel != m.ChannelID {
		return false
	}
	return members[s.viewer.UserID] || (kind == channel.KindPATIENT && s.patient)
}

// push queues one release's messages without ever blocking the hub: a
// subscriber whose queue is full is dropped, and its client resumes from
// its last cursor.
func (s *msgSub) push(batch []*ent.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.queue <- batch:
	default:
		s.closed = true
		close(s.done)
	}
}

// end stops the subscription (removed from its only channel, or too slow).
func (s *msgSub) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// Messages streams the messages the viewer may see — in one channel, or in
// all of theirs — from after the cursor (replaying what was missed, in
// order, once) or from now.
func (h *Hub) Messages(ctx context.Context, channelID *pulid.ID, after *messenger.Cursor) (<-chan *ent.Message, error) {
	v := viewer.FromContext(ctx)
	if !v.IsUser() || !v.Has(viewer.AccessWhisper) {
		return nil, apperr.New(apperr.Forbidden, "you do not have access to messaging (ACCESS_WHISPER)")
	}
	if channelID != nil {
		// A channel the viewer cannot see is NOT_FOUND, as everywhere.
		if _, err := h.client.Channel.Get(ctx, *channelID); err != nil {
			return nil, err
		}
	}
	select {
	case <-h.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s := &msgSub{
		viewer:  v,
		channel: channelID,
		patient: v.Has(viewer.AccessWhisper),
		queue:   make(chan []*ent.Message, h.cfg.Buffer),
		done:    make(chan struct{}),
	}
	h.mu.Lock()
	start := h.pos
	h.msgs[s] = struct{}{}
	h.mu.Unlock()

	out := make(chan *ent.Message)
	go func() {
		defer close(out)
		defer func() {
			h.mu.Lock()
			delete(h.msgs, s)
			h.mu.Unlock()
		}()
		defer func() {
			if r := recover(); r != nil {
				h.log.Error("panic in message stream", "panic", r)
			}
		}()
		if after != nil && after.Less(start) {
			if !h.replay(ctx, s, *after, start, out) {
				return
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.done:
				// Deliver what is queued, then end; the client resumes.
				for {
					select {
					case batch := <-s.queue:
						if !forward(ctx, out, batch) {
							return
						}
					default:
						return
					}
				}
			case batch := <-s.queue:
				if !forward(ctx, out, batch) {
					return
				}
			}
		}
	}()
	return out, nil
}

func forward(ctx context.Context, out chan<- *ent.Message, batch []*ent.Message) bool {
	for _, m := range batch {
		select {
		case out <- m:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// replay sends the messages between after and until that the viewer can
// see, reading as the viewer (so the privacy rules decide), page by page.
func (h *Hub) replay(ctx context.Context, s *msgSub, after, until messenger.Cursor, out chan<- *ent.Message) bool {
	cols := func(sel *entsql.Selector) []string {
		return []string{sel.C(message.FieldTxid), sel.C(message.FieldChannelID), sel.C(message.FieldSeq)}
	}
	from := after
	for {
		q := h.client.Message.Query().
			Where(func(sel *entsql.Selector) {
				sel.Where(entsql.And(
					entsql.CompositeGT(cols(sel), from.TxID, string(from.Channel), from.Seq),
					entsql.Not(entsql.CompositeGT(cols(sel), until.TxID, string(until.Channel), until.Seq)),
				))
			}).
			Order(ent.Asc(message.FieldTxid), ent.Asc(message.FieldChannelID), ent.Asc(message.FieldSeq)).
			WithSender().
			Limit(200)
		if s.channel != nil {
			q.Where(message.ChannelID(*s.channel))
		}
		page, err := q.All(ctx)
		if err != nil {
			h.log.Warn("replaying messages", "err", err)
			return false
		}
		for _, m := range page {
			select {
			case out <- m:
			case <-ctx.Done():
				return false
			}
			from = messenger.CursorOf(m)
		}
		if len(page) < 200 {
			return true
		}
	}
}

package live

import (
	"context"
	"github.com/whisper-health/whisper/internal/rule"

	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// statsSub is one conversationStatsUpdated subscription. Events only kick
// it; its own goroutine recomputes the figures from the channel counters
// (never the messages), so kicks that arrive together cost one statement
// and the values it sends are in order.
type statsSub struct {
	ctx    context.Context
	viewer *viewer.Viewer
	kick   chan struct{}
	out    chan *messenger.Stats
}

// ConversationStats streams the viewer's patient-conversation figures: now,
// then after every patient-conversation message released to the stream
// (after commit) and every read-state change of the viewer.
func (h *Hub) ConversationStats(ctx context.Context) (<-chan *messenger.Stats, error) {
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	s := &statsSub{ctx: ctx, viewer: v, kick: make(chan struct{}, 1), out: make(chan *messenger.Stats, 1)}
	// Registered before the first value is read, so no change falls between.
	h.stats.add(&h.mu, v.UserID, s, ctx)
	first, err := messenger.PatientStats(system(ctx, "compute the care-team viewer's conversation figures"), h.client, h.cfg.Dialect, v.UserID)
	if err != nil {
		return nil, err
	}
	s.out <- first
	go s.run(h)
	reportReady(ctx)
	return s.out, nil
}

// poke asks for a recomputation without ever blocking the hub.
func (s *statsSub) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run recomputes and sends the figures on every kick until the
// subscription ends. The figures are the viewer's own (their read marks
// over the patient conversations every care-team member shares), read
// fresh each time; the socket carrying them ends with the viewer's session.
func (s *statsSub) run(h *Hub) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("panic in conversation stats stream", apperr.PanicAttrs(r)...)
		}
	}()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		}
		st, err := messenger.PatientStats(system(s.ctx, "recompute the care-team viewer's conversation figures"), h.client, h.cfg.Dialect, s.viewer.UserID)
		if err != nil {
			if s.ctx.Err() == nil {
				h.log.Warn("computing conversation stats", "err", err)
			}
			continue
		}
		// Only the latest value matters: replace one the client has not
		// taken yet.
		for sent := false; !sent; {
			select {
			case s.out <- st:
				sent = true
			case <-s.ctx.Done():
				return
			default:
				select {
				case <-s.out:
				default:
				}
			}
		}
	}
}

// pokeStats kicks the stats subscriptions of users (all, when users is nil).
// The caller holds no hub lock.
func (h *Hub) pokeStats(users []pulid.ID) {
	h.mu.Lock()
	var subs []*statsSub
	if users == nil {
		for _, byUser := range h.stats {
			for s := range byUser {
				subs = append(subs, s)
			}
		}
	} else {
		for _, u := range users {
			for s := range h.stats[u] {
				subs = append(subs, s)
			}
		}
	}
	h.mu.Unlock()
	for _, s := range subs {
		s.poke()
	}
}

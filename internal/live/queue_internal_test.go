package live

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
)

// TestMessageQueueDropsAtTheLimit: a messageAdded subscriber may have
// Config.Buffer releases waiting (the queue grows to them on demand, and is
// released once drained); one more ends it with SLOW_CONSUMER, reported
// once.
func TestMessageQueueDropsAtTheLimit(t *testing.T) {
	var behind int
	var ended error
	ctx := OnFellBehind(context.Background(), func() { behind++ })
	ctx = OnEnd(ctx, func(err error) { ended = err })
	s := &msgSub{ctx: ctx, limit: 3}
	for i := range 3 {
		s.push([]*ent.Message{{Seq: int64(i)}})
	}
	if s.closed {
		t.Fatal("dropped with 3 releases waiting, limit 3")
	}
	if cap(s.pending) > 4 {
		t.Errorf("the queue holds room for %d releases with 3 waiting", cap(s.pending))
	}
	s.push([]*ent.Message{{Seq: 3}})
	if !s.closed {
		t.Fatal("not dropped with a 4th release, limit 3")
	}
	if behind != 1 || !errors.Is(ended, ErrSlowConsumer) || s.endReason() != ErrSlowConsumer {
		t.Errorf("fell behind reported %d times, ended with %v (%v); want once, SLOW_CONSUMER", behind, ended, s.endReason())
	}
	for i := range 3 {
		b, ok := s.next()
		if !ok || b[0].Seq != int64(i) {
			t.Fatalf("release %d: %v, %v", i, b, ok)
		}
	}
	if _, ok := s.next(); ok || s.pending != nil {
		t.Errorf("the drained queue still holds %v", s.pending)
	}
}

// TestFeedDropsAtTheLimit: a channelUpdated or notificationAdded stream may
// have Config.Buffer events waiting though only a few fit its channel; one
// more ends it with SLOW_CONSUMER and the stream closes.
func TestFeedDropsAtTheLimit(t *testing.T) {
	var ended error
	ctx, cancel := context.WithCancel(OnEnd(context.Background(), func(err error) { ended = err }))
	defer cancel()
	f := newFeed[int](ctx, 10)
	for i := range 10 {
		f.send(i)
	}
	if ended != nil {
		t.Fatalf("ended with 10 events waiting, limit 10: %v", ended)
	}
	f.send(10)
	if !errors.Is(ended, ErrSlowConsumer) {
		t.Fatalf("11 events waiting, limit 10: ended with %v, want SLOW_CONSUMER", ended)
	}
	// What the channel held still arrives, then the stream closes.
	got := 0
	for v := range f.out {
		if v != got {
			t.Fatalf("event %d arrived as %d", got, v)
		}
		got++
	}
	if got > 10 {
		t.Errorf("%d events delivered after falling behind", got)
	}
}

// TestFeedDeliversInOrderBeyondItsChannel: events beyond the feed's channel
// wait in order and all arrive; a stream ended meanwhile (not for falling
// behind) delivers what waits, then closes.
func TestFeedDeliversInOrderBeyondItsChannel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFeed[int](ctx, 512)
	const n = 300
	for i := range n {
		f.send(i)
	}
	f.end(ErrEventsLost)
	f.send(n) // after the end: not delivered
	got := 0
	timeout := time.After(10 * time.Second)
	for {
		select {
		case v, ok := <-f.out:
			if !ok {
				if got != n {
					t.Fatalf("closed after %d of %d events", got, n)
				}
				return
			}
			if v != got {
				t.Fatalf("event %d arrived as %d", got, v)
			}
			got++
		case <-timeout:
			t.Fatalf("stream neither delivered nor closed (%d of %d)", got, n)
		}
	}
}

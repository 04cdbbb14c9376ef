package live_test

import (
	"context"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// TestOnReadyReportsRegisteredStreams checks that every kind of stream
// reports, once, that it is registered — and that a message sent right
// after that report reaches it — while a refused stream reports nothing.
func TestOnReadyReportsRegisteredStreams(t *testing.T) {
	// An hour-long poll: the message below arrives by its event, not by
	// the safety net.
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour})
	msgr, hub, as := f.msgr, f.hub, f.as
	chen, patel := as(demo.ChenEmail), as(demo.PatelEmail)
	conv, err := msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{viewer.FromContext(patel).UserID}})
	if err != nil {
		t.Fatal(err)
	}
	ready := func(parent context.Context) (context.Context, *int) {
		n := new(int)
		sctx, cancel := context.WithCancel(live.OnReady(parent, func() { *n++ }))
		t.Cleanup(cancel)
		return sctx, n
	}
	streams := []struct {
		name  string
		start func(context.Context) error
	}{
		{"messages", func(c context.Context) error { _, err := hub.Messages(c, nil, nil); return err }},
		{"one channel", func(c context.Context) error { _, err := hub.Messages(c, &conv.ID, nil); return err }},
		{"badge", func(c context.Context) error { _, err := hub.Badge(c); return err }},
		{"channel events", func(c context.Context) error { _, err := hub.ChannelEvents(c); return err }},
		{"notifications", func(c context.Context) error { _, err := hub.Notifications(c, nil); return err }},
		{"conversation stats", func(c context.Context) error { _, err := hub.ConversationStats(c); return err }},
	}
	for _, s := range streams {
		t.Run(s.name, func(t *testing.T) {
			sctx, n := ready(patel)
			if err := s.start(sctx); err != nil {
				t.Fatal(err)
			}
			if *n != 1 {
				t.Errorf("ready called %d times, want once", *n)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		sctx, n := ready(viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Staff, UserID: viewer.FromContext(patel).UserID}))
		if _, err := hub.Messages(sctx, nil, nil); err == nil {
			t.Fatal("a viewer without ACCESS_WHISPER was given a stream")
		}
		if *n != 0 {
			t.Errorf("a refused stream reported ready %d times", *n)
		}
	})
	t.Run("delivers what follows", func(t *testing.T) {
		registered := make(chan struct{})
		sctx, cancel := context.WithCancel(live.OnReady(patel, func() { close(registered) }))
		defer cancel()
		msgs, err := hub.Messages(sctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		<-registered
		if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: conv.ID, Body: "right after ready"}); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-msgs:
			if m.Body != "right after ready" {
				t.Errorf("got %q, want the message sent right after ready", m.Body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a message sent right after ready never arrived")
		}
	})
}

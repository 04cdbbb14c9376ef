package live_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// TestSlowSubscriberIsDroppedNotWaitedFor checks that a subscriber that
// stops reading never holds up senders or other subscribers: its stream
// ends once its queue is full, and it can resume from its last cursor.
func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	f := newLiveFixture(t, live.Config{Buffer: 4, PollInterval: 50 * time.Millisecond})
	msgr, hub, as := f.msgr, f.hub, f.as
	chen, patel := as(demo.ChenEmail), as(demo.PatelEmail)
	patelID := viewer.FromContext(patel).UserID
	conv, err := msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{patelID}})
	if err != nil {
		t.Fatal(err)
	}
	subCtx, cancel := context.WithCancel(patel)
	defer cancel()
	slow, err := hub.Messages(subCtx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := hub.Messages(subCtx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The fast subscriber reads every message; the test sends the next one
	// once it has the last (a reader that keeps up, at any speed of the
	// machine), while the slow one never reads.
	got := make(chan int)
	go func() {
		n := 0
		for range fast {
			n++
			got <- n
		}
	}()
	for i := 0; i < 60; i++ {
		if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: conv.ID, Body: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		select {
		case n := <-got:
			if n != i+1 {
				t.Fatalf("the fast subscriber has %d messages after %d sends", n, i+1)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the fast subscriber was held up by the slow one (got %d of 60)", i)
		}
	}
	// The slow one was dropped when its queue overflowed: it gets at most
	// the message its stream had in hand (none if the stream had not taken
	// one yet), nothing of what was queued, then its stream ends.
	n := 0
	for range slow {
		n++
	}
	if n > 1 {
		t.Errorf("the slow subscriber received %d of 60 once dropped, want at most the one in hand", n)
	}
}

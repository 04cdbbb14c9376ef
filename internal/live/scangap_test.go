package live_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Messages sent in quick succession are read from the stream together: at
// most one catch-up scan per ScanGap while they keep coming (one for the
// first at once), and every message still reaches the subscriber, in order.
func TestABurstOfSendsIsCaughtUpInFewScans(t *testing.T) {
	const gap = time.Second
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour, ScanGap: gap})
	chen, patel := f.as(demo.ChenEmail), f.as(demo.PatelEmail)
	conv, err := f.msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{viewer.FromContext(patel).UserID}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := f.hub.Messages(patel, &conv.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	before := f.hub.Scans()
	start := time.Now()
	for i := range n {
		if _, err := f.msgr.Send(chen, messenger.SendInput{ChannelID: conv.ID, Body: fmt.Sprintf("burst %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	sending := time.Since(start)
	for i := range n {
		select {
		case m := <-sub:
			if want := fmt.Sprintf("burst %d", i); m == nil || m.Body != want {
				t.Fatalf("delivery %d: got %v, want %q", i, m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("burst %d was not delivered within 10 s", i)
		}
	}
	// The first send is caught up at once, the rest at most once per gap
	// from then on, and one more for whatever arrived after the last.
	allowed := 2 + int64(sending/gap)
	if got := f.hub.Scans() - before; got > allowed || got < 1 {
		t.Errorf("%d sends in %v took %d catch-up scans, want 1 to %d (one per %v while they come)", n, sending.Round(time.Millisecond), got, allowed, gap)
	}
}

package live_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// TestBadgeFirstEventReadsOnceAtDelivery: subscribing to unreadBadge reads
// nothing — the first event, read when it is delivered, is also where the
// stream's state starts (a reconnect storm read everything twice) — and
// that first event counts a message sent after the subscription began, and
// later messages still make badges due.
func TestBadgeFirstEventReadsOnceAtDelivery(t *testing.T) {
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour})
	db, msgr, hub, as := f.db, f.msgr, f.hub, f.as
	chen, patel := as(demo.ChenEmail), as(demo.PatelEmail)
	// queries counts the statements run as Patel (the badge's reads).
	var queries atomic.Int64
	pv := viewer.FromContext(patel)
	db.Client.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			if viewer.FromContext(ctx) == pv {
				queries.Add(1)
			}
			return next.Query(ctx, q)
		})
	}))
	conv, err := msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{viewer.FromContext(patel).UserID}})
	if err != nil {
		t.Fatal(err)
	}
	total := func(b *live.Badge) int {
		n, err := b.Total(patel)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The unread count now, from a first subscription.
	octx, ocancel := context.WithCancel(patel)
	other, err := hub.Badge(octx)
	if err != nil {
		t.Fatal(err)
	}
	start := total(<-other)
	ocancel()

	sctx, cancel := context.WithCancel(patel)
	defer cancel()
	before := queries.Load()
	badges, err := hub.Badge(sctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := queries.Load() - before; n != 0 {
		t.Errorf("subscribing ran %d queries, want none (the first event reads)", n)
	}
	first := <-badges
	if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: conv.ID, Body: "after subscribing"}); err != nil {
		t.Fatal(err)
	}
	before = queries.Load()
	if got := total(first); got != start+1 {
		t.Errorf("first event read at delivery says %d unread, want %d (it counts the message sent before it was read)", got, start+1)
	}
	if queries.Load() == before {
		t.Error("the first event's figures were not read at delivery")
	}
	if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: conv.ID, Body: "later"}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b := <-badges:
			if total(b) == start+2 {
				return
			}
		case <-timeout:
			t.Fatalf("no badge with %d unread after a later message", start+2)
		}
	}
}

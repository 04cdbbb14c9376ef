package live_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// TestSlowSubscriberIsDroppedNotWaitedFor checks that a subscriber that
// stops reading never holds up senders or other subscribers: its stream
// ends once its queue is full, and it can resume from its last cursor.
func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	db := testdb.Open(t)
	ctx := context.Background()
	if _, err := demo.Load(ctx, db.Client, time.Now()); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := pubsub.NewMemory()
	msgr := messenger.New(db.Client, bus, log, messenger.Config{Dialect: db.Dialect})
	hub := live.New(db.Client, bus, log, live.Config{Dialect: db.Dialect, Buffer: 4, PollInterval: 50 * time.Millisecond})
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	go hub.Run(hctx)

	as := func(email string) context.Context {
		sctx := viewer.NewSystemContext(ctx, "test")
		u := db.Client.User.Query().Where(user.Email(email)).WithSecurityGroups().OnlyX(sctx)
		return viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Staff, UserID: u.ID, Perms: auth.EffectivePermissions(u)})
	}
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
	got := make(chan int)
	var fastCount atomic.Int32
	go func() {
		n := 0
		for range fast {
			n++
			fastCount.Store(int32(n))
			if n == 60 {
				got <- n
			}
		}
	}()
	for i := 0; i < 60; i++ {
		if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: conv.ID, Body: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatalf("the fast subscriber was held up by the slow one (got %d of 60)", fastCount.Load())
	}
	// The slow one got about its queue (plus one in hand), then its stream ended.
	n := 0
	for range slow {
		n++
	}
	if n == 0 || n >= 60 {
		t.Errorf("the slow subscriber received %d of 60 before being dropped", n)
	}
}

package live_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// liveFixture is the demo practice on a test database, with a messenger
// and a running hub on an in-process bus.
type liveFixture struct {
	db   *store.DB
	bus  pubsub.Bus
	msgr *messenger.Service
	hub  *live.Hub
}

// newLiveFixture starts the hub with cfg (its dialect set to the test
// database's) and waits until it knows where the stream stands; it stops
// when the test ends.
func newLiveFixture(t *testing.T, cfg live.Config) *liveFixture {
	t.Helper()
	return newLiveFixtureReading(t, cfg, nil)
}

// newLiveFixtureReading is newLiveFixture with a hub that reads through
// the client hubClient makes of the test database (nil: its own client).
func newLiveFixtureReading(t *testing.T, cfg live.Config, hubClient func(*store.DB) *ent.Client) *liveFixture {
	t.Helper()
	db := testdb.Open(t)
	ctx := context.Background()
	if _, err := demo.Load(ctx, db.Client, time.Now()); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := pubsub.NewMemory()
	cfg.Dialect = db.Dialect
	client := db.Client
	if hubClient != nil {
		client = hubClient(db)
	}
	f := &liveFixture{
		db:   db,
		bus:  bus,
		msgr: messenger.New(db.Client, bus, log, messenger.Config{Dialect: db.Dialect}),
		hub:  live.New(client, bus, log, cfg),
	}
	hctx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go f.hub.Run(hctx)
	<-f.hub.Started()
	return f
}

// as is the context of the demo staff member with email, with their
// permissions.
func (f *liveFixture) as(email string) context.Context {
	ctx := context.Background()
	u := f.db.Client.User.Query().Where(user.Email(email)).WithSecurityGroups().OnlyX(viewer.NewSystemContext(ctx, "test"))
	return viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Staff, UserID: u.ID, Perms: auth.EffectivePermissions(u)})
}

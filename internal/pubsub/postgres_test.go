package pubsub_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/testdb"
)

// TestPublishFailureResyncs: when NOTIFY cannot get through, the events are
// lost; the publishing replica's subscribers get Resync at once, and the
// peers get one as soon as the database takes NOTIFYs again. (Only
// messages would otherwise be recovered, by the hub's poll; revocations,
// channel changes and read marks would be lost silently.)
func TestPublishFailureResyncs(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("PostgreSQL only")
	}
	dsn := testdb.URL(t)
	admin, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() }) // after the buses
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "whisper_pub_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE ROLE " + role + " LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP ROLE IF EXISTS " + role); err != nil {
			t.Logf("dropping role: %v", err)
		}
	})
	u, _ := url.Parse(dsn)
	u.User = url.User(role)
	pubDB, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pubDB.Close() }) // after the buses (cleanups run last first)
	pub, _, mine, theirs := buses(t, pubDB, u.String(), admin, dsn)

	// A working bus carries the event to both.
	ev := pubsub.Event{Kind: pubsub.SessionRevoked, Session: pulid.New("se")}
	pub.Publish(context.Background(), ev)
	for name, s := range map[string]*pubsub.Subscription{"publisher": mine, "peer": theirs} {
		if got := recv(s, 5*time.Second); got.Kind != pubsub.SessionRevoked {
			t.Fatalf("%s got %q, want the revocation", name, got.Kind)
		}
	}

	// The publisher loses the database.
	if _, err := admin.Exec("ALTER ROLE " + role + " NOLOGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role); err != nil {
		t.Fatal(err)
	}
	pub.Publish(context.Background(), pubsub.Event{Kind: pubsub.ChannelChanged, Channel: pulid.New("ch")})
	// Its own subscribers get the event without the database, then
	// Resync, because the peers could not be told.
	if got := recv(mine, 10*time.Second); got.Kind != pubsub.ChannelChanged {
		t.Fatalf("the publisher's subscriber got %q, want its own event", got.Kind)
	}
	if got := recv(mine, 10*time.Second); got.Kind != pubsub.Resync {
		t.Fatalf("after a failed publish the publisher's subscriber got %q, want resync", got.Kind)
	}
	if got := recv(theirs, 300*time.Millisecond); got.Kind != "" {
		t.Fatalf("the peer got %q while nothing could be published", got.Kind)
	}
	// It comes back: the peer is told to resync, with no new event needed.
	if _, err := admin.Exec("ALTER ROLE " + role + " LOGIN"); err != nil {
		t.Fatal(err)
	}
	if got := recv(theirs, 10*time.Second); got.Kind != pubsub.Resync {
		t.Fatalf("once the database was back the peer got %q, want resync", got.Kind)
	}
}

// TestPublisherGetsItsOwnEventsOnce: a replica's subscribers get the
// events it publishes at once, not by way of the database, and not again
// when its NOTIFY comes back; the peers get them once, and the publisher
// still gets the peers' events.
func TestPublisherGetsItsOwnEventsOnce(t *testing.T) {
	db, dsn := postgresOnly(t)
	pub, peer, mine, theirs := buses(t, db, dsn, db, dsn)

	own := pubsub.Event{Kind: pubsub.Message, Channel: pulid.New("ch"), Message: pulid.New("ms")}
	pub.Publish(context.Background(), own)
	// Delivered during Publish: already waiting.
	select {
	case got := <-mine.C():
		if got.Kind != own.Kind || got.Message != own.Message || got.Origin != "" {
			t.Fatalf("the publisher's subscriber got %+v, want %+v", got, own)
		}
	default:
		t.Fatal("the publisher's own subscriber did not have the event when Publish returned")
	}
	if got := recv(theirs, 10*time.Second); got.Message != own.Message {
		t.Fatalf("the peer got %+v, want %+v", got, own)
	}
	// The peer's event comes after the echo of the publisher's own, in
	// NOTIFY order: the next thing the publisher's subscriber gets is the
	// peer's event, not its own again.
	other := pubsub.Event{Kind: pubsub.Message, Channel: pulid.New("ch"), Message: pulid.New("ms")}
	peer.Publish(context.Background(), other)
	if got := recv(mine, 10*time.Second); got.Message != other.Message {
		t.Fatalf("the publisher's subscriber got %+v after its own event, want the peer's %+v", got, other)
	}
	if got := recv(theirs, 10*time.Second); got.Message != other.Message {
		t.Fatalf("the peer got %+v, want its own %+v once", got, other)
	}
	peer.Publish(context.Background(), pubsub.Event{Kind: pubsub.Read, Users: []pulid.ID{pulid.New("us")}})
	if got := recv(theirs, 10*time.Second); got.Kind != pubsub.Read {
		t.Fatalf("the peer got %+v, want its read event (not its message twice)", got)
	}
}

// Events published in quick succession go to the other replicas in few
// NOTIFYs: the first at once, then everything published within the gap of
// it together in one more; the peer still gets every event, in order.
func TestEventsWithinTheGapShareANotify(t *testing.T) {
	db, dsn := postgresOnly(t)
	const gap = 200 * time.Millisecond
	pub, _, _, theirs := buses(t, db, dsn, db, dsn, pubsub.WithNotifyGap(gap))
	publish := func() pulid.ID {
		id := pulid.New("ms")
		pub.Publish(context.Background(), pubsub.Event{Kind: pubsub.Message, Channel: pulid.New("ch"), Message: id})
		return id
	}
	// The first goes at once: the peer has it before anything else is
	// published.
	if first := publish(); recv(theirs, 10*time.Second).Message != first {
		t.Fatal("the first event did not reach the peer")
	}
	// The rest, published within the gap of that NOTIFY, wait for the gap
	// to pass and go together. (Without the gap they would reach the peer
	// a few milliseconds after they were published.)
	published := time.Now()
	sent := make([]pulid.ID, 20)
	for i := range sent {
		sent[i] = publish()
	}
	for i, want := range sent {
		if got := recv(theirs, 10*time.Second); got.Message != want {
			t.Fatalf("event %d: the peer got %+v, want message %s", i+1, got, want)
		}
		if i == 0 {
			if waited := time.Since(published); waited < gap/2 {
				t.Errorf("the events after the first reached the peer %v after they were published, want them held for the rest of the %v gap", waited.Round(time.Millisecond), gap)
			}
		}
	}
	if got := pub.Notifies(); got != 2 {
		t.Errorf("21 events, the last 20 within the gap of the first, went in %d NOTIFYs, want 2", got)
	}
}

// postgresOnly skips the test unless it runs on PostgreSQL, and opens the
// test database (closed when the test ends, after the buses).
func postgresOnly(t *testing.T) (*sql.DB, string) {
	t.Helper()
	if !testdb.Postgres() {
		t.Skip("PostgreSQL only")
	}
	dsn := testdb.URL(t)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, dsn
}

// buses starts a publishing replica's bus and a peer's, each with a
// subscriber; they stop when the test ends.
func buses(t *testing.T, pubDB *sql.DB, pubDSN string, peerDB *sql.DB, peerDSN string, opts ...pubsub.Option) (pub, peer *pubsub.Postgres, mine, theirs *pubsub.Subscription) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pub, err := pubsub.NewPostgres(pubDB, pubDSN, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	peer, err = pubsub.NewPostgres(peerDB, peerDSN, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	mine, theirs = pub.Subscribe(100), peer.Subscribe(100)
	t.Cleanup(mine.Close)
	t.Cleanup(theirs.Close)
	return pub, peer, mine, theirs
}

func recv(s *pubsub.Subscription, timeout time.Duration) pubsub.Event {
	select {
	case e := <-s.C():
		return e
	case <-time.After(timeout):
		return pubsub.Event{}
	}
}

package live_test

import (
	"context"
	stdsql "database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/viewer"
)

// TestAReleaseReadsTheStreamOnceThenItsEdgesSideBySide checks the round
// trips between a commit and its first delivery, each of which delays
// every subscriber: the hub reads the new messages themselves in one
// statement (on PostgreSQL with the commit horizon in it), then their
// senders and their channels in two statements that run at the same time.
func TestAReleaseReadsTheStreamOnceThenItsEdgesSideBySide(t *testing.T) {
	rec := &recordingDriver{}
	f := newLiveFixtureReading(t, live.Config{PollInterval: time.Hour}, func(db *store.DB) *ent.Client {
		name := dialect.SQLite
		if db.Dialect.IsPostgres() {
			name = dialect.Postgres
		}
		rec.Driver = entsql.OpenDB(name, db.SQL)
		return ent.NewClient(ent.Driver(rec))
	})
	db, hub := f.db, f.hub
	chen, patel := f.as(demo.ChenEmail), f.as(demo.PatelEmail)
	group, err := f.msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{viewer.FromContext(patel).UserID}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(patel)
	defer cancel()
	stream, err := hub.Messages(sctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	scans := hub.Scans()
	rec.start()
	if _, err := f.msgr.Send(chen, messenger.SendInput{ChannelID: group.ID, Body: "one read"}); err != nil {
		t.Fatal(err)
	}
	expect(t, stream, "one read")
	stmts, overlapped := rec.stop()
	if !overlapped {
		t.Errorf("the senders and the channels of the release were read one after the other:\n%s", strings.Join(stmts, "\n"))
	}
	if n := hub.Scans() - scans; n != 1 {
		// The horizon held the message back for a moment (a transaction
		// id the server assigned just then), and a retry found it: the
		// count below is of that retry, not of a release.
		t.Skipf("the hub scanned %d times for one message; its reads are not counted", n)
	}

	var streamReads []string
	for _, q := range stmts {
		if reads(q, "messages") {
			streamReads = append(streamReads, q)
		}
	}
	if len(streamReads) != 1 {
		t.Fatalf("the release read the stream in %d statements, want 1:\n%s", len(streamReads), strings.Join(streamReads, "\n"))
	}
	if db.Dialect.IsPostgres() && !strings.Contains(streamReads[0], "whisper_stream_horizon") {
		t.Errorf("the stream was read without the commit horizon: %s", streamReads[0])
	}
}

// recordingDriver records the statements the hub runs between start and
// stop, and holds the first read of users or channels until the other one
// begins (or a while has passed), to see whether they run side by side.
type recordingDriver struct {
	*entsql.Driver

	mu         sync.Mutex
	on         bool
	stmts      []string
	held       chan struct{} // closed when the second edge read begins
	waiting    bool          // the first edge read is being held
	released   bool          // the stream was read: edge reads are the release's
	edgeReads  int
	overlapped bool
}

func (d *recordingDriver) start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.on, d.stmts, d.held, d.waiting, d.edgeReads, d.overlapped = true, nil, make(chan struct{}), false, 0, false
	d.released = false
}

func (d *recordingDriver) stop() ([]string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.on = false
	return d.stmts, d.overlapped
}

// note records query; for the release's first edge read it waits for
// the second.
func (d *recordingDriver) note(query string) {
	d.mu.Lock()
	if !d.on {
		d.mu.Unlock()
		return
	}
	d.stmts = append(d.stmts, query)
	if reads(query, "messages") {
		d.released = true
	}
	// Other events the hub acts on may read a channel first.
	edge := d.released && (reads(query, "users") || reads(query, "channels"))
	if !edge {
		d.mu.Unlock()
		return
	}
	d.edgeReads++
	held := d.held
	switch d.edgeReads {
	case 1:
		d.waiting = true
		d.mu.Unlock()
		select {
		case <-held:
		case <-time.After(5 * time.Second): // read one after the other: go on
			d.mu.Lock()
			d.waiting = false
			d.mu.Unlock()
		}
	case 2:
		if d.waiting {
			d.waiting, d.overlapped = false, true
			close(held)
		}
		d.mu.Unlock()
	default:
		d.mu.Unlock()
	}
}

// Query implements dialect.Driver.
func (d *recordingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.note(query)
	return d.Driver.Query(ctx, query, args, v)
}

// QueryContext is what the client's raw queries use.
func (d *recordingDriver) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	d.note(query)
	return d.Driver.QueryContext(ctx, query, args...)
}

// reads reports whether query reads table, however the dialect quotes it.
func reads(query, table string) bool {
	q := strings.NewReplacer(`"`, "", "`", "").Replace(strings.ToLower(query))
	return strings.Contains(q, "from "+table+" ")
}

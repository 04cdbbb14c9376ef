package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// When a write transaction ends, the transaction queued behind it on the
// SQLite writer gate begins before the one that ended goes on with its
// request: the database does not sit idle while senders queue. One
// processor makes the order visible: the waiter can only run when the
// committing goroutine steps aside. The scheduler (checked with Go 1.26)
// serves its global queue one time in 61, which may put the committer back
// first, so the test asks for the right order in most of 20 rounds;
// without the hand-off it is never right.
func TestTheNextWriterBeginsAsSoonAsTheGateIsFree(t *testing.T) {
	ctx := context.Background()
	sqldb, err := sql.Open("sqlite", sqliteDSN(filepath.Join(t.TempDir(), "gate.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	d := newGatedDriver(entsql.OpenDB(dialect.SQLite, sqldb))
	defer d.Close()
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	waiting := make(chan struct{}, 1)
	d.queued = func() { waiting <- struct{}{} }
	d.entered = func() { note("waiter began") }
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	const rounds = 20
	first := 0 // rounds in which the waiter began before the committer went on
	for range rounds {
		order = nil
		tx, err := d.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			next, err := d.Tx(ctx) // waits for tx
			if err == nil {
				err = next.Commit()
			}
			done <- err
		}()
		<-waiting
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		note("committer went on")
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if order[0] == "waiter began" {
			first++
		}
	}
	if first < rounds*3/4 {
		t.Fatalf("the queued transaction began first in %d of %d rounds: it waited while the committer went on", first, rounds)
	}
}

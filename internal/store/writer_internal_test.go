package store

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// When a write transaction ends, the transaction queued behind it on the
// SQLite writer gate begins before the one that ended goes on with its
// request: the database does not sit idle while senders queue. One
// processor makes the order visible: the waiter can only run when the
// committing goroutine steps aside. The scheduler serves its global queue
// one time in 61, which may put the committer back first, so the test asks
// for the right order in most of 20 rounds; without the hand-off it is
// never right.
func TestTheNextWriterBeginsAsSoonAsTheGateIsFree(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "gate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer func() { queued, entered = nil, nil }()

	const rounds = 20
	first := 0 // rounds in which the waiter began before the committer went on
	for range rounds {
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waiting := make(chan struct{})
		var mu sync.Mutex
		var order []string
		note := func(s string) {
			mu.Lock()
			order = append(order, s)
			mu.Unlock()
		}
		queued = func() { close(waiting) }
		entered = func() { note("waiter began") }
		done := make(chan error, 1)
		go func() {
			next, err := db.Client.Tx(ctx) // waits for tx
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

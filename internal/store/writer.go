package store

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// writerWait is how long a transaction waits for the SQLite writer gate
// before it goes ahead anyway (and waits in SQLite's busy handler, as the
// database's busy_timeout says): a transaction left open by mistake, or
// one begun inside another on the same goroutine, cannot stall the rest.
const writerWait = 10 * time.Second

// gatedDriver is the ent driver of a SQLite database: it lets one
// transaction run at a time, queuing the others in Go. Every SQLite
// transaction Whisper begins takes the write lock at once (BEGIN
// IMMEDIATE), so SQLite runs them one at a time anyway — but a transaction
// that finds the lock taken sleeps in SQLite's busy handler (1, 2, 5, 10 …
// ms) and finds it free only after the sleep, while a queued one starts
// the moment the previous one ends.
type gatedDriver struct {
	*entsql.Driver
	gate chan struct{}
}

func newGatedDriver(d *entsql.Driver) *gatedDriver {
	return &gatedDriver{Driver: d, gate: make(chan struct{}, 1)}
}

// Tx starts a transaction once the gate is free.
func (d *gatedDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	return d.BeginTx(ctx, nil)
}

// BeginTx starts a transaction with options once the gate is free.
func (d *gatedDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	release := d.enter(ctx)
	tx, err := d.Driver.BeginTx(ctx, opts)
	if err != nil {
		release()
		return nil, err
	}
	// The gate is also given back when ctx ends: database/sql rolls a
	// transaction back then, and one abandoned without Commit or Rollback
	// must not hold the gate until the process restarts.
	release = sync.OnceFunc(release)
	stop := context.AfterFunc(ctx, release)
	return &gatedTx{Tx: tx.(*entsql.Tx), release: func() { stop(); release() }}, nil
}

// enter waits for the gate (at most writerWait) and returns its release.
func (d *gatedDriver) enter(ctx context.Context) func() {
	select {
	case d.gate <- struct{}{}:
		return func() { <-d.gate }
	default:
	}
	t := time.NewTimer(writerWait)
	defer t.Stop()
	select {
	case d.gate <- struct{}{}:
		return func() { <-d.gate }
	case <-t.C:
	case <-ctx.Done():
	}
	return func() {}
}

// gatedTx is a transaction that frees the gate when it ends.
type gatedTx struct {
	*entsql.Tx
	release func()
}

// Commit commits and frees the gate.
func (t *gatedTx) Commit() error {
	defer t.release()
	return t.Tx.Commit()
}

// Rollback rolls back and frees the gate.
func (t *gatedTx) Rollback() error {
	defer t.release()
	return t.Tx.Rollback()
}

package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"runtime"
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
//
// The transactions that pass the gate all run on one connection (writer),
// kept out of the pool: SQLite empties a connection's page cache whenever
// another connection has written since its last transaction, so writers
// taking turns on pooled connections each began with a cold cache.
type gatedDriver struct {
	*entsql.Driver
	gate chan struct{}
	// writer is the connection of gated transactions, taken from the pool
	// on first use; only the holder of the gate touches it.
	writer *sql.Conn
	// queued and entered, set by tests before any use, are called by a
	// transaction about to wait for the gate, and once it has taken the
	// gate it waited for.
	queued, entered func()
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
	free, gated := d.enter(ctx)
	var tx *sql.Tx
	var err error
	if gated {
		tx, err = d.writerTx(ctx, opts)
	} else {
		tx, err = d.DB().BeginTx(ctx, opts)
	}
	if err != nil {
		free()
		return nil, err
	}
	// The gate is also given back when ctx ends: database/sql rolls a
	// transaction back then, and one abandoned without Commit or Rollback
	// must not hold the gate until the process restarts. The rollback runs
	// on database/sql's own time, so the writer connection is let go (back
	// to the pool once the rollback is done) and the next transaction
	// takes another.
	var once sync.Once
	ended := func() (freed bool) {
		once.Do(func() { free(); freed = true })
		return freed
	}
	abandoned := func() {
		once.Do(func() {
			if gated && d.writer != nil {
				go d.writer.Close()
				d.writer = nil
			}
			free()
		})
	}
	stop := context.AfterFunc(ctx, abandoned)
	g := &gatedTx{Tx: &entsql.Tx{Conn: entsql.Conn{ExecQuerier: tx}, Tx: tx}, release: func() bool { stop(); return ended() }}
	if gated {
		g.gate = d.gate
	}
	return g, nil
}

// Close lets the writer connection go, unless a transaction still runs on
// it, and closes the database.
func (d *gatedDriver) Close() error {
	select {
	case d.gate <- struct{}{}:
		if d.writer != nil {
			_ = d.writer.Close()
			d.writer = nil
		}
		<-d.gate
	default:
	}
	return d.Driver.Close()
}

// writerTx begins a transaction on the writer connection, taking one from
// the pool when there is none or it has gone bad. The caller holds the
// gate.
func (d *gatedDriver) writerTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	for attempt := 0; ; attempt++ {
		if d.writer == nil {
			c, err := d.DB().Conn(context.WithoutCancel(ctx))
			if err != nil {
				return nil, err
			}
			d.writer = c
		}
		tx, err := d.writer.BeginTx(ctx, opts)
		if err == nil || attempt > 0 || ctx.Err() != nil ||
			!(errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn)) {
			return tx, err
		}
		d.writer.Close()
		d.writer = nil
	}
}

// enter waits for the gate (at most writerWait) and returns its release,
// and whether the gate was taken (false: the wait ran out, or ctx ended).
func (d *gatedDriver) enter(ctx context.Context) (func(), bool) {
	select {
	case d.gate <- struct{}{}:
		return func() { <-d.gate }, true
	default:
	}
	t := time.NewTimer(writerWait)
	defer t.Stop()
	if d.queued != nil {
		d.queued()
	}
	select {
	case d.gate <- struct{}{}:
		if d.entered != nil {
			d.entered()
		}
		return func() { <-d.gate }, true
	case <-t.C:
	case <-ctx.Done():
	}
	return func() {}, false
}

// gatedTx is a transaction that frees the gate when it ends.
type gatedTx struct {
	*entsql.Tx
	release func() bool   // frees the gate; false if it was freed already
	gate    chan struct{} // the gate it holds; nil when it went ahead without
}

// Commit commits and frees the gate.
func (t *gatedTx) Commit() error {
	defer t.end()
	return t.Tx.Commit()
}

// Rollback rolls back and frees the gate.
func (t *gatedTx) Rollback() error {
	defer t.end()
	return t.Tx.Rollback()
}

// end frees the gate and, when a queued transaction took it, lets that
// one run at once. The runtime readies the waiter to run next on this
// goroutine's thread, but only once this goroutine blocks — after it has
// answered its request, tens of microseconds in which nobody writes while
// senders queue (a fifth of the time of each send on two cores).
func (t *gatedTx) end() {
	if t.release() && t.gate != nil && len(t.gate) > 0 {
		runtime.Gosched()
	}
}

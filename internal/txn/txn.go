// Package txn owns Whisper's write transaction: begin, run, run again what
// PostgreSQL aborted as a deadlock or serialisation victim, commit, and only
// then publish the events the transaction collected.
package txn

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lib/pq"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/store"
)

// MaxAttempts is how often a transaction runs before a retryable abort is
// returned to the caller.
const MaxAttempts = 3

// Emit collects events to publish once the transaction has committed.
type Emit = func(...pubsub.Event)

// Runner runs write transactions on one client and publishes their events
// on one bus.
type Runner struct {
	client *ent.Client
	bus    pubsub.Bus
	log    *slog.Logger
	begin  func(context.Context, *ent.Tx) error
	// first gives the statement sent with BEGIN (see BeginWith).
	first func() string
}

// OnBegin makes f the first statement of every transaction r runs (before
// the transaction writes anything), and returns r.
func (r *Runner) OnBegin(f func(context.Context, *ent.Tx) error) *Runner {
	r.begin = f
	return r
}

// BeginWith makes the statement query returns (one without arguments)
// run in the same round trip as each transaction's BEGIN where the
// database allows it (store.WithBeginStatement), and returns r. The
// OnBegin function is given a context in which store.RanAtBegin tells
// whether it did; where it did not, that function runs it.
func (r *Runner) BeginWith(query func() string) *Runner {
	r.first = query
	return r
}

// New returns a runner over client. bus may be nil for a service that never
// emits events (emitting then panics, as a wiring mistake should).
func New(client *ent.Client, bus pubsub.Bus, log *slog.Logger) *Runner {
	return &Runner{client: client, bus: bus, log: log}
}

// Run runs fn in a transaction and publishes the events it emitted once the
// transaction has committed (never inside it: a NOTIFY in the transaction
// would serialise every commit, and a rolled-back change must announce
// nothing).
//
// A transaction PostgreSQL aborts as a deadlock victim (40P01) or a
// serialisation failure (40001) is run again from the start, up to
// MaxAttempts times: rows are locked in the order a change reaches them, and
// two changes can reach the same rows from both ends at once. fn must
// therefore keep its state inside the call (or reset what it assigns
// outside), and its emitted events are dropped with the aborted attempt.
func (r *Runner) Run(ctx context.Context, fn func(tx *ent.Tx, emit Emit) error) error {
	for attempt := 1; ; attempt++ {
		err := r.try(ctx, fn)
		if attempt < MaxAttempts && Retryable(err) {
			r.log.InfoContext(ctx, "transaction aborted by the database; running it again", "attempt", attempt)
			continue
		}
		return err
	}
}

// Retryable reports whether PostgreSQL aborted the transaction so that
// running it again can succeed (40P01 deadlock, 40001 serialisation).
func Retryable(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

func (r *Runner) try(ctx context.Context, fn func(tx *ent.Tx, emit Emit) error) error {
	bctx := ctx
	if r.first != nil {
		bctx = store.WithBeginStatement(ctx, r.first())
	}
	tx, err := r.client.Tx(bctx)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	// A panic in fn rolls the transaction back before it goes on up: the
	// connection, and on SQLite the writer gate, are given back at once.
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	var events []pubsub.Event
	emit := func(e ...pubsub.Event) { events = append(events, e...) }
	if r.begin != nil {
		if err := r.begin(bctx, tx); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	if err := fn(tx, emit); err != nil {
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			r.log.WarnContext(ctx, "rolling back", "err", rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	if len(events) > 0 {
		r.bus.Publish(ctx, events...)
	}
	return nil
}

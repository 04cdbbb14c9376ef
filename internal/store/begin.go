package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
)

// beginStatementKey is the context key of a beginStatement.
type beginStatementKey struct{}

// beginStatement is a statement a transaction runs in the same round trip
// as its BEGIN (see WithBeginStatement); ran is set once it has.
type beginStatement struct {
	query string
	ran   bool
}

// WithBeginStatement returns a context in which a transaction begun on a
// PostgreSQL connection of Open's runs query, a statement without
// arguments whose results are not read, in the same round trip as its
// BEGIN: one simple-protocol message "BEGIN …; query". The transaction
// begins with query run, or not at all (when query fails, what began is
// rolled back and its error returned). A round trip to PostgreSQL can cost
// more than a point write, and a message write's transaction starts with
// one such statement (see messenger's announce).
//
// The context is for one transaction: once query has run, a later
// transaction begun with the same context sends nothing more and
// RanAtBegin still reports true. database/sql begins again on another connection when the
// first one turns out broken, so query may reach the server twice; it
// must only have effects local to its transaction. Elsewhere (SQLite, a
// connection not opened by Open) the transaction begins as usual and
// RanAtBegin reports false: the caller then runs query itself.
func WithBeginStatement(ctx context.Context, query string) context.Context {
	return context.WithValue(ctx, beginStatementKey{}, &beginStatement{query: query})
}

// RanAtBegin reports whether ctx carries a statement (WithBeginStatement)
// that ran with its transaction's BEGIN.
func RanAtBegin(ctx context.Context) bool {
	bs, _ := ctx.Value(beginStatementKey{}).(*beginStatement)
	return bs != nil && bs.ran
}

// beginPostgres begins a transaction on a lib/pq connection with its own
// BEGIN, followed in the same message by ctx's statement
// (WithBeginStatement) if it has one. lib/pq's connection is its own driver.Tx and learns from the
// server's ReadyForQuery that a transaction is open, so its Commit and
// Rollback work as after its own BeginTx.
//
// Every transaction on the connection begins here, never in lib/pq's
// BeginTx: that one leaves a per-transaction watcher of its context on the
// connection which Commit and Rollback call, and a transaction begun
// without replacing it would call the previous transaction's watcher
// again. Without the watcher, a context that ends during the transaction
// is handled by database/sql (it rolls the transaction back, and the
// connection stays in the pool) and by each statement's own watcher (it
// cancels a statement in flight, and the connection is closed — as it is
// when the context ends during BEGIN and its statement). COMMIT and that
// ROLLBACK are not bounded by the context: they end when the server
// answers. A connection handed out is never inside a transaction
// (database/sql ends each one), so no check for one is made here.
func (c *cachingConn) beginPostgres(ctx context.Context, opts driver.TxOptions, tx driver.Tx) (driver.Tx, error) {
	var mode string
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadUncommitted:
		mode = " ISOLATION LEVEL READ UNCOMMITTED"
	case sql.LevelReadCommitted:
		mode = " ISOLATION LEVEL READ COMMITTED"
	case sql.LevelRepeatableRead:
		mode = " ISOLATION LEVEL REPEATABLE READ"
	case sql.LevelSerializable:
		mode = " ISOLATION LEVEL SERIALIZABLE"
	default:
		return nil, fmt.Errorf("pq: isolation level not supported: %d", opts.Isolation)
	}
	if opts.ReadOnly {
		mode += " READ ONLY"
	} else {
		mode += " READ WRITE"
	}
	q := "BEGIN" + mode
	bs, _ := ctx.Value(beginStatementKey{}).(*beginStatement)
	if bs != nil && !bs.ran {
		q += "; " + bs.query
	}
	if _, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, q, nil); err != nil {
		// BEGIN ran and the statement failed (the transaction is aborted),
		// or nothing ran: roll back what began. A connection whose
		// rollback fails is given up rather than trusted (when nothing had
		// begun it was fine, and a new one costs only a connect).
		if rerr := tx.Rollback(); rerr != nil {
			c.broken = true
		}
		return nil, err
	}
	if bs != nil {
		bs.ran = true
	}
	c.inTx = true
	return cachingTx{Tx: tx, c: c}, nil
}

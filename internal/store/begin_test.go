package store_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
)

// setting reads a custom setting through q (a transaction or the pool),
// "" when it is not set.
func setting(t *testing.T, ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) string {
	t.Helper()
	var v sql.NullString
	if err := q.QueryRowContext(ctx, "SELECT current_setting('"+name+"', true)").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v.String
}

// On PostgreSQL a transaction's first statement can travel with its BEGIN:
// it has run when the transaction starts; when it fails, no transaction is
// left open on the connection; and every kind of transaction still begins
// and ends as asked, one after another on the same connection, also after
// one whose context ended inside it. On SQLite the statement is left to
// the caller.
func TestAStatementRunsWithBegin(t *testing.T) {
	db := testdb.Open(t)
	db.SQL.SetMaxOpenConns(1) // every transaction below on one connection
	ctx := context.Background()
	const set = "SELECT set_config('whisper.begin_test', 'on', true)"

	bctx := store.WithBeginStatement(ctx, set)
	tx, err := db.SQL.BeginTx(bctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !db.Dialect.IsPostgres() {
		if store.RanAtBegin(bctx) {
			t.Error("on SQLite the statement reported run with BEGIN")
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !store.RanAtBegin(bctx) {
		t.Error("the statement did not report run with BEGIN")
	}
	if got := setting(t, ctx, tx, "whisper.begin_test"); got != "on" {
		t.Errorf("inside the transaction the statement's setting is %q, want on", got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := setting(t, ctx, db.SQL, "whisper.begin_test"); got == "on" {
		t.Error("the statement's transaction-local setting outlived the transaction")
	}

	t.Run("a failing statement leaves no transaction open", func(t *testing.T) {
		fctx := store.WithBeginStatement(ctx, "SELECT 1/0")
		if _, err := db.SQL.BeginTx(fctx, nil); err == nil || !strings.Contains(err.Error(), "division by zero") {
			t.Fatalf("BeginTx with a failing statement answered %v, want its error", err)
		}
		if store.RanAtBegin(fctx) {
			t.Error("a failed statement reported run")
		}
		// Outside a transaction every statement commits on its own: a
		// transaction-local setting is gone at the next statement.
		if _, err := db.SQL.ExecContext(ctx, set); err != nil {
			t.Fatal(err)
		}
		if got := setting(t, ctx, db.SQL, "whisper.begin_test"); got == "on" {
			t.Error("the connection was left inside the failed statement's transaction")
		}
	})

	t.Run("read-only and serializable transactions", func(t *testing.T) {
		tx, err := db.SQL.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		var iso, ro string
		if err := tx.QueryRowContext(ctx, "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')").Scan(&iso, &ro); err != nil {
			t.Fatal(err)
		}
		if iso != "serializable" || ro != "on" {
			t.Errorf("isolation %q, read-only %q; want serializable and on", iso, ro)
		}
		if _, err := tx.ExecContext(ctx, "CREATE TEMP TABLE begin_test (n int)"); err == nil {
			t.Error("a read-only transaction wrote")
		}
	})

	// (lib/pq's own BeginTx leaves a watcher of its context for Commit to
	// end; a transaction begun with a statement after one it began would
	// end that watcher again, and a third time panics.)
	t.Run("transactions in a row, with and without a statement", func(t *testing.T) {
		if _, err := db.SQL.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS begin_rows (n int)"); err != nil {
			t.Fatal(err)
		}
		insert := func(tctx context.Context, i int) *sql.Tx {
			t.Helper()
			tx, err := db.SQL.BeginTx(tctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(tctx, "INSERT INTO begin_rows VALUES ($1)", i); err != nil {
				t.Fatal(err)
			}
			return tx
		}
		for i := range 12 {
			tctx, cancel := context.WithCancel(ctx)
			defer cancel() // each context outlives its transaction
			if i%3 != 0 {
				tctx = store.WithBeginStatement(tctx, set)
			}
			if err := insert(tctx, i).Commit(); err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
		}
		// A context that ends inside the transaction rolls it back, and
		// the next transaction on the connection begins as usual.
		tctx, cancel := context.WithCancel(ctx)
		tctx = store.WithBeginStatement(tctx, set)
		tx := insert(tctx, 100)
		cancel()
		if err := tx.Commit(); err == nil {
			t.Error("a transaction committed after its context ended")
		}
		tctx = store.WithBeginStatement(ctx, set)
		if err := insert(tctx, 12).Commit(); err != nil {
			t.Fatal(err)
		}
		var n, max int
		if err := db.SQL.QueryRowContext(ctx, "SELECT count(*), max(n) FROM begin_rows").Scan(&n, &max); err != nil {
			t.Fatal(err)
		}
		if n != 13 || max != 12 {
			t.Errorf("%d rows committed, the highest %d; want the 13 committed transactions' (0 to 12)", n, max)
		}
	})
}

package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
)

// TestStreamHorizonWaitsOnlyForMessageWriters reads whisper_stream_horizon()
// the way the live hub does while transactions of each kind run: a
// transaction that announced itself as a message writer (MessageWriterLock)
// and took an id holds the horizon at that id; one that writes without
// announcing itself does not, not even while it waits on the writer's row;
// and the writer keeps holding it back while the other waits on it.
func TestStreamHorizonWaitsOnlyForMessageWriters(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("PostgreSQL only: SQLite serialises writers")
	}
	db := testdb.Open(t)
	ctx := context.Background()
	if _, err := db.SQL.ExecContext(ctx, `CREATE TABLE horizon_probe (id int PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.ExecContext(ctx, `INSERT INTO horizon_probe VALUES (1, 0)`); err != nil {
		t.Fatal(err)
	}
	horizon := func() int64 {
		t.Helper()
		var h int64
		if err := db.SQL.QueryRowContext(ctx, `SELECT (SELECT whisper_stream_horizon())`).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	// begin opens a transaction on a connection of its own that writes
	// horizon_probe (so it takes an id), announced as a writer or not.
	begin := func(writer bool) (*sql.Tx, int64) {
		t.Helper()
		tx, err := db.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tx.Rollback() })
		if writer {
			q := fmt.Sprintf("SELECT pg_advisory_xact_lock_shared(%d, %d)", store.MessageWriterLockClass, store.MessageWriterLockID)
			if _, err := tx.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return tx, id
	}

	// Other databases' transactions on the server may hold the horizon
	// lower for a moment (an id that ends, or begins, while it is read), so
	// the writer's checks are "not past the writer", and the last one waits
	// for a read that no such moment lowers.
	writer, w := begin(true)
	if h := horizon(); h > w {
		t.Errorf("with a message writer (id %d) running, horizon = %d, want at most %d", w, h, w)
	}
	foreign, f := begin(false)
	if h := horizon(); h > w {
		t.Errorf("with a foreign transaction (id %d) running too, horizon = %d, want at most the writer's %d", f, h, w)
	}
	if err := foreign.Rollback(); err != nil {
		t.Fatal(err)
	}

	// The writer locks the row; a foreign transaction that wants it waits
	// on the writer's id (a ShareLock request on it in pg_locks).
	if _, err := writer.ExecContext(ctx, `UPDATE horizon_probe SET n = n + 1 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	waiter, _ := begin(false)
	done := make(chan error, 1)
	go func() {
		_, err := waiter.ExecContext(ctx, `UPDATE horizon_probe SET n = n + 1 WHERE id = 1`)
		done <- err
	}()
	for waiting := false; !waiting; {
		q := `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted AND transactionid::text::bigint = $1)`
		if err := db.SQL.QueryRowContext(ctx, q, w%(1<<32)).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	if h := horizon(); h > w {
		t.Errorf("with a foreign transaction waiting on the writer, horizon = %d, want at most the writer's %d", h, w)
	}
	if err := writer.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Only the foreign transaction runs now: it holds nothing back.
	var next int64
	if err := db.SQL.QueryRowContext(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	h := horizon()
	for i := 0; i < 10 && h < next; i++ {
		h = horizon()
	}
	if h < next {
		t.Errorf("with only a foreign transaction running, horizon = %d, want the next id (at least %d)", h, next)
	}
	if err := waiter.Commit(); err != nil {
		t.Fatal(err)
	}
}

package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/template"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Statements stay prepared per connection; the same text run again while
// its earlier rows are still being read (a nested query in a transaction)
// must still answer both correctly, and transactions run side by side
// (queued on SQLite) must all commit.
func TestPreparedStatementsAnswerNestedAndConcurrentUse(t *testing.T) {
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")
	for i := range 5 {
		db.Client.Template.Create().SetKind("SMS").SetBody("b").SetName(fmt.Sprintf("label %d", i)).ExecX(sctx)
	}
	// (lib/pq cannot run a statement on a connection while another's rows
	// are still streaming in, prepared or not: the nested part is SQLite's.)
	if !db.Dialect.IsPostgres() {
		nested(t, db.SQL)
	}
	writers(t, db.Client)
}

func nested(t *testing.T, db *sql.DB) {
	ctx := context.Background()
	q := "SELECT name FROM templates WHERE name >= ? ORDER BY name"
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	read := func(from string) []string {
		t.Helper()
		rows, err := tx.QueryContext(ctx, q, from)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	_ = read("label 0") // prepared now
	// The outer rows stay open while the same statement runs again.
	outer, err := tx.QueryContext(ctx, q, "label 3")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for outer.Next() {
		var n string
		if err := outer.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
		if inner := read("label 1"); len(inner) != 4 {
			t.Fatalf("inner read = %v, want labels 1–4", inner)
		}
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	outer.Close()
	if fmt.Sprint(got) != "[label 3 label 4]" {
		t.Errorf("outer read = %v, want [label 3 label 4]", got)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}

func writers(t *testing.T, client *ent.Client) {
	sctx := viewer.NewSystemContext(context.Background(), "test")
	// Ten writers at once, each in its own transaction, all commit.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx, err := client.Tx(sctx)
			if err != nil {
				errs <- err
				return
			}
			if err := tx.Template.Create().SetKind("SMS").SetBody("b").SetName(fmt.Sprintf("writer %d", i)).Exec(sctx); err != nil {
				_ = tx.Rollback()
				errs <- err
				return
			}
			errs <- tx.Commit()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := client.Template.Query().Where(template.NameHasPrefix("writer ")).CountX(sctx); n != 10 {
		t.Errorf("%d writers committed, want 10", n)
	}
}

// A statement kept prepared goes stale when its table changes shape under
// it (a migration run by another replica during a rolling upgrade): the
// next run is answered from a fresh connection, not with an error.
func TestStaleStatementIsRunAgain(t *testing.T) {
	db := testdb.Open(t)
	if !db.Dialect.IsPostgres() {
		t.Skip("SQLite prepares a statement again by itself after a schema change")
	}
	ctx := context.Background()
	db.SQL.SetMaxOpenConns(1) // the one connection that holds the statement
	if _, err := db.SQL.ExecContext(ctx, `CREATE TABLE stale_probe (id int PRIMARY KEY, v int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL.ExecContext(ctx, `INSERT INTO stale_probe VALUES (1, 7)`); err != nil {
		t.Fatal(err)
	}
	read := func() (string, error) {
		var v string
		err := db.SQL.QueryRowContext(ctx, `SELECT v FROM stale_probe WHERE id = $1`, 1).Scan(&v)
		return v, err
	}
	for range 6 { // prepared, and planned generically
		if _, err := read(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SQL.ExecContext(ctx, `ALTER TABLE stale_probe ALTER COLUMN v TYPE text`); err != nil {
		t.Fatal(err)
	}
	if v, err := read(); err != nil || v != "7" {
		t.Fatalf("after the table changed: %q, %v; want 7 and no error", v, err)
	}
}

// TestSQLiteKeepsItsReaderConnections: connections readers used side by
// side stay open for the next burst (a reopened connection runs its PRAGMAs
// and prepares its statements again), up to store.SQLiteIdleConns.
func TestSQLiteKeepsItsReaderConnections(t *testing.T) {
	db := testdb.Open(t)
	if db.Dialect.IsPostgres() {
		t.Skip("SQLite's pool")
	}
	ctx := context.Background()
	for range 3 {
		conns := make([]*sql.Conn, 6)
		for i := range conns {
			c, err := db.SQL.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns[i] = c
		}
		for _, c := range conns {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st := db.SQL.Stats(); st.MaxIdleClosed > 0 || st.OpenConnections < 6 {
		t.Errorf("after three bursts of 6 readers: %d connections closed for want of idle room, %d open; want none closed and at least 6 open", st.MaxIdleClosed, st.OpenConnections)
	}
}

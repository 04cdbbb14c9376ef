package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// A transaction abandoned without Commit or Rollback (its request ended)
// gives the SQLite writer gate back when its context ends: the next
// transaction starts at once instead of waiting out the gate.
func TestAbandonedTransactionFreesTheWriter(t *testing.T) {
	db := testdb.Open(t)
	if db.Dialect.IsPostgres() {
		t.Skip("the writer gate is SQLite's")
	}
	base := viewer.NewSystemContext(context.Background(), "test")
	ctx, cancel := context.WithCancel(base)
	if _, err := db.Client.Tx(ctx); err != nil {
		t.Fatal(err)
	}
	cancel() // the request ends; nobody commits or rolls back
	// The gate would hold the next one for 10 s; it has 3.
	next, stop := context.WithTimeout(base, 3*time.Second)
	defer stop()
	tx, err := db.Client.Tx(next)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.SecurityGroup.Create().SetName("after an abandoned transaction").Exec(next); err != nil {
		t.Fatalf("the transaction after an abandoned one: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Transactions on SQLite take turns on one connection, whatever else uses
// the pool meanwhile: a connection that another one has written behind
// starts its next transaction with an empty page cache. A TEMP table lives
// on its connection only, so the second transaction sees the first one's
// exactly when both ran on the same connection.
func TestWriteTransactionsShareOneConnection(t *testing.T) {
	db := testdb.Open(t)
	if db.Dialect.IsPostgres() {
		t.Skip("the writer connection is SQLite's")
	}
	ctx := viewer.NewSystemContext(context.Background(), "test")
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE writer_probe (n int)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// A reader takes the pool's most recently used connection.
	reader, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	tx, err = db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO writer_probe VALUES (1)`); err != nil {
		t.Errorf("the next transaction ran on another connection: %v", err)
	}
}

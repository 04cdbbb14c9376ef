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

package txn_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/txn"
	"github.com/whisper-health/whisper/internal/viewer"
)

func TestRun(t *testing.T) {
	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	errBoom := errors.New("boom")
	deadlock := &pq.Error{Code: "40P01"}
	tests := []struct {
		name string
		// fails is the error of each attempt in turn; nil commits.
		fails        []error
		wantErr      error
		wantAttempts int
		wantRows     int
		wantEvents   int
	}{
		{name: "commit publishes after commit", fails: []error{nil}, wantAttempts: 1, wantRows: 1, wantEvents: 1},
		{name: "error rolls back and publishes nothing", fails: []error{errBoom}, wantErr: errBoom, wantAttempts: 1},
		{name: "deadlock victim runs again", fails: []error{deadlock, nil}, wantAttempts: 2, wantRows: 1, wantEvents: 1},
		{name: "serialisation failure runs again", fails: []error{&pq.Error{Code: "40001"}, nil}, wantAttempts: 2, wantRows: 1, wantEvents: 1},
		{name: "three aborts give up", fails: []error{deadlock, deadlock, deadlock, nil}, wantErr: deadlock, wantAttempts: txn.MaxAttempts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bus := pubsub.NewMemory()
			sub := bus.Subscribe(16)
			defer sub.Close()
			before := db.Client.SecurityGroup.Query().CountX(ctx)
			attempts := 0
			err := txn.New(db.Client, bus, log).Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
				attempt := tc.fails[attempts]
				attempts++
				if err := tx.SecurityGroup.Create().SetName("group " + tc.name).Exec(ctx); err != nil {
					return err
				}
				emit(pubsub.Event{Kind: pubsub.ChannelChanged})
				return attempt
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			if attempts != tc.wantAttempts {
				t.Errorf("got %d attempts, want %d", attempts, tc.wantAttempts)
			}
			if got := db.Client.SecurityGroup.Query().CountX(ctx) - before; got != tc.wantRows {
				t.Errorf("got %d new rows, want %d", got, tc.wantRows)
			}
			// Publish is synchronous on the memory bus, so the events are
			// queued by the time Run returns.
			if got := len(sub.C()); got != tc.wantEvents {
				t.Errorf("got %d events, want %d", got, tc.wantEvents)
			}
		})
	}
}

// A panic inside a transaction rolls it back on its way up: the writes are
// gone and the next transaction starts at once (on SQLite the writer gate
// is free again; before, it stayed taken and every later transaction
// waited out the gate's 10 s).
func TestPanicRollsBack(t *testing.T) {
	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := txn.New(db.Client, pubsub.NewMemory(), log)
	before := db.Client.SecurityGroup.Query().CountX(ctx)
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("recovered %v, want the panic to go on up", p)
			}
		}()
		_ = r.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
			tx.SecurityGroup.Create().SetName("written, then a panic").ExecX(ctx)
			panic("boom")
		})
	}()
	// The next transaction must not wait for the abandoned one: it has 3 s
	// (the gate would hold it for 10).
	next, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := r.Run(next, func(tx *ent.Tx, _ txn.Emit) error {
		return tx.SecurityGroup.Create().SetName("after the panic").Exec(next)
	}); err != nil {
		t.Fatalf("the transaction after a panic: %v", err)
	}
	if got := db.Client.SecurityGroup.Query().CountX(ctx); got != before+1 {
		t.Errorf("got %d groups, want %d (the panicked write rolled back, the next one kept)", got, before+1)
	}
}

package messenger

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
)

// Most messages have no clientMessageID, and the two indexes that find a
// retry by it leave them out, sparing every such send two index writes.
// A retry must still find its message through the index of its sender's
// kind, not by reading every message of the sender: the lookup's
// "client_message_id = ?" implies the indexes' condition, on both
// databases. PostgreSQL plans from statistics, so it gets a table of
// staff and patient retries, analysed.
func TestARetryIsFoundThroughItsIndex(t *testing.T) {
	db := testdb.Open(t)
	exec := func(stmt string, args ...any) { t.Helper(); testdb.Exec(t, db, stmt, args...) }
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	exec(`INSERT INTO users (id, created_at, updated_at, name, email) VALUES ('us_retry', ?, ?, 'Dr Chen', 'chen@retry.clinic')`, at, at)
	exec(`INSERT INTO patients (id, created_at, updated_at, patient_number, first_name, last_name) VALUES ('pa_retry', ?, ?, 'P1', 'Olivia', 'Brown')`, at, at)
	exec(`INSERT INTO channels (id, created_at, updated_at, kind, last_activity_at) VALUES ('ch_retry', ?, ?, 'PATIENT', ?)`, at, at, at)
	for i := range 200 {
		sender := "sender_id"
		if i%2 == 1 {
			sender = "sender_patient_id"
		}
		exec(`INSERT INTO messages (id, seq, kind, body, sms, client_message_id, created_at, txid, channel_id, `+sender+`)
			VALUES (?, ?, 'USER', 'hello', false, ?, ?, ?, 'ch_retry', ?)`,
			fmt.Sprintf("ms_retry_%03d", i), i+1, fmt.Sprintf("retry-%03d", i), at, i+1, map[bool]string{true: "us_retry", false: "pa_retry"}[i%2 == 0])
	}
	if db.Dialect.IsPostgres() {
		exec(`ANALYZE messages`)
	}
	for index, sender := range map[string]string{
		"message_sender_id_client_message_id":         "sender_id",
		"message_sender_patient_id_client_message_id": "sender_patient_id",
	} {
		plan := explain(t, db, testdb.Rebind(db, "SELECT id FROM messages WHERE "+sender+" = ? AND client_message_id = ?"), "us_retry", "retry-000")
		if !strings.Contains(plan, index) {
			t.Errorf("a retry by %s is not looked up through %s: %s", sender, index, plan)
		}
	}
}

// explain returns the plan of query on db as one line of text. On
// PostgreSQL sequential scans are off for it: a small table is cheapest
// to read whole, and the question is which index serves the lookup.
func explain(t *testing.T, db *store.DB, query string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	prefix := "EXPLAIN QUERY PLAN "
	if db.Dialect.IsPostgres() {
		prefix = "EXPLAIN "
		if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		defer conn.ExecContext(context.Background(), "RESET enable_seqscan")
	}
	rows, err := conn.QueryContext(ctx, prefix+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case string:
				plan.WriteString(v + " ")
			case []byte:
				plan.WriteString(string(v) + " ")
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}

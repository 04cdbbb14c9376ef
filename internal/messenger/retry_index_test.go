package messenger

import (
	"context"
	"strings"
	"testing"

	"github.com/whisper-health/whisper/internal/testdb"
)

// Most messages have no clientMessageID, and the two indexes that find a
// retry by it leave them out, sparing every such send two index writes.
// A retry must still find its message through them, not by reading every
// message of the sender: the lookup's "client_message_id = ?" implies the
// indexes' condition, on both databases.
func TestARetryIsFoundThroughItsIndex(t *testing.T) {
	db := testdb.Open(t)
	ctx := context.Background()
	lookups := map[string]string{
		"message_sender_id_client_message_id":         "sender_id",
		"message_sender_patient_id_client_message_id": "sender_patient_id",
	}
	for index, sender := range lookups {
		q := "SELECT id FROM messages WHERE " + sender + " = ? AND client_message_id = ?"
		explain := "EXPLAIN QUERY PLAN "
		if db.Dialect.IsPostgres() {
			q = strings.Replace(strings.Replace(q, "?", "$1", 1), "?", "$2", 1)
			explain = "EXPLAIN "
		}
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if db.Dialect.IsPostgres() {
			// An empty table is cheapest to read whole; the question is
			// whether the index can serve the lookup at all.
			if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := conn.QueryContext(ctx, explain+q, "us_1", "retry-1")
		if err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		cols, _ := rows.Columns()
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
		rows.Close()
		if db.Dialect.IsPostgres() {
			_, _ = conn.ExecContext(ctx, "RESET enable_seqscan")
		}
		conn.Close()
		// SQLite takes the index of the sender's kind. PostgreSQL, with
		// empty tables and no statistics, may take either: what matters
		// is that an index on client_message_id serves the lookup.
		want := index
		if db.Dialect.IsPostgres() {
			want = "_client_message_id on messages"
		}
		if !strings.Contains(plan.String(), want) {
			t.Errorf("a retry by %s is not looked up through %s: %s", sender, index, plan.String())
		}
	}
}

package messenger

import (
	"context"
	"fmt"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/store"
)

// Timeouts of a message-writing transaction on PostgreSQL: while one runs
// the live stream waits for it, so it must not run (or sit idle) for long.
const (
	writeStatementTimeout = "15s"
	writeIdleTimeout      = "10s"
)

// announceMessageWrite marks the transaction of c as one that writes
// messages, before it takes its stream id: it takes MessageWriterLock in
// shared mode until commit (the stream horizon waits only for such
// transactions) and bounds its statements and idle time. The stream id is
// then raised to this statement's successor's snapshot, which is taken
// after the announcement is visible.
func announceMessageWrite(ctx context.Context, c *ent.Client) error {
	q := fmt.Sprintf("SELECT pg_advisory_xact_lock_shared(%d, %d), set_config('statement_timeout', '%s', true), "+
		"set_config('idle_in_transaction_session_timeout', '%s', true)",
		store.MessageWriterLockClass, store.MessageWriterLockID, writeStatementTimeout, writeIdleTimeout)
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("announcing a message write: %w", err)
	}
	return rows.Close()
}

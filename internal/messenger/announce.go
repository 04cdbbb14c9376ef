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

// announceMessageWrite marks the transaction of c as one that may write
// messages: it takes MessageWriterLock in shared mode until commit (the
// stream horizon waits only for such transactions) and bounds its
// statements and idle time. It reports whether the transaction had
// announced itself already. The messenger's own transactions announce
// themselves first thing, before they have an id, so any id they take is
// taken once the horizon can see them; a transaction begun elsewhere (a
// caller's, passed in) announces itself in advance, and its stream id is
// then raised to the next statement's snapshot (see advance).
func announceMessageWrite(ctx context.Context, c *ent.Client) (already bool, err error) {
	q := fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' "+
		"AND classid = %d AND objid = %d AND objsubid = 2), "+
		"pg_advisory_xact_lock_shared(%d, %d)::text, set_config('statement_timeout', '%s', true), "+
		"set_config('idle_in_transaction_session_timeout', '%s', true)",
		store.MessageWriterLockClass, store.MessageWriterLockID,
		store.MessageWriterLockClass, store.MessageWriterLockID, writeStatementTimeout, writeIdleTimeout)
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		return false, fmt.Errorf("announcing a message write: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var lock, timeout, idle string
		if err := rows.Scan(&already, &lock, &timeout, &idle); err != nil {
			return false, fmt.Errorf("announcing a message write: %w", err)
		}
	}
	return already, rows.Close()
}

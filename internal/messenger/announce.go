package messenger

import (
	"context"
	"fmt"
	"sync"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/store"
)

// Timeouts of a message-writing transaction on PostgreSQL: while one runs
// the live stream waits for it, so it must not run (or sit idle) for long.
// They are variables only so that tests can shorten them.
var (
	writeStatementTimeout = "15s"
	writeIdleTimeout      = "10s"
)

// announcedSetting is the transaction-local setting an announcement sets
// with the lock: reading it tells a transaction whether it announced itself
// already without reading pg_locks.
const announcedSetting = "whisper.message_writer"

// streamFloorSetting is the transaction-local setting that holds the lowest
// stream id a late-announced transaction's messages may take (see advance).
const streamFloorSetting = "whisper.stream_floor"

// announceMessageWrite marks the transaction of c as one that may write
// messages: it takes MessageWriterLock in shared mode until commit (the
// stream horizon waits only for such transactions) and bounds its
// statements and idle time. It reports whether the transaction had
// announced itself already. The messenger's own transactions announce
// themselves first thing, before they have an id, so any id they take is
// taken once the horizon can see them (see announcedTxs); a transaction
// begun elsewhere (a caller's, passed in) announces itself in advance, and
// its stream id is then raised to the next statement's snapshot (see
// advance).
func announceMessageWrite(ctx context.Context, c *ent.Client) (already bool, err error) {
	// The transaction-local setting says whether it has: no need to read
	// pg_locks, which copies the server's whole lock table.
	rows, err := c.QueryContext(ctx, "SELECT coalesce(current_setting('"+announcedSetting+"', true), '') = 'on'")
	if err != nil {
		return false, fmt.Errorf("announcing a message write: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&already); err != nil {
			return false, fmt.Errorf("announcing a message write: %w", err)
		}
	}
	if err := rows.Close(); err != nil {
		return false, fmt.Errorf("announcing a message write: %w", err)
	}
	if already {
		return true, nil
	}
	return false, announce(ctx, c)
}

// announce takes MessageWriterLock, sets announcedSetting and the write
// timeouts, in one statement. It also makes the transaction's prepared
// statements run their generic plans: a message write is a handful of
// point reads and writes by key, which PostgreSQL would otherwise plan
// again for their parameters every time (planning the send's WITH … UPDATE
// took longer than running it).
func announce(ctx context.Context, c *ent.Client) error {
	if _, err := c.ExecContext(ctx, announcement()); err != nil {
		return fmt.Errorf("announcing a message write: %w", err)
	}
	return nil
}

// announcement is announce's statement.
func announcement() string {
	return fmt.Sprintf("SELECT pg_advisory_xact_lock_shared(%d, %d)::text, set_config('%s', 'on', true), "+
		"set_config('plan_cache_mode', 'force_generic_plan', true), "+
		"set_config('statement_timeout', '%s', true), set_config('idle_in_transaction_session_timeout', '%s', true)",
		store.MessageWriterLockClass, store.MessageWriterLockID, announcedSetting,
		writeStatementTimeout, writeIdleTimeout)
}

// announcedTxs remembers the messenger's own transactions that announced
// themselves when they began (by their client, which ent keeps for the
// life of the transaction), so advance need not ask the database again.
type announcedTxs struct{ m sync.Map }

// begin announces tx, unless it announced itself with its BEGIN (see
// Service.New), and remembers it until it commits or rolls back.
func (a *announcedTxs) begin(ctx context.Context, tx *ent.Tx) error {
	c := tx.Client()
	if !store.RanAtBegin(ctx) {
		if err := announce(ctx, c); err != nil {
			return err
		}
	}
	a.m.Store(c, struct{}{})
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			defer a.m.Delete(c)
			return next.Commit(ctx, tx)
		})
	})
	tx.OnRollback(func(next ent.Rollbacker) ent.Rollbacker {
		return ent.RollbackFunc(func(ctx context.Context, tx *ent.Tx) error {
			defer a.m.Delete(c)
			return next.Rollback(ctx, tx)
		})
	})
	return nil
}

// has reports whether c is the client of a transaction begin announced.
func (a *announcedTxs) has(c *ent.Client) bool {
	_, ok := a.m.Load(c)
	return ok
}

package messenger

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// A send's transaction holds the live stream back while it runs, so on
// PostgreSQL it carries a statement timeout and an idle-in-transaction
// timeout (README Limits: 15 s and 10 s), and it holds the shared
// message-writer lock the stream horizon waits for, before its message is
// written. The test reads them inside a send's transaction, then
// stalls a send past each (shortened) timeout:
// the send answers an error and changes nothing.
func TestMessageWritesAreBoundedByTimeouts(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("PostgreSQL only: SQLite has no statement or idle timeouts")
	}
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test seed")
	c := db.Client
	u := c.User.Create().SetName("Dr Chen").SetEmail("chen@x.test").SaveX(sctx)
	group := c.Channel.Create().SetKind(channel.KindCUSTOM_GROUP).SetName("Rounds").SaveX(sctx)
	c.ChannelMember.Create().SetChannelID(group.ID).SetUserID(u.ID).ExecX(sctx)
	vctx := viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Staff, UserID: u.ID, Perms: viewer.PermSet(viewer.AccessWhisper)})
	s := quietService(db)

	// stall, when set, runs inside the send's transaction just before its
	// message is inserted.
	var stall func(ctx context.Context, tx *ent.Client) error
	c.Message.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if mm, ok := m.(*ent.MessageMutation); ok && stall != nil && mm.Op().Is(ent.OpCreate) {
				if err := stall(ctx, mm.Client()); err != nil {
					return nil, err
				}
			}
			return next.Mutate(ctx, m)
		})
	})
	unchanged := func(t *testing.T) {
		t.Helper()
		if n := c.Message.Query().Where(message.ChannelID(group.ID)).CountX(sctx); n != 1 {
			t.Errorf("%d messages in the channel, want only the first send's", n)
		}
		if ch := c.Channel.GetX(sctx, group.ID); ch.LastSeq != 1 || ch.MessageCount != 1 {
			t.Errorf("channel at seq %d with %d messages, want 1 and 1", ch.LastSeq, ch.MessageCount)
		}
	}

	t.Run("the send's transaction carries both timeouts and generic plans", func(t *testing.T) {
		var statement, idle, plans string
		var writerLocks int
		stall = func(ctx context.Context, tx *ent.Client) error {
			rows, err := tx.QueryContext(ctx, "SELECT current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout'), current_setting('plan_cache_mode'), "+
				"(SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND mode = 'ShareLock' AND granted "+
				"AND classid = "+strconv.Itoa(store.MessageWriterLockClass)+" AND objid = "+strconv.Itoa(store.MessageWriterLockID)+" AND objsubid = 2)")
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := rows.Scan(&statement, &idle, &plans, &writerLocks); err != nil {
					return err
				}
			}
			return rows.Close()
		}
		if _, err := s.Send(vctx, SendInput{ChannelID: group.ID, Body: "first"}); err != nil {
			t.Fatal(err)
		}
		if statement != "15s" || idle != "10s" {
			t.Errorf("statement_timeout = %q, idle_in_transaction_session_timeout = %q, want 15s and 10s", statement, idle)
		}
		if writerLocks != 1 {
			t.Errorf("the send's transaction holds %d shared message-writer locks, want 1 (the stream horizon waits for it)", writerLocks)
		}
		if plans != "force_generic_plan" {
			t.Errorf("plan_cache_mode = %q in a send's transaction, want force_generic_plan (planning the send's statements took longer than running them)", plans)
		}
		// Outside a message write the session's own settings hold again.
		var after, afterPlans string
		rows, err := c.QueryContext(ctx, "SELECT current_setting('statement_timeout'), current_setting('plan_cache_mode')")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			_ = rows.Scan(&after, &afterPlans)
		}
		_ = rows.Close()
		if after == "15s" || afterPlans == "force_generic_plan" {
			t.Errorf("statement_timeout (%s) or plan_cache_mode (%s) outlived the transaction", after, afterPlans)
		}
	})

	t.Run("a statement past the timeout", func(t *testing.T) {
		defer func(old string) { writeStatementTimeout = old }(writeStatementTimeout)
		writeStatementTimeout = "100ms"
		stall = func(ctx context.Context, tx *ent.Client) error {
			_, err := tx.ExecContext(ctx, "SELECT pg_sleep(30)")
			return err
		}
		start := time.Now()
		_, err := s.Send(vctx, SendInput{ChannelID: group.ID, Body: "stalled statement"})
		if err == nil || !strings.Contains(err.Error(), "statement timeout") {
			t.Fatalf("send with a 30 s statement answered %v, want the statement timeout", err)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("the stalled statement ran %v", d)
		}
		unchanged(t)
	})

	t.Run("a transaction idle past the timeout", func(t *testing.T) {
		defer func(old string) { writeIdleTimeout = old }(writeIdleTimeout)
		writeIdleTimeout = "100ms"
		stall = func(ctx context.Context, tx *ent.Client) error {
			var pid int
			rows, err := tx.QueryContext(ctx, "SELECT pg_backend_pid()")
			if err != nil {
				return err
			}
			for rows.Next() {
				_ = rows.Scan(&pid)
			}
			_ = rows.Close()
			// Sit idle in the transaction until the server ends the session.
			return waitUntil(ctx, func() bool {
				var n int
				r, err := db.SQL.QueryContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
				if err != nil {
					return false
				}
				defer r.Close()
				for r.Next() {
					_ = r.Scan(&n)
				}
				return n == 0
			})
		}
		_, err := s.Send(vctx, SendInput{ChannelID: group.ID, Body: "stalled client"})
		if err == nil {
			t.Fatal("a send whose transaction sat idle past the timeout succeeded")
		}
		unchanged(t)
	})

	stall = nil
	if _, err := s.Send(vctx, SendInput{ChannelID: group.ID, Body: "after"}); err != nil {
		t.Errorf("a send after the timeouts: %v", err)
	}
}

// waitUntil polls cond until it holds, for at most 20 s.
func waitUntil(ctx context.Context, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return errors.New("the server did not end the idle transaction's session")
		case <-tick.C:
		}
	}
	return nil
}

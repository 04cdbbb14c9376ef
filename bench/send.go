package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/pulid"
)

const sendMutation = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }`

const openMutation = `mutation($input: OpenConversationInput!) { openConversation(input: $input) { id } }`

// sendWarmup is how many unmeasured operations each side runs first
// (connection pools, query caches, the planner).
const sendWarmup = 50

// sender is a send baseline: op i writes message i.
type sender interface {
	send(ctx context.Context, i int) error
	Close()
}

// runSend measures sendMessage over HTTP against raw lib/pq transactions
// doing the same writes, with the same concurrency and count.
func runSend(ctx context.Context, srv *server, o Options) (Result, error) {
	return measureSend(ctx, "send", srv, o, func(ctx context.Context, from, to string) (sender, error) {
		return newSendBaseline(ctx, srv.dsn, from, to)
	})
}

// runSendSQLite measures sendMessage on a server of its own over SQLite
// (the default database) against a loop of raw modernc.org/sqlite
// transactions doing the same writes in a database file of its own.
func runSendSQLite(ctx context.Context, _ *server, o Options) (Result, error) {
	dir, err := os.MkdirTemp("", "whisper-bench-sqlite-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	var srv *server
	pprof.Do(ctx, pprof.Labels("side", "whisper"), func(ctx context.Context) {
		srv, err = startServer(ctx, "sqlite:"+filepath.Join(dir, "whisper.db"), o.ServerLog)
	})
	if err != nil {
		return Result{}, fmt.Errorf("starting the SQLite server: %w", err)
	}
	defer srv.Close()
	return measureSend(ctx, "send-sqlite", srv, o, func(ctx context.Context, from, to string) (sender, error) {
		return newSQLiteSendBaseline(ctx, filepath.Join(dir, "baseline.db"), from, to)
	})
}

// measureSend measures sendMessage over HTTP on srv against the baseline
// newBase builds, with the same concurrency and count, taking turns.
func measureSend(ctx context.Context, name string, srv *server, o Options, newBase func(ctx context.Context, from, to string) (sender, error)) (Result, error) {
	logf("bench: %s: %d messages from %d concurrent clients, ours and baseline taking turns in %d rounds", name, o.Sends, o.Concurrency, o.Rounds)
	token, chenID, err := srv.login(ctx, demo.ChenEmail, demo.Password)
	if err != nil {
		return Result{}, err
	}
	patelID, err := srv.user(demo.PatelEmail)
	if err != nil {
		return Result{}, err
	}
	var opened struct {
		OpenConversation struct {
			ID pulid.ID `json:"id"`
		} `json:"openConversation"`
	}
	if err := srv.do(ctx, token, openMutation, map[string]any{"input": map[string]any{"userIDs": []pulid.ID{patelID}}}, &opened); err != nil {
		return Result{}, fmt.Errorf("opening the conversation: %w", err)
	}
	channelID := opened.OpenConversation.ID

	ours := func(ctx context.Context, i int) error {
		return srv.do(ctx, token, sendMutation, map[string]any{"input": map[string]any{
			"channelID": channelID,
			"body":      fmt.Sprintf("bench message %d: the results for your patient are in, please call back", i),
		}}, nil)
	}
	var base sender
	pprof.Do(ctx, pprof.Labels("side", "baseline"), func(ctx context.Context) {
		base, err = newBase(ctx, string(chenID), string(patelID))
	})
	if err != nil {
		return Result{}, fmt.Errorf("baseline set-up: %w", err)
	}
	defer base.Close()
	if _, _, err := loop(ctx, o.Concurrency, sendWarmup, ours); err != nil {
		return Result{}, fmt.Errorf("warming up: %w", err)
	}
	if _, _, err := baselineLoop(ctx, o.Concurrency, sendWarmup, base.send); err != nil {
		return Result{}, fmt.Errorf("warming up the baseline: %w", err)
	}

	// Ours and the baseline take turns, a slice of the sends at a time, so
	// that both meet the same background load and the same table sizes.
	stop, err := profile(o, name)
	if err != nil {
		return Result{}, err
	}
	defer stop()
	var ourLat, baseLat []time.Duration
	var ourElapsed, baseElapsed time.Duration
	rounds := min(o.Rounds, o.Sends)
	for r := range rounds {
		n := o.Sends/rounds + boolInt(r < o.Sends%rounds)
		runOurs := func() error {
			lat, el, err := loop(ctx, o.Concurrency, n, ours)
			ourLat, ourElapsed = append(ourLat, lat...), ourElapsed+el
			if err != nil {
				return fmt.Errorf("sendMessage: %w", err)
			}
			return nil
		}
		runBase := func() error {
			lat, el, err := baselineLoop(ctx, o.Concurrency, n, base.send)
			baseLat, baseElapsed = append(baseLat, lat...), baseElapsed+el
			if err != nil {
				return fmt.Errorf("baseline: %w", err)
			}
			return nil
		}
		first, second := runOurs, runBase
		if r%2 == 1 {
			first, second = runBase, runOurs
		}
		if err := first(); err != nil {
			return Result{}, err
		}
		if err := second(); err != nil {
			return Result{}, err
		}
	}
	stop()

	r := Result{
		Name:     name,
		Unit:     "msg/s",
		Ours:     float64(o.Sends) / ourElapsed.Seconds(),
		Baseline: float64(o.Sends) / baseElapsed.Seconds(),
	}
	r.Ratio = ratio(r.Ours, r.Baseline)
	r.P50, r.P99 = percentile(ourLat, 50), percentile(ourLat, 99)
	r.BaselineP50, r.BaselineP99 = percentile(baseLat, 50), percentile(baseLat, 99)
	logf("bench: %s: ours %.0f/s in %v, baseline %.0f/s in %v", name, r.Ours, ourElapsed.Round(time.Millisecond), r.Baseline, baseElapsed.Round(time.Millisecond))
	return r, nil
}

// baselineLoop is loop with its workers labelled side=baseline.
func baselineLoop(ctx context.Context, conc, n int, op func(ctx context.Context, i int) error) (lat []time.Duration, elapsed time.Duration, err error) {
	pprof.Do(ctx, pprof.Labels("side", "baseline"), func(ctx context.Context) {
		lat, elapsed, err = loop(ctx, conc, n, op)
	})
	return
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// loop runs op n times from conc concurrent workers and returns each
// operation's latency and the elapsed time. The first error stops it.
func loop(ctx context.Context, conc, n int, op func(ctx context.Context, i int) error) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := op(ctx, i); err != nil {
					cancel(fmt.Errorf("operation %d: %w", i, err))
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return nil, 0, err
	}
	return lat, elapsed, nil
}

// sendBaseline does, with raw lib/pq, the writes a send does: in one
// transaction lock the channel row, insert the message (with its sequence
// number and transaction id), advance the channel's counters and move the
// sender's read mark. Its tables have the columns, keys and indexes of
// Whisper's messages, channels and channel_members that these writes touch.
type sendBaseline struct {
	db      *sql.DB
	channel string
	sender  string
	sqlite  bool // the send-sqlite baseline (see newSQLiteSendBaseline)
}

var baselineSchema = []string{
	`CREATE TABLE bench_users (id text PRIMARY KEY, name text NOT NULL)`,
	`CREATE TABLE bench_channels (
		id text PRIMARY KEY,
		kind text NOT NULL,
		name text NOT NULL DEFAULT '',
		last_seq bigint NOT NULL DEFAULT 0,
		message_count bigint NOT NULL DEFAULT 0,
		last_activity_at timestamptz NOT NULL
	)`,
	`CREATE INDEX bench_channels_kind_activity ON bench_channels (kind, last_activity_at)`,
	`CREATE TABLE bench_members (
		id text PRIMARY KEY,
		channel_id text NOT NULL REFERENCES bench_channels (id),
		user_id text NOT NULL REFERENCES bench_users (id),
		last_read_seq bigint NOT NULL DEFAULT 0
	)`,
	`CREATE UNIQUE INDEX bench_members_channel_user ON bench_members (channel_id, user_id)`,
	`CREATE INDEX bench_members_user ON bench_members (user_id)`,
	`CREATE TABLE bench_messages (
		id text PRIMARY KEY,
		channel_id text NOT NULL REFERENCES bench_channels (id),
		seq bigint NOT NULL,
		kind text NOT NULL,
		sender_id text REFERENCES bench_users (id),
		body text NOT NULL,
		sms boolean NOT NULL DEFAULT false,
		client_message_id text,
		created_at timestamptz NOT NULL,
		txid bigint NOT NULL
	)`,
	`CREATE UNIQUE INDEX bench_messages_channel_seq ON bench_messages (channel_id, seq)`,
	`CREATE UNIQUE INDEX bench_messages_sender_client ON bench_messages (sender_id, client_message_id)`,
	`CREATE INDEX bench_messages_created ON bench_messages (created_at)`,
	`CREATE INDEX bench_messages_stream ON bench_messages (txid, channel_id, seq)`,
}

func newSendBaseline(ctx context.Context, dsn, sender, other string) (*sendBaseline, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	// The pool of store.Open.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	b := &sendBaseline{db: db, channel: string(pulid.New("ch")), sender: sender}
	for _, s := range baselineSchema {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	now := time.Now().UTC()
	seed := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO bench_users (id, name) VALUES ($1, 'Dr Wei Chen'), ($2, 'Dr Priya Patel')`, []any{sender, other}},
		{`INSERT INTO bench_channels (id, kind, last_activity_at) VALUES ($1, 'INDIVIDUAL', $2)`, []any{b.channel, now}},
		{`INSERT INTO bench_members (id, channel_id, user_id) VALUES ($1, $3, $4), ($2, $3, $5)`,
			[]any{string(pulid.New("cm")), string(pulid.New("cm")), b.channel, sender, other}},
	}
	for _, s := range seed {
		if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", s.q, err)
		}
	}
	return b, nil
}

func (b *sendBaseline) send(ctx context.Context, i int) (err error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var last int64
	lock := `SELECT last_seq FROM bench_channels WHERE id = $1 FOR UPDATE`
	if b.sqlite {
		lock = `SELECT last_seq FROM bench_channels WHERE id = $1` // the transaction holds the write lock
	}
	if err := tx.QueryRowContext(ctx, b.q(lock), b.channel).Scan(&last); err != nil {
		return err
	}
	seq, now := last+1, time.Now().UTC()
	txid := "pg_current_xact_id()::text::bigint"
	if b.sqlite {
		txid = "$3" // SQLite has no transaction id: the sequence number serves
	}
	if _, err := tx.ExecContext(ctx, b.q(
		`INSERT INTO bench_messages (id, channel_id, seq, kind, sender_id, body, sms, created_at, txid)
		 VALUES ($1, $2, $3, 'USER', $4, $5, false, $6, `+txid+`)`),
		string(pulid.New("ms")), b.channel, seq, b.sender,
		fmt.Sprintf("bench message %d: the results for your patient are in, please call back", i), now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, b.q(
		`UPDATE bench_channels SET last_seq = $1, message_count = message_count + 1, last_activity_at = $2 WHERE id = $3`),
		seq, now, b.channel); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, b.q(
		`UPDATE bench_members SET last_read_seq = $1 WHERE channel_id = $2 AND user_id = $3`),
		seq, b.channel, b.sender); err != nil {
		return err
	}
	return tx.Commit()
}

// q writes a statement's $n placeholders as SQLite's ?n on SQLite.
func (b *sendBaseline) q(stmt string) string {
	if b.sqlite {
		return strings.ReplaceAll(stmt, "$", "?")
	}
	return stmt
}

func (b *sendBaseline) Close() { b.db.Close() }

package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // SQLite driver of the send-sqlite baseline

	"github.com/whisper-health/whisper/internal/pulid"
)

// newSQLiteSendBaseline is sendBaseline on SQLite: the same look-alike
// tables in a database file of its own, opened with the store's settings
// (WAL, synchronous NORMAL, foreign keys, immediate write transactions,
// busy timeout) through one connection, and the same writes in one
// transaction per message — plain statements, as a hand-written loop would
// run them. SQLite has no transaction id: the message's txid is its
// sequence number.
func newSQLiteSendBaseline(ctx context.Context, path, sender, other string) (*sendBaseline, error) {
	dsn := "file:" + filepath.ToSlash(path) +
		"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// SQLite has one writer at a time: one connection queues the senders in
	// Go instead of in SQLite's busy handler.
	db.SetMaxOpenConns(1)
	b := &sendBaseline{db: db, channel: string(pulid.New("ch")), sender: sender, sqlite: true}
	for _, s := range baselineSchema {
		if _, err := db.ExecContext(ctx, strings.ReplaceAll(s, "timestamptz", "datetime")); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	now := time.Now().UTC()
	seed := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO bench_users (id, name) VALUES (?, 'Dr Wei Chen'), (?, 'Dr Priya Patel')`, []any{sender, other}},
		{`INSERT INTO bench_channels (id, kind, last_activity_at) VALUES (?, 'INDIVIDUAL', ?)`, []any{b.channel, now}},
		{`INSERT INTO bench_members (id, channel_id, user_id) VALUES (?, ?, ?), (?, ?, ?)`,
			[]any{string(pulid.New("cm")), b.channel, sender, string(pulid.New("cm")), b.channel, other}},
	}
	for _, s := range seed {
		if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", s.q, err)
		}
	}
	return b, nil
}

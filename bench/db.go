package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"sync"
	"time"

	_ "github.com/lib/pq" // PostgreSQL driver
)

// createDatabase creates an empty database whisper_bench_<random> on the
// server adminURL names and returns its URL and the function that drops it
// (idempotent, and usable after ctx has ended).
func createDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("-admin-url %q is not a postgres:// URL", adminURL)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "whisper_bench_" + hex.EncodeToString(b)
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("creating database %s on %s: %w", name, u.Redacted(), err)
	}
	logf("bench: created database %s", name)
	var once sync.Once
	drop := func() {
		once.Do(func() {
			defer admin.Close()
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := admin.ExecContext(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
				logf("bench: dropping database %s: %v", name, err)
				return
			}
			logf("bench: dropped database %s", name)
		})
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// Package testdb gives each test its own fresh database: a SQLite file in
// the test's temporary directory or, when WHISPER_TEST_DATABASE_URL names a
// PostgreSQL server, a throw-away database created there and dropped after
// the test. One suite, two databases.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/whisper-health/whisper/internal/store"
)

// EnvVar names the PostgreSQL server the suite runs against, when set.
const EnvVar = "WHISPER_TEST_DATABASE_URL"

// Postgres reports whether this run targets PostgreSQL.
func Postgres() bool { return os.Getenv(EnvVar) != "" }

// URL creates an empty database for t and returns its DATABASE_URL.
func URL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvVar)
	if admin == "" {
		return "sqlite:" + filepath.Join(t.TempDir(), "whisper.db")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parsing %s: %v", EnvVar, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "whisper_test_" + hex.EncodeToString(b)
	adb, err := sql.Open("postgres", admin)
	if err != nil {
		t.Fatalf("opening %s: %v", EnvVar, err)
	}
	if _, err := adb.Exec("CREATE DATABASE " + name); err != nil {
		adb.Close()
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		defer adb.Close()
		if _, err := adb.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("dropping test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Open returns a migrated database for t, closed when t ends.
func Open(t testing.TB) *store.DB {
	t.Helper()
	return OpenURL(t, URL(t))
}

// OpenURL opens and migrates the database at rawURL, closed when t ends.
func OpenURL(t testing.TB, rawURL string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrating test database: %v", err)
	}
	return db
}

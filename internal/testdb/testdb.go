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
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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
	return newURL(t, "")
}

// newURL creates a database for t, a copy of template when one is named
// (PostgreSQL only), and returns its DATABASE_URL.
func newURL(t testing.TB, template string) string {
	t.Helper()
	admin := os.Getenv(EnvVar)
	if admin == "" {
		return "sqlite:" + filepath.Join(t.TempDir(), "whisper.db")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parsing %s: %v", EnvVar, err)
	}
	name := "whisper_test_" + randomHex()
	adb, err := sql.Open("postgres", admin)
	if err != nil {
		t.Fatalf("opening %s: %v", EnvVar, err)
	}
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	if _, err := adb.Exec(create); err != nil {
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

// Open returns a migrated database for t, closed when t ends. On
// PostgreSQL it is a copy of a template this test process migrated once
// (migrating costs about a second a database there; copying a fraction).
func Open(t testing.TB) *store.DB {
	t.Helper()
	return OpenURL(t, MigratedURL(t))
}

// MigratedURL creates a database for t whose schema is current and returns
// its DATABASE_URL: on PostgreSQL a copy of the template this process
// migrated once, on SQLite an empty file (opening it migrates it).
func MigratedURL(t testing.TB) string {
	t.Helper()
	if !Postgres() {
		return URL(t)
	}
	tmpl, err := migratedTemplate()
	if err != nil {
		t.Fatalf("preparing the template database: %v", err)
	}
	return newURL(t, tmpl)
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// templatePrefix names the template databases test processes migrate:
// whisper_tmpl_<pid>_<random>.
const templatePrefix = "whisper_tmpl_"

var template struct {
	once sync.Once
	name string
	err  error
}

// migratedTemplate creates and migrates this process's template database
// once. Templates of processes that have ended (same machine) are dropped
// first, so runs leave at most the template of a run that was killed.
func migratedTemplate() (string, error) {
	template.once.Do(func() {
		admin := os.Getenv(EnvVar)
		adb, err := sql.Open("postgres", admin)
		if err != nil {
			template.err = err
			return
		}
		defer adb.Close()
		dropDeadTemplates(adb)
		name := fmt.Sprintf("%s%d_%s", templatePrefix, os.Getpid(), randomHex())
		if _, err := adb.Exec("CREATE DATABASE " + name); err != nil {
			template.err = err
			return
		}
		u, err := url.Parse(admin)
		if err != nil {
			template.err = err
			return
		}
		u.Path = "/" + name
		ctx := context.Background()
		db, err := store.Open(ctx, u.String())
		if err != nil {
			template.err = err
			return
		}
		err = db.Migrate(ctx)
		db.Close() // a template takes no connections while it is copied
		template.name, template.err = name, err
	})
	return template.name, template.err
}

// dropDeadTemplates drops the templates whose test process is gone.
func dropDeadTemplates(adb *sql.DB) {
	rows, err := adb.Query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, templatePrefix+"%")
	if err != nil {
		return
	}
	var names []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			names = append(names, n)
		}
	}
	rows.Close()
	for _, n := range names {
		pid, _, ok := strings.Cut(strings.TrimPrefix(n, templatePrefix), "_")
		if !ok {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue // its process still runs
		}
		_, _ = adb.Exec("DROP DATABASE IF EXISTS " + n + " WITH (FORCE)")
	}
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

// PreviousRelease creates a database holding what the release before
// versioned migrations left behind — its schema, made by auto-migration, and
// rows in the important tables (the demo practice plus conversations,
// messages, labels, a patient conversation, a notification, sessions) — and
// returns its DATABASE_URL. The dumps are internal/store/testdata/release-0-*.sql
// (sqlite3 .dump and pg_dump --inserts of that release's server).
func PreviousRelease(t testing.TB) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	name := "release-0-sqlite.sql"
	if Postgres() {
		name = "release-0-postgres.sql"
	}
	script, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "store", "testdata", name))
	if err != nil {
		t.Fatalf("reading the previous release's dump: %v", err)
	}
	rawURL := URL(t)
	ctx := context.Background()
	// A connection of its own: the dump changes session settings.
	db, err := store.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	defer db.Close()
	if _, err := db.SQL.ExecContext(ctx, string(script)); err != nil {
		t.Fatalf("loading the previous release's dump: %v", err)
	}
	return rawURL
}

// Rebind writes stmt's ? placeholders as db's dialect wants them: as they
// are on SQLite, $1, $2, … on PostgreSQL. It is for tests' hand-written
// SQL, whose literals hold no '?'.
func Rebind(db *store.DB, stmt string) string {
	if !db.Dialect.IsPostgres() {
		return stmt
	}
	for i := 1; strings.Contains(stmt, "?"); i++ {
		stmt = strings.Replace(stmt, "?", fmt.Sprintf("$%d", i), 1)
	}
	return stmt
}

// Exec runs hand-written SQL with ? placeholders on db (see Rebind),
// failing t if it fails.
func Exec(t testing.TB, db *store.DB, stmt string, args ...any) {
	t.Helper()
	if _, err := db.SQL.ExecContext(context.Background(), Rebind(db, stmt), args...); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

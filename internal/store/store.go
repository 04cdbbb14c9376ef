// Package store owns the connection to Whisper's database — SQLite as the
// embedded default, PostgreSQL in production — and keeps its schema current.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/lib/pq"  // PostgreSQL driver
	_ "modernc.org/sqlite" // pure-Go SQLite driver

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/migrate"
	_ "github.com/whisper-health/whisper/ent/runtime" // policies, hooks and defaults
)

// DefaultSQLitePath is where the embedded database lives when DATABASE_URL
// is unset.
const DefaultSQLitePath = "whisper.db"

// DB is an open database.
type DB struct {
	Client  *ent.Client
	SQL     *sql.DB
	Dialect string
	// Source is the database location with any password removed, for logs.
	Source string
}

// Open connects to the database named by rawURL: "" (SQLite at
// whisper.db), "sqlite:<path>" or "file:<path>" (SQLite), or
// "postgres://…" / "postgresql://…" (PostgreSQL).
func Open(ctx context.Context, rawURL string) (*DB, error) {
	drv, dsn, source, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	sqldb, err := sql.Open(drv, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	d := dialect.SQLite
	if drv == "postgres" {
		d = dialect.Postgres
		sqldb.SetMaxOpenConns(20)
		sqldb.SetMaxIdleConns(10)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("connecting to %s: %w", source, err)
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(d, sqldb)))
	return &DB{Client: client, SQL: sqldb, Dialect: d, Source: source}, nil
}

// ValidateURL reports why rawURL is not a database location Open accepts
// (see Open), without connecting; nil when it is one.
func ValidateURL(rawURL string) error {
	_, _, _, err := parse(rawURL)
	return err
}

// parse maps a DATABASE_URL to a driver name, its DSN and a loggable source.
func parse(rawURL string) (drv, dsn, source string, err error) {
	switch {
	case rawURL == "":
		return "sqlite", sqliteDSN(DefaultSQLitePath), "sqlite:" + DefaultSQLitePath, nil
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		u, err := url.Parse(rawURL)
		if err != nil {
			return "", "", "", errors.New("not a valid postgres:// URL")
		}
		if u.Host == "" {
			return "", "", "", errors.New("postgres URL has no host")
		}
		return "postgres", rawURL, u.Redacted(), nil
	case strings.HasPrefix(rawURL, "sqlite:"), strings.HasPrefix(rawURL, "file:"):
		path := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "file:")
		path = strings.TrimPrefix(path, "//")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			return "", "", "", errors.New("sqlite URL has no file path")
		}
		return "sqlite", sqliteDSN(path), "sqlite:" + path, nil
	}
	return "", "", "", errors.New(`must start with postgres://, postgresql://, sqlite: or file:`)
}

// sqliteDSN enables foreign keys (ent refuses to migrate without them), waits
// on a busy database instead of failing, uses WAL so readers never block the
// writer, and starts write transactions immediately so two writers queue
// instead of deadlocking on a lock upgrade.
func sqliteDSN(path string) string {
	return "file:" + filepath.ToSlash(path) +
		"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite"
}

// migrationLockKey is the PostgreSQL advisory lock that serialises schema
// upgrades between replicas starting together.
const migrationLockKey = 72_616_873 // "whisper" folded into an int

// Migrate creates missing tables, columns and indexes. It never drops a
// column or an index, so an upgrade keeps every existing row; on PostgreSQL it
// holds an advisory lock so concurrent replicas upgrade one at a time.
func (db *DB) Migrate(ctx context.Context) error {
	if db.Dialect == dialect.Postgres {
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			return fmt.Errorf("reserving connection for migration lock: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
			return fmt.Errorf("taking migration lock: %w", err)
		}
		defer func() {
			// Unlock on a fresh context so a cancelled start-up still releases it.
			_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLockKey)
		}()
	}
	err := db.Client.Schema.Create(ctx,
		migrate.WithDropColumn(false),
		migrate.WithDropIndex(false),
		migrate.WithForeignKeys(true),
	)
	if err != nil {
		return fmt.Errorf("migrating schema: %w", err)
	}
	if db.Dialect == dialect.Postgres {
		// The live stream's horizon function; and, because the audit page
		// searches message text with ILIKE '%…%', a trigram index that keeps
		// that fast on millions of messages (pg_trgm is a trusted extension,
		// so the database owner may create it).
		for _, stmt := range []string{
			streamHorizon,
			`CREATE EXTENSION IF NOT EXISTS pg_trgm`,
			`CREATE INDEX IF NOT EXISTS messages_body_trgm ON messages USING gin (body gin_trgm_ops)`,
		} {
			if _, err := db.SQL.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("creating text search index: %w", err)
			}
		}
	}
	return nil
}

// streamHorizon is the live stream's commit horizon (see internal/live): the
// oldest transaction id still running in this database, or the next one to
// be assigned. It reads the calling statement's snapshot (the function is
// STABLE), so it agrees with the rows that statement sees. Transactions of
// other databases on the same server are left out, so that they cannot hold
// back delivery; when their database cannot be told (pg_stat_activity hides
// other roles' sessions from unprivileged users) they count, which is safe.
const streamHorizon = `CREATE OR REPLACE FUNCTION whisper_stream_horizon() RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT COALESCE(
    (SELECT min(x::text::bigint) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
      WHERE (x::text::bigint % 4294967296) NOT IN (
        SELECT backend_xid::text::bigint FROM pg_stat_activity
        WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())),
    pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
$$`

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.SQL.PingContext(ctx)
}

// Close closes the database.
func (db *DB) Close() error {
	return db.Client.Close()
}

// Package store owns the connection to Whisper's database — SQLite as the
// embedded default, PostgreSQL in production — and keeps its schema current
// with the versioned migrations in migrations/ (see Migrate).
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/lib/pq"  // PostgreSQL driver
	"modernc.org/sqlite" // pure-Go SQLite driver

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/migrate"
	_ "github.com/whisper-health/whisper/ent/runtime" // policies, hooks and defaults
	"github.com/whisper-health/whisper/internal/tracing"
)

// DefaultSQLitePath is where the embedded database lives when DATABASE_URL
// is unset.
const DefaultSQLitePath = "whisper.db"

// Dialect is the SQL dialect of an open database. The domain packages are
// given it once, from the store, for the few statements that differ: row
// locks, SKIP LOCKED, transaction ids and the commit horizon exist only on
// PostgreSQL (SQLite serialises writers itself).
type Dialect string

// The dialects Open connects to; the values are ent's dialect names.
const (
	SQLite   Dialect = dialect.SQLite
	Postgres Dialect = dialect.Postgres
)

// IsPostgres reports whether d is PostgreSQL.
func (d Dialect) IsPostgres() bool { return d == Postgres }

// DB is an open database.
type DB struct {
	Client  *ent.Client
	SQL     *sql.DB
	Dialect Dialect
	// Source is the database location with any password removed, for logs.
	Source string
}

// Open connects to the database named by rawURL: "" (SQLite at
// whisper.db), "sqlite:<path>" or "file:<path>" (SQLite), or
// "postgres://…" / "postgresql://…" (PostgreSQL).
func Open(ctx context.Context, rawURL string) (*DB, error) {
	drvName, dsn, source, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	var connector driver.Connector
	if drvName == "postgres" {
		connector, err = pq.NewConnector(dsn)
	} else {
		connector, err = sqlite.NewConnector(dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	// Statements stay prepared on their connection (see cachingConnector).
	sqldb := sql.OpenDB(cachingConnector{Connector: connector, postgres: drvName == "postgres"})
	d := dialect.SQLite
	if drvName == "postgres" {
		d = dialect.Postgres
		setPool(sqldb, DefaultPoolSize)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
	} else {
		// Readers run side by side (WAL); database/sql would keep only two
		// of their connections open between uses, and open (PRAGMAs,
		// statements prepared again) and close the others at every burst.
		sqldb.SetMaxIdleConns(SQLiteIdleConns)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("connecting to %s: %w", source, err)
	}
	var drv entDriver = entsql.OpenDB(d, sqldb)
	if d == dialect.SQLite {
		drv = newGatedDriver(drv.(*entsql.Driver))
	}
	if tracing.Enabled() {
		drv = tracedDriver{drv}
	}
	client := ent.NewClient(ent.Driver(drv))
	return &DB{Client: client, SQL: sqldb, Dialect: Dialect(d), Source: source}, nil
}

// SQLiteIdleConns is how many SQLite connections a process keeps open
// between uses (the writer's included); more are opened when needed.
const SQLiteIdleConns = 8

// DefaultPoolSize is how many PostgreSQL connections a replica holds at
// most unless SetPoolSize says otherwise (WHISPER_DB_MAX_CONNS).
const DefaultPoolSize = 20

// SetPoolSize makes the replica hold at most n PostgreSQL connections,
// keeping half of them open while idle. Every statement waits for a free
// connection beyond that; the server's own LISTEN connection and the
// PostgreSQL server's max_connections are outside this count. SQLite has
// one database file and ignores it.
func (d *DB) SetPoolSize(n int) {
	if d.Dialect.IsPostgres() && n > 0 {
		setPool(d.SQL, n)
	}
}

func setPool(sqldb *sql.DB, n int) {
	sqldb.SetMaxOpenConns(n)
	sqldb.SetMaxIdleConns(max(1, n/2))
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

// Migrate brings the schema up to date: it runs the versioned migrations
// this release carries that the database has not recorded yet, in order,
// each recorded in RevisionTable (a database created by an older release's
// auto-migration is adopted first; see migrateVersioned), then re-asserts
// the objects outside the ent schema (extras). On PostgreSQL it holds an
// advisory lock throughout, so replicas starting together upgrade one at a
// time and the later ones find nothing to do.
func (db *DB) Migrate(ctx context.Context) error {
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := db.migrateVersioned(ctx, time.Now()); err != nil {
		return err
	}
	return db.extras(ctx)
}

// AutoMigrate is the upgrade of the releases before versioned migrations:
// ent's auto-migration (creates missing tables, columns and indexes; never
// drops a column or an index) and the row upgrades of older releases,
// under the same lock as Migrate. It records nothing in RevisionTable.
// Migrate uses it to adopt such databases, and tests compare the schema it
// builds with the one the migration files build.
func (db *DB) AutoMigrate(ctx context.Context) error {
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := db.autoMigrate(ctx); err != nil {
		return err
	}
	return db.extras(ctx)
}

// lockMigrations takes the migration lock on PostgreSQL (on a connection
// of its own, released by the returned function); SQLite is one process.
func (db *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	if !db.Dialect.IsPostgres() {
		return func() {}, nil
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("reserving connection for migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		conn.Close()
		return nil, fmt.Errorf("taking migration lock: %w", err)
	}
	return func() {
		// Unlock on a fresh context so a cancelled start-up still releases it.
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLockKey)
		conn.Close()
	}, nil
}

// autoMigrate runs ent's auto-migration and the row upgrades; the caller
// holds the lock.
func (db *DB) autoMigrate(ctx context.Context) error {
	if !db.Dialect.IsPostgres() {
		// A table ent rebuilds must not be named by a trigger (see
		// dropMemberVersionSQLite); extras creates them again.
		for _, s := range dropMemberVersionSQLite {
			if _, err := db.SQL.ExecContext(ctx, s); err != nil {
				return err
			}
		}
	}
	// Columns an older release had, read before the upgrade changes them.
	oldLinks, err := db.hasColumn(ctx, "patients", "message_patients")
	if err != nil {
		return err
	}
	announcing, err := db.hasColumn(ctx, "notifications", "announced_at")
	if err != nil {
		return err
	}
	err = db.Client.Schema.Create(ctx,
		migrate.WithDropColumn(false),
		migrate.WithDropIndex(false),
		migrate.WithForeignKeys(true),
	)
	if err != nil {
		return fmt.Errorf("migrating schema: %w", err)
	}
	return db.upgradeData(ctx, oldLinks, !announcing)
}

// extras creates, idempotently and at every start, what the ent schema
// cannot say and so no migration file holds: the join-table index the
// audit log reads by, the membership version triggers (members.go), and on
// PostgreSQL the stream horizon function and the optional trigram indexes.
func (db *DB) extras(ctx context.Context) error {
	if err := db.createMemberVersion(ctx); err != nil {
		return err
	}
	// The audit log reads a patient's messages through the join table.
	if _, err := db.SQL.ExecContext(ctx,
		`CREATE INDEX IF NOT EXISTS message_patients_patient ON message_patients (patient_id, message_id)`); err != nil {
		return fmt.Errorf("creating the message_patients index: %w", err)
	}
	if db.Dialect.IsPostgres() {
		if _, err := db.SQL.ExecContext(ctx, streamHorizon); err != nil {
			return fmt.Errorf("creating the stream horizon: %w", err)
		}
		db.textSearchIndexes(ctx)
	}
	return nil
}

// upgradeData brings rows written by older releases into the current shape.
// Each step is idempotent, so a replica that finds it done changes nothing.
func (db *DB) upgradeData(ctx context.Context, oldLinks, backfillAnnounced bool) error {
	ph := "?"
	if db.Dialect.IsPostgres() {
		ph = "$1"
	}
	var steps []string
	if oldLinks {
		// Message ↔ patient links were once a column on patients (so a
		// patient could be linked to one message only); they now live in the
		// message_patients join table.
		steps = append(steps,
			`INSERT INTO message_patients (message_id, patient_id)
			   SELECT message_patients, id FROM patients WHERE message_patients IS NOT NULL
			   ON CONFLICT DO NOTHING`,
			`UPDATE patients SET message_patients = NULL WHERE message_patients IS NOT NULL`)
	}
	steps = append(steps,
		// Memberships from before membership history: they count from the
		// channel's start (the hooks on ChannelMember keep it from now on).
		`INSERT INTO membership_spans (id, channel_id, user_id, joined_seq, created_at)
		   SELECT 'mh' || substr(cm.id, 3), cm.channel_id, cm.user_id, 0, cm.created_at FROM channel_members cm
		   WHERE NOT EXISTS (SELECT 1 FROM membership_spans s WHERE s.channel_id = cm.channel_id AND s.user_id = cm.user_id)
		   ON CONFLICT DO NOTHING`)
	for _, stmt := range steps {
		if _, err := db.SQL.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("upgrading rows: %w", err)
		}
	}
	if backfillAnnounced {
		// Notifications already delivered before the reminders worker
		// claimed them count as announced; reminders still to come do not.
		if _, err := db.SQL.ExecContext(ctx,
			`UPDATE notifications SET announced_at = deliver_at WHERE announced_at IS NULL AND deliver_at <= `+ph,
			time.Now().UTC()); err != nil {
			return fmt.Errorf("upgrading notifications: %w", err)
		}
	}
	return nil
}

// textSearchIndexes adds the trigram indexes that keep the audit page's
// ILIKE '%…%' searches fast on millions of rows. pg_trgm is a trusted
// extension, so a database owner may create it; a role that cannot still
// starts, with a warning, and searches without the indexes.
func (db *DB) textSearchIndexes(ctx context.Context) {
	if _, err := db.SQL.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_trgm`); err != nil {
		slog.Warn("pg_trgm is not available; audit text search runs without trigram indexes", "err", err)
		return
	}
	for _, stmt := range []string{
		`CREATE INDEX IF NOT EXISTS messages_body_trgm ON messages USING gin (body gin_trgm_ops)`,
		`CREATE INDEX IF NOT EXISTS notifications_title_trgm ON notifications USING gin (title gin_trgm_ops)`,
		`CREATE INDEX IF NOT EXISTS notifications_body_trgm ON notifications USING gin (body gin_trgm_ops)`,
	} {
		if _, err := db.SQL.ExecContext(ctx, stmt); err != nil {
			slog.Warn("creating a text search index", "err", err)
		}
	}
}

// hasColumn reports whether table exists and has column.
func (db *DB) hasColumn(ctx context.Context, table, column string) (bool, error) {
	q := `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`
	if db.Dialect.IsPostgres() {
		q = `SELECT count(*) FROM information_schema.columns
		     WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`
	}
	var n int
	if err := db.SQL.QueryRowContext(ctx, q, table, column).Scan(&n); err != nil {
		return false, fmt.Errorf("inspecting schema: %w", err)
	}
	return n > 0, nil
}

// MessageWriterLock is the advisory lock (two int4 keys) every
// message-writing transaction holds in shared mode from before its first
// message (see messenger's announcement): the stream horizon waits only for
// transactions that hold it, so a foreign transaction — a migration, a bulk
// import, a person in psql — never holds back live delivery.
const (
	MessageWriterLockClass = 1464357712 // "WHSP"
	MessageWriterLockID    = 1
)

// streamHorizon is the live stream's commit horizon (see internal/live):
// the oldest transaction id, in the calling statement's snapshot, of the
// transactions still running that may write messages, or the next id to be
// assigned. A writer that was not yet visible when the horizon was read
// takes its messages' stream ids at or above that next id (messenger's
// transactions announce themselves before they take an id; one begun
// elsewhere has its stream id raised to its next snapshot's xmax), so
// nothing can commit beneath a released position.
//
// Which running ids may write messages is read from one copy of the lock
// table, taken after the snapshot: an id is left out only when the lock
// table shows it held (its ExclusiveLock on itself) by a transaction that
// does not hold MessageWriterLock in this database. Everything else holds
// the horizon back: an announced writer (it takes MessageWriterLock before
// its id, and gives its id lock back before MessageWriterLock), but also an
// id whose lock is not in the copy — one assigned a moment ago (an id
// enters snapshots before its lock is taken) or one that ended after the
// snapshot (its rows are not in the snapshot, so nothing past it may be
// released). Those last two hold back for one scan only. Waiters on an id
// (ShareLock, not granted) do not count as its holder. Nothing here reads
// pg_stat_activity, and PL/pgSQL keeps the plan for the session; the
// function is STABLE, so it sees the calling statement's snapshot.
const streamHorizon = `CREATE OR REPLACE FUNCTION whisper_stream_horizon() RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
  snap pg_snapshot := pg_current_snapshot();
  db oid := (SELECT oid FROM pg_database WHERE datname = current_database());
BEGIN
  RETURN COALESCE(
    (WITH l AS MATERIALIZED (
       SELECT locktype, virtualtransaction, transactionid::text::bigint AS xid, database FROM pg_locks
       WHERE (locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted)
          OR (locktype = 'advisory' AND classid = 1464357712 AND objid = 1 AND objsubid = 2))
     SELECT min(x::text::bigint) FROM pg_snapshot_xip(snap) AS x
     WHERE NOT EXISTS (
       SELECT 1 FROM l t WHERE t.locktype = 'transactionid' AND t.xid = x::text::bigint % 4294967296
         AND NOT EXISTS (SELECT 1 FROM l a WHERE a.locktype = 'advisory' AND a.database = db
                           AND a.virtualtransaction = t.virtualtransaction))),
    pg_snapshot_xmax(snap)::text::bigint);
END
$$`

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.SQL.PingContext(ctx)
}

// Close closes the database.
func (db *DB) Close() error {
	return db.Client.Close()
}

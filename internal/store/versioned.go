package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
)

// The versioned migrations, one directory per dialect (SQLite and
// PostgreSQL DDL differ), each with Atlas's atlas.sum integrity file. They
// are written by `go generate ./...` (internal/store/migrations/gen.go) from
// the ent schema and never edited by hand once released.
//
//go:embed migrations/sqlite migrations/postgres
var migrationFiles embed.FS

// RevisionTable is the table that records which migrations ran, and when.
const RevisionTable = "whisper_schema_migrations"

// Migration is one versioned migration and its state in a database.
type Migration struct {
	// Version orders migrations (a UTC timestamp, YYYYMMDDhhmmss).
	Version string
	// Name says what the migration does ("baseline", "changes", …).
	Name string
	// AppliedAt is when it ran here; nil while it is pending.
	AppliedAt *time.Time
	// Adopted marks a migration recorded, not run: the database was created
	// by the auto-migration of a release before versioned migrations and
	// brought up to date by it (see Migrate).
	Adopted bool
}

// Pending reports whether m has not run on the database yet.
func (m Migration) Pending() bool { return m.AppliedAt == nil }

// migrationDir returns the embedded migration directory of d, checked
// against its atlas.sum.
func migrationDir(d Dialect) (atlasmigrate.Dir, error) {
	sub := "migrations/sqlite"
	if d.IsPostgres() {
		sub = "migrations/postgres"
	}
	entries, err := fs.ReadDir(migrationFiles, sub)
	if err != nil {
		return nil, err
	}
	dir := &atlasmigrate.MemDir{}
	for _, e := range entries {
		b, err := fs.ReadFile(migrationFiles, path.Join(sub, e.Name()))
		if err != nil {
			return nil, err
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	if err := atlasmigrate.Validate(dir); err != nil {
		return nil, fmt.Errorf("migration files do not match their atlas.sum: %w", err)
	}
	return dir, nil
}

// createRevisionTable is portable SQL for the revision table.
const createRevisionTable = `CREATE TABLE IF NOT EXISTS ` + RevisionTable + ` (
	version varchar(32) NOT NULL PRIMARY KEY,
	name varchar(255) NOT NULL,
	applied_at timestamp NOT NULL,
	adopted boolean NOT NULL DEFAULT false
)`

// MigrationStatus lists every migration this release carries, oldest
// first, with when each ran on the database (nil while pending), plus any
// the database recorded that this release does not know (a newer release
// ran there). It changes nothing.
func (db *DB) MigrationStatus(ctx context.Context) ([]Migration, error) {
	dir, err := migrationDir(db.Dialect)
	if err != nil {
		return nil, err
	}
	files, err := dir.Files()
	if err != nil {
		return nil, err
	}
	applied, err := db.appliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Migration, 0, len(files))
	for _, f := range files {
		m := Migration{Version: f.Version(), Name: f.Desc()}
		if a, ok := applied[f.Version()]; ok {
			m.AppliedAt, m.Adopted = a.AppliedAt, a.Adopted
			delete(applied, f.Version())
		}
		out = append(out, m)
	}
	for _, a := range applied {
		out = append(out, a)
	}
	sortMigrations(out)
	return out, nil
}

// Unversioned reports whether the database was created by a release
// before versioned migrations and not yet adopted: its tables exist but
// no migration is recorded. Migrate adopts such a database.
func (db *DB) Unversioned(ctx context.Context) (bool, error) {
	applied, err := db.appliedMigrations(ctx)
	if err != nil || len(applied) > 0 {
		return false, err
	}
	return db.hasTable(ctx, "users")
}

// sortMigrations orders by version (insertion sort: a handful of rows).
func sortMigrations(ms []Migration) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].Version < ms[j-1].Version; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// appliedMigrations reads the revision table; empty when it does not exist.
func (db *DB) appliedMigrations(ctx context.Context) (map[string]Migration, error) {
	exists, err := db.hasTable(ctx, RevisionTable)
	if err != nil || !exists {
		return map[string]Migration{}, err
	}
	rows, err := db.SQL.QueryContext(ctx, `SELECT version, name, applied_at, adopted FROM `+RevisionTable)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", RevisionTable, err)
	}
	defer rows.Close()
	out := map[string]Migration{}
	for rows.Next() {
		var m Migration
		var at time.Time
		if err := rows.Scan(&m.Version, &m.Name, &at, &m.Adopted); err != nil {
			return nil, fmt.Errorf("reading %s: %w", RevisionTable, err)
		}
		at = at.UTC()
		m.AppliedAt = &at
		out[m.Version] = m
	}
	return out, rows.Err()
}

// hasTable reports whether table exists in the database's current schema.
func (db *DB) hasTable(ctx context.Context, table string) (bool, error) {
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if db.Dialect.IsPostgres() {
		q = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`
	}
	var n int
	if err := db.SQL.QueryRowContext(ctx, q, table).Scan(&n); err != nil {
		return false, fmt.Errorf("inspecting schema: %w", err)
	}
	return n > 0, nil
}

// migrateVersioned runs the pending migrations in version order, each in
// its own transaction together with its revision row. The caller holds
// the migration lock. A database that an older release created by
// auto-migration (its tables exist, no migration is recorded) is adopted
// instead: brought up to date by that same additive upgrade, then every
// migration of this release is recorded as applied (adopted). Tests keep
// the two paths equal (TestVersionedMatchesAutoMigration).
func (db *DB) migrateVersioned(ctx context.Context, now time.Time) (ran int, err error) {
	if _, err := db.SQL.ExecContext(ctx, createRevisionTable); err != nil {
		return 0, fmt.Errorf("creating %s: %w", RevisionTable, err)
	}
	dir, err := migrationDir(db.Dialect)
	if err != nil {
		return 0, err
	}
	files, err := dir.Files()
	if err != nil {
		return 0, err
	}
	applied, err := db.appliedMigrations(ctx)
	if err != nil {
		return 0, err
	}
	if len(applied) == 0 {
		legacy, err := db.Unversioned(ctx)
		if err != nil {
			return 0, err
		}
		if legacy {
			return 0, db.adopt(ctx, files, now)
		}
	}
	for _, f := range files {
		if _, ok := applied[f.Version()]; ok {
			continue
		}
		if err := db.apply(ctx, f, now); err != nil {
			return ran, err
		}
		ran++
	}
	return ran, nil
}

// adopt brings a database created by auto-migration up to date the way
// older releases did and records every migration as applied.
func (db *DB) adopt(ctx context.Context, files []atlasmigrate.File, now time.Time) error {
	if err := db.autoMigrate(ctx); err != nil {
		return err
	}
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, f := range files {
		if err := db.record(ctx, tx, f, now, true); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// record writes f's revision row in tx.
func (db *DB) record(ctx context.Context, tx *sql.Tx, f atlasmigrate.File, now time.Time, adopted bool) error {
	q := `INSERT INTO ` + RevisionTable + ` (version, name, applied_at, adopted) VALUES (?, ?, ?, ?)`
	if db.Dialect.IsPostgres() {
		q = `INSERT INTO ` + RevisionTable + ` (version, name, applied_at, adopted) VALUES ($1, $2, $3, $4)`
	}
	if _, err := tx.ExecContext(ctx, q, f.Version(), f.Desc(), now.UTC(), adopted); err != nil {
		return fmt.Errorf("recording migration %s: %w", f.Name(), err)
	}
	return nil
}

// apply runs one migration file and records it, in one transaction. On
// SQLite, where Atlas rebuilds a table to change it, foreign keys are off
// on the migration's connection during the transaction (a pragma that has
// no effect inside one) and checked before commit.
func (db *DB) apply(ctx context.Context, f atlasmigrate.File, now time.Time) error {
	stmts, err := f.Stmts()
	if err != nil {
		return fmt.Errorf("reading migration %s: %w", f.Name(), err)
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if !db.Dialect.IsPostgres() {
		if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = off`); err != nil {
			return err
		}
		defer func() { _, _ = conn.ExecContext(context.Background(), `PRAGMA foreign_keys = on`) }()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process may have run it meanwhile (SQLite has no advisory
	// lock; its write transaction serialises instead).
	q := `SELECT count(*) FROM ` + RevisionTable + ` WHERE version = ?`
	if db.Dialect.IsPostgres() {
		q = `SELECT count(*) FROM ` + RevisionTable + ` WHERE version = $1`
	}
	var done int
	if err := tx.QueryRowContext(ctx, q, f.Version()).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		return nil
	}
	if !db.Dialect.IsPostgres() {
		for _, s := range dropMemberVersionSQLite {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return err
			}
		}
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("migration %s: %w", f.Name(), err)
		}
	}
	if !db.Dialect.IsPostgres() {
		if err := recreateMemberVersionSQLite(ctx, tx); err != nil {
			return err
		}
	}
	if !db.Dialect.IsPostgres() {
		rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			return err
		}
		bad := rows.Next()
		rows.Close()
		if bad {
			return fmt.Errorf("migration %s: leaves rows that violate a foreign key", f.Name())
		}
	}
	if err := db.record(ctx, tx, f, now, false); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: %w", f.Name(), err)
	}
	return nil
}

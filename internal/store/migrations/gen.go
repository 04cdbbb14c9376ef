//go:build ignore

// Command gen writes the versioned schema migrations: for each dialect it
// replays the migration directory on an empty development database, diffs
// the result against the ent schema (ent/migrate.Tables) and, when they
// differ, writes one new migration file and updates atlas.sum. When the
// directory already produces the ent schema it writes nothing, so running
// it again changes nothing. It runs from the repository root through
// go generate (see generate.go); WHISPER_MIGRATION_NAME names a new file
// (default "changes").
//
// SQLite diffs against an in-memory database. PostgreSQL needs a server:
// a throw-away database is created on the one WHISPER_MIGRATE_DEV_URL names
// (else WHISPER_TEST_DATABASE_URL's, else postgres://postgres@127.0.0.1:5432)
// and dropped afterwards. When that server cannot be reached the PostgreSQL directory
// is skipped with a warning — except under CI (CI set), where it is an
// error, so CI always checks both directories.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/whisper-health/whisper/ent/migrate"
)

const root = "internal/store/migrations"

func main() {
	log.SetFlags(0)
	log.SetPrefix("migrations: ")
	name := os.Getenv("WHISPER_MIGRATION_NAME")
	if name == "" {
		name = "changes"
	}
	if !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(name) {
		log.Fatalf("WHISPER_MIGRATION_NAME %q: use lower-case letters, digits and _", name)
	}
	ctx := context.Background()
	// One version for both dialects' files of this change.
	version := time.Now().UTC().Format("20060102150405")

	lite, err := sql.Open("sqlite", "file:whisper-migrate-dev?mode=memory&_pragma=foreign_keys(1)")
	if err != nil {
		log.Fatal(err)
	}
	lite.SetMaxOpenConns(1)
	if err := diff(ctx, dialect.SQLite, lite, version, name); err != nil {
		log.Fatalf("sqlite: %v", err)
	}
	lite.Close()

	if err := postgres(ctx, version, name); err != nil {
		if os.Getenv("CI") != "" {
			log.Fatalf("postgres: %v", err)
		}
		log.Printf("WARNING: PostgreSQL migrations not checked (%v); CI checks them. Start PostgreSQL on 127.0.0.1:5432 or set WHISPER_MIGRATE_DEV_URL", err)
	}
}

// postgres diffs the PostgreSQL directory on a throw-away database.
func postgres(ctx context.Context, version, name string) error {
	admin := os.Getenv("WHISPER_MIGRATE_DEV_URL")
	if admin == "" {
		// The test suite's server (CI sets it before generating).
		admin = os.Getenv("WHISPER_TEST_DATABASE_URL")
	}
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	adb, err := sql.Open("postgres", admin)
	if err != nil {
		return err
	}
	defer adb.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := adb.PingContext(pctx); err != nil {
		return fmt.Errorf("no development server: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	dev := "whisper_migrate_dev_" + hex.EncodeToString(b)
	if _, err := adb.ExecContext(ctx, "CREATE DATABASE "+dev); err != nil {
		return err
	}
	defer func() {
		if _, err := adb.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+dev+" WITH (FORCE)"); err != nil {
			log.Printf("dropping %s: %v", dev, err)
		}
	}()
	u, err := url.Parse(admin)
	if err != nil {
		return err
	}
	u.Path = "/" + dev
	pg, err := sql.Open("postgres", u.String())
	if err != nil {
		return err
	}
	defer pg.Close()
	return diff(ctx, dialect.Postgres, pg, version, name)
}

// diff writes a migration for what the ent schema has beyond the replayed
// directory of dialect d, using db as the empty development database.
func diff(ctx context.Context, d string, db *sql.DB, version, name string) error {
	sub := "sqlite"
	if d == dialect.Postgres {
		sub = "postgres"
	}
	path := filepath.Join(root, sub)
	dir, err := atlasmigrate.NewLocalDir(path)
	if err != nil {
		return err
	}
	m, err := schema.NewMigrate(entsql.OpenDB(d, db),
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithFormatter(versioned(version)),
		schema.WithErrNoPlan(true),
		// The same options as the auto-migration older releases ran
		// (store.AutoMigrate), so both build one schema.
		schema.WithDropColumn(false),
		schema.WithDropIndex(false),
		schema.WithForeignKeys(true),
	)
	if err != nil {
		return err
	}
	err = m.NamedDiff(ctx, name, migrate.Tables...)
	if errors.Is(err, atlasmigrate.ErrNoPlan) {
		return nil
	}
	if err != nil {
		return err
	}
	log.Printf("wrote a new %s migration in %s: review it and commit it with atlas.sum", sub, path)
	return nil
}

// versioned formats a plan as Atlas does by default (<version>_<name>.sql),
// with the version fixed for the whole run.
type versioned string

func (v versioned) Format(p *atlasmigrate.Plan) ([]atlasmigrate.File, error) {
	cp := *p
	cp.Version = string(v)
	return atlasmigrate.DefaultFormatter.Format(&cp)
}

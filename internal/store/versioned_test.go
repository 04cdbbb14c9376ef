package store_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"ariga.io/atlas/sql/migrate"
	atlaspostgres "ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	atlassqlite "ariga.io/atlas/sql/sqlite"

	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// open opens rawURL, closed when t ends.
func open(t *testing.T, rawURL string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// inspect reads db's schema as Atlas sees it, without the revision table.
func inspect(t *testing.T, db *store.DB) (*schema.Schema, schema.Differ) {
	t.Helper()
	ctx := context.Background()
	var (
		drv interface {
			schema.Inspector
			schema.Differ
		}
		err error
	)
	if db.Dialect.IsPostgres() {
		drv, err = atlaspostgres.Open(db.SQL)
	} else {
		drv, err = atlassqlite.Open(db.SQL)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := drv.InspectSchema(ctx, "", nil)
	if err != nil {
		t.Fatalf("inspecting schema: %v", err)
	}
	tables := s.Tables[:0]
	for _, tb := range s.Tables {
		if tb.Name != store.RevisionTable {
			tables = append(tables, tb)
		}
	}
	s.Tables = tables
	return s, drv
}

// sameSchema fails t with the statements that would turn a's schema into
// b's, if any.
func sameSchema(t *testing.T, what string, a, b *store.DB) {
	t.Helper()
	sa, drv := inspect(t, a)
	sb, _ := inspect(t, b)
	changes, err := drv.SchemaDiff(sa, sb)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) == 0 {
		return
	}
	plan, err := drv.(migrate.PlanApplier).PlanChanges(context.Background(), "diff", changes)
	if err != nil {
		t.Fatalf("%s: %d differences: %v", what, len(changes), err)
	}
	var stmts []string
	for _, c := range plan.Changes {
		stmts = append(stmts, c.Cmd)
	}
	t.Errorf("%s: the schemas differ by:\n%s\n(a schema change without its migration? run go generate ./...)", what, strings.Join(stmts, ";\n"))
}

// TestVersionedMatchesAutoMigration keeps the migration files and the ent
// schema from drifting apart: an empty database migrated by the files has
// exactly the schema that ent's auto-migration builds from ent/schema.
// A schema change without its migration (go generate ./...) fails here.
func TestVersionedMatchesAutoMigration(t *testing.T) {
	ctx := context.Background()
	versioned := open(t, testdb.URL(t))
	if err := versioned.Migrate(ctx); err != nil {
		t.Fatalf("versioned migration: %v", err)
	}
	auto := open(t, testdb.URL(t))
	if err := auto.AutoMigrate(ctx); err != nil {
		t.Fatalf("auto-migration: %v", err)
	}
	sameSchema(t, "versioned → auto", versioned, auto)
}

// TestMigrationStatusAndRecord: an empty database has every migration
// pending; after Migrate each is recorded as run (not adopted) with its
// time, and a second Migrate runs nothing and changes no record.
func TestMigrationStatusAndRecord(t *testing.T) {
	ctx := context.Background()
	db := open(t, testdb.URL(t))
	before, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) == 0 || before[0].Name != "baseline" {
		t.Fatalf("migrations = %+v, want the baseline first", before)
	}
	for _, m := range before {
		if !m.Pending() {
			t.Errorf("%s_%s applied on an empty database", m.Version, m.Name)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("after Migrate %d migrations, before %d", len(after), len(before))
	}
	for i, m := range after {
		if m.Version != before[i].Version || m.Pending() || m.Adopted {
			t.Errorf("after Migrate: %+v, want %s run", m, before[i].Version)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	again, _ := db.MigrationStatus(ctx)
	for i, m := range again {
		if !m.AppliedAt.Equal(*after[i].AppliedAt) {
			t.Errorf("second Migrate re-recorded %s", m.Version)
		}
	}
}

// rowCounts counts the rows of every table but the revision table.
func rowCounts(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	s, _ := inspect(t, db)
	out := map[string]int{}
	for _, tb := range s.Tables {
		var n int
		if err := db.SQL.QueryRow(`SELECT count(*) FROM ` + tb.Name).Scan(&n); err != nil {
			t.Fatalf("counting %s: %v", tb.Name, err)
		}
		out[tb.Name] = n
	}
	return out
}

// TestUpgradeFromPreviousRelease starts the current code on a database
// the previous release (auto-migration, no migration record) left with
// rows in it: every row is kept, the migrations are recorded, nothing is
// pending, the schema is the one the migration files build, and the old
// rows work.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")
	old := open(t, testdb.PreviousRelease(t))
	before := rowCounts(t, old)
	if before["messages"] == 0 || before["users"] == 0 || before["channel_members"] == 0 {
		t.Fatalf("fixture has too few rows: %v", before)
	}
	if err := old.Migrate(ctx); err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	after := rowCounts(t, old)
	var tables []string
	for name := range before {
		tables = append(tables, name)
	}
	sort.Strings(tables)
	for _, name := range tables {
		if after[name] != before[name] {
			t.Errorf("%s: %d rows after the upgrade, %d before", name, after[name], before[name])
		}
	}
	status, err := old.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range status {
		if m.Pending() || !m.Adopted {
			t.Errorf("after the upgrade: %+v, want recorded as adopted", m)
		}
	}
	fresh := open(t, testdb.URL(t))
	if err := fresh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sameSchema(t, "upgraded → fresh", old, fresh)

	// The old rows work with the current code.
	chen := old.Client.User.Query().Where(user.Email("dr.chen@demo.clinic")).OnlyX(sctx)
	msgs := old.Client.Message.Query().Where(message.SenderID(chen.ID)).AllX(sctx)
	if len(msgs) == 0 {
		t.Fatalf("Dr Chen's messages are gone")
	}
	ch := old.Client.Channel.Query().Where(channel.KindEQ(channel.KindINDIVIDUAL), channel.HasMembersWith()).FirstX(sctx)
	old.Client.Message.Create().SetChannelID(ch.ID).SetSeq(ch.LastSeq + 1).SetBody("after the upgrade").SetSenderID(chen.ID).ExecX(sctx)
	if err := old.Migrate(ctx); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
}

// TestReplicasUpgradeTogether: three replicas start on the previous
// release's database at once; the advisory lock lets one adopt it and the
// others find it done — no error, one record per migration, no row lost.
func TestReplicasUpgradeTogether(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("replicas share one database only on PostgreSQL")
	}
	ctx := context.Background()
	url := testdb.PreviousRelease(t)
	before := rowCounts(t, open(t, url))
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		db := open(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- db.Migrate(ctx)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("replica: %v", err)
		}
	}
	db := open(t, url)
	var records, distinct int
	if err := db.SQL.QueryRow(`SELECT count(*), count(DISTINCT version) FROM `+store.RevisionTable).Scan(&records, &distinct); err != nil {
		t.Fatal(err)
	}
	status, _ := db.MigrationStatus(ctx)
	if records != len(status) || distinct != records {
		t.Errorf("%d records (%d versions) for %d migrations", records, distinct, len(status))
	}
	after := rowCounts(t, db)
	for name, n := range before {
		if after[name] != n {
			t.Errorf("%s: %d rows after, %d before", name, after[name], n)
		}
	}
}

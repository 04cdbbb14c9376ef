package store_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"ariga.io/atlas/sql/migrate"
	atlaspostgres "ariga.io/atlas/sql/postgres"
	"ariga.io/atlas/sql/schema"
	atlassqlite "ariga.io/atlas/sql/sqlite"

	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/ent/usertoken"
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

// TestPortalMigrationKeepsUserTokens: a database the baseline release left
// with invitation and reset links in user_tokens goes through the portal
// migration (on SQLite a rebuild of the table, on PostgreSQL a new column)
// with every link kept as it was, no patient on any, the migration recorded
// as run, and the schema a fresh database has; the current code finds a
// link by its hash and reads its user.
func TestPortalMigrationKeepsUserTokens(t *testing.T) {
	const baseline, portal = "20261206211512", "20261206222755"
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")
	db := open(t, testdb.URL(t))
	if err := db.MigrateThrough(ctx, baseline); err != nil {
		t.Fatalf("migrating to the baseline: %v", err)
	}
	q := func(s string) string { return testdb.Rebind(db, s) }
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	for _, u := range []string{"us01BASELINEUSER0000000001", "us01BASELINEUSER0000000002"} {
		if _, err := db.SQL.ExecContext(ctx, q(`INSERT INTO users (id, created_at, updated_at, name, email) VALUES (?, ?, ?, ?, ?)`),
			u, at, at, "Baseline "+u[len(u)-1:], u+"@demo.clinic"); err != nil {
			t.Fatalf("a user of the baseline release: %v", err)
		}
	}
	used := at.Add(time.Hour)
	type link struct {
		id, user, purpose, hash string
		expires                 time.Time
		usedAt                  *time.Time
		createdBy               *string
	}
	admin := "us01BASELINEUSER0000000002"
	links := []link{
		{"ut01BASELINELINK0000000001", "us01BASELINEUSER0000000001", "INVITATION", strings.Repeat("a", 64), at.Add(7 * 24 * time.Hour), nil, &admin},
		{"ut01BASELINELINK0000000002", "us01BASELINEUSER0000000001", "RESET", strings.Repeat("b", 64), at.Add(time.Hour), &used, nil},
		{"ut01BASELINELINK0000000003", "us01BASELINEUSER0000000002", "RESET", strings.Repeat("c", 64), at.Add(2 * time.Hour), nil, nil},
	}
	for _, l := range links {
		if _, err := db.SQL.ExecContext(ctx, q(`INSERT INTO user_tokens (id, created_at, updated_at, user_id, purpose, token_hash, expires_at, used_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`), l.id, at, at, l.user, l.purpose, l.hash, l.expires, l.usedAt, l.createdBy); err != nil {
			t.Fatalf("a link of the baseline release: %v", err)
		}
	}
	if st, _ := db.MigrationStatus(ctx); len(st) < 2 || st[0].Pending() || st[1].Version != portal || !st[1].Pending() {
		t.Fatalf("before the upgrade: %+v, want the baseline run and the portal migration pending", st)
	}

	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range st {
		if m.Pending() || m.Adopted {
			t.Errorf("after the upgrade: %+v, want run", m)
		}
	}
	got := db.Client.UserToken.Query().Order(usertoken.ByID()).AllX(sctx)
	if len(got) != len(links) {
		t.Fatalf("%d links after the upgrade, %d before", len(got), len(links))
	}
	for i, l := range links {
		g := got[i]
		same := string(g.ID) == l.id && string(g.UserID) == l.user && g.PatientID == nil &&
			string(g.Purpose) == l.purpose && g.TokenHash == l.hash && g.ExpiresAt.Equal(l.expires) && g.CreatedAt.Equal(at) &&
			(g.UsedAt == nil) == (l.usedAt == nil) && (l.usedAt == nil || g.UsedAt.Equal(*l.usedAt)) &&
			(g.CreatedBy == nil) == (l.createdBy == nil) && (l.createdBy == nil || string(*g.CreatedBy) == *l.createdBy)
		if !same {
			t.Errorf("link %s after the upgrade: user %s patient %v purpose %s hash %s expires %v used %v by %v; before: user %s purpose %s hash %s expires %v used %v by %v",
				l.id, g.UserID, g.PatientID, g.Purpose, g.TokenHash, g.ExpiresAt, g.UsedAt, g.CreatedBy,
				l.user, l.purpose, l.hash, l.expires, l.usedAt, l.createdBy)
		}
	}
	invite := db.Client.UserToken.Query().Where(usertoken.TokenHash(links[0].hash), usertoken.PurposeEQ(usertoken.PurposeINVITATION)).OnlyX(sctx)
	if u := db.Client.User.GetX(sctx, invite.UserID); u.Email != links[0].user+"@demo.clinic" {
		t.Errorf("the invitation's user is %s, want %s", u.Email, links[0].user)
	}
	fresh := open(t, testdb.URL(t))
	if err := fresh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sameSchema(t, "upgraded from the baseline → fresh", db, fresh)
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

// TestRetryIndexMigrationKeepsMessages: the migration that leaves messages
// without a clientMessageID out of the retry indexes rebuilds SQLite's
// messages table. Every message survives it with its labels, patient links
// and reply (the tables that point at messages delete on cascade, which a
// rebuild with foreign keys on would trigger), and a retry's
// clientMessageID is still unique per sender.
func TestRetryIndexMigrationKeepsMessages(t *testing.T) {
	const before = "20261207041845"
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")
	db := open(t, testdb.URL(t))
	if err := db.MigrateThrough(ctx, before); err != nil {
		t.Fatalf("migrating to %s: %v", before, err)
	}
	exec := func(stmt string, args ...any) { t.Helper(); testdb.Exec(t, db, stmt, args...) }
	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	const chen, ch, olivia, lab = "us01RETRYUSER000000000001", "ch01RETRYCHANNEL000000001", "pa01RETRYPATIENT000000001", "la01RETRYLABEL00000000001"
	exec(`INSERT INTO users (id, created_at, updated_at, name, email) VALUES (?, ?, ?, ?, ?)`, chen, at, at, "Dr Chen", "chen@retry.clinic")
	exec(`INSERT INTO patients (id, created_at, updated_at, patient_number, first_name, last_name) VALUES (?, ?, ?, ?, ?, ?)`, olivia, at, at, "P1", "Olivia", "Brown")
	exec(`INSERT INTO channels (id, created_at, updated_at, kind, last_seq, last_activity_at) VALUES (?, ?, ?, 'CUSTOM_GROUP', 3, ?)`, ch, at, at, at)
	msgs := []struct {
		id       string
		clientID any
		replyTo  any
	}{
		{"ms01RETRYMESSAGE000000001", nil, nil},
		{"ms01RETRYMESSAGE000000002", "draft-7", nil},
		{"ms01RETRYMESSAGE000000003", nil, "ms01RETRYMESSAGE000000001"},
	}
	for i, m := range msgs {
		exec(`INSERT INTO messages (id, seq, kind, body, sms, client_message_id, created_at, txid, channel_id, sender_id, reply_to_id)
			VALUES (?, ?, 'USER', ?, false, ?, ?, ?, ?, ?, ?)`, m.id, i+1, fmt.Sprintf("message %d", i+1), m.clientID, at, i+1, ch, chen, m.replyTo)
	}
	exec(`INSERT INTO labels (id, created_at, updated_at, name, owner_id) VALUES (?, ?, ?, 'Follow up', ?)`, lab, at, at, chen)
	exec(`INSERT INTO label_messages (label_id, message_id) VALUES (?, ?)`, lab, msgs[0].id)
	exec(`INSERT INTO message_patients (message_id, patient_id) VALUES (?, ?)`, msgs[1].id, olivia)

	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	got := db.Client.Message.Query().Order(message.BySeq()).WithLabels().WithPatients().AllX(sctx)
	if len(got) != len(msgs) {
		t.Fatalf("%d messages after the upgrade, %d before", len(got), len(msgs))
	}
	if l := got[0].Edges.Labels; len(l) != 1 || string(l[0].ID) != lab {
		t.Errorf("message 1's labels after the upgrade: %v, want %s", l, lab)
	}
	if p := got[1].Edges.Patients; len(p) != 1 || string(p[0].ID) != olivia {
		t.Errorf("message 2's patients after the upgrade: %v, want %s", p, olivia)
	}
	if got[1].ClientMessageID == nil || *got[1].ClientMessageID != "draft-7" {
		t.Errorf("message 2's clientMessageID after the upgrade: %v, want draft-7", got[1].ClientMessageID)
	}
	if r := got[2].ReplyToID; r == nil || string(*r) != msgs[0].id {
		t.Errorf("message 3 replies to %v after the upgrade, want %s", r, msgs[0].id)
	}
	// The same clientMessageID from the same sender is refused; messages
	// without one are not in the index and never collide.
	insert := `INSERT INTO messages (id, seq, kind, body, sms, client_message_id, created_at, txid, channel_id, sender_id)
		VALUES (?, ?, 'USER', 'again', false, ?, ?, ?, ?, ?)`
	if _, err := db.SQL.ExecContext(ctx, testdb.Rebind(db, insert), "ms01RETRYMESSAGE000000004", 4, "draft-7", at, 4, ch, chen); err == nil {
		t.Error("a second message with the sender's clientMessageID draft-7 was accepted")
	}
	exec(insert, "ms01RETRYMESSAGE000000005", 5, nil, at, 5, ch, chen)
}

package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/label"
	"github.com/whisper-health/whisper/ent/membershipspan"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// TestUpgradeKeepsRows simulates a database written by an older release — a
// column and two tables that did not exist yet — and checks that migrating
// it brings the schema up to date without losing a row.
func TestUpgradeKeepsRows(t *testing.T) {
	url := testdb.URL(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")

	old := testdb.OpenURL(t, url)
	u := old.Client.User.Create().SetName("Dr Old").SetEmail("old@demo.clinic").SetJobTitle("GP").SaveX(sctx)
	p := old.Client.Patient.Create().SetPatientNumber("P9999").SetFirstName("Ada").SetLastName("Old").SaveX(sctx)
	// A message that linked the patient when links were a column on
	// patients, and a membership from before membership history.
	ch := old.Client.Channel.Create().SetKind(channel.KindINDIVIDUAL).SetLastSeq(1).SaveX(sctx)
	old.Client.ChannelMember.Create().SetChannelID(ch.ID).SetUserID(u.ID).ExecX(sctx)
	m := old.Client.Message.Create().SetChannelID(ch.ID).SetSeq(1).SetBody("about Ada").SetSenderID(u.ID).AddPatientIDs(p.ID).SaveX(sctx)
	oldLink := `UPDATE patients SET message_patients = '` + string(m.ID) + `'`
	for _, stmt := range []string{
		`DROP TABLE message_patients`,
		`ALTER TABLE patients ADD COLUMN message_patients varchar(28) NULL`,
		oldLink,
		`DROP TABLE membership_spans`,
		`DROP TABLE label_messages`,
		`DROP TABLE labels`,
		`ALTER TABLE users DROP COLUMN job_title`,
		// Releases before versioned migrations kept no record.
		`DROP TABLE ` + store.RevisionTable,
	} {
		if _, err := old.SQL.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("making the old schema (%s): %v", stmt, err)
		}
	}
	old.Close()

	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("upgrading: %v", err)
	}
	got := db.Client.User.GetX(sctx, u.ID)
	if got.Name != "Dr Old" || got.Email != "old@demo.clinic" {
		t.Errorf("user after upgrade = %q %q, want the row as it was", got.Name, got.Email)
	}
	if got.JobTitle != nil {
		t.Errorf("re-added job_title = %q, want NULL for old rows", *got.JobTitle)
	}
	if db.Client.Patient.GetX(sctx, p.ID).PatientNumber != "P9999" {
		t.Errorf("patient lost in upgrade")
	}
	// The old link moved to the join table, and the patient can now be
	// linked to a second message.
	if got := db.Client.Patient.QueryMessages(db.Client.Patient.GetX(sctx, p.ID)).IDsX(sctx); len(got) != 1 || got[0] != m.ID {
		t.Errorf("patient's messages after upgrade = %v, want the old link %s", got, m.ID)
	}
	db.Client.Message.Create().SetChannelID(ch.ID).SetSeq(2).SetBody("Ada again").SetSenderID(u.ID).AddPatientIDs(p.ID).ExecX(sctx)
	if n := db.Client.Message.Query().Where(message.HasPatientsWith(patient.ID(p.ID))).CountX(sctx); n != 2 {
		t.Errorf("messages linking the patient = %d, want 2", n)
	}
	// The old membership has a history from the channel's start.
	spans := db.Client.MembershipSpan.Query().Where(membershipspan.ChannelID(ch.ID)).AllX(sctx)
	if len(spans) != 1 || spans[0].UserID != u.ID || spans[0].JoinedSeq != 0 || spans[0].LeftSeq != nil {
		t.Errorf("membership history after upgrade = %+v, want one open span from 0", spans)
	}
	// The new table works.
	db.Client.Label.Create().SetOwnerID(u.ID).SetName("After upgrade").SaveX(sctx)
	if n := db.Client.Label.Query().Where(label.OwnerID(u.ID)).CountX(sctx); n != 1 {
		t.Errorf("labels after upgrade = %d, want 1", n)
	}
	// Migrating again changes nothing.
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second migration: %v", err)
	}
}

// TestConcurrentMigrations starts several "replicas" on one empty database
// at once; the migration lock lets every one of them succeed.
func TestConcurrentMigrations(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("replicas share one database only on PostgreSQL")
	}
	url := testdb.URL(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("replica migration: %v", err)
		}
	}
}

func TestOpenRejectsBadURLs(t *testing.T) {
	for _, url := range []string{"mysql://x", "postgres://", "sqlite:", "whisper.db"} {
		if _, err := store.Open(context.Background(), url); err == nil {
			t.Errorf("Open(%q) succeeded, want an error", url)
		}
	}
}

// A role that may create tables but not extensions still starts: the
// trigram indexes are skipped with a warning instead of failing start-up.
func TestMigrateWithoutExtensionRights(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("extensions are PostgreSQL's")
	}
	ctx := context.Background()
	admin, err := sql.Open("postgres", os.Getenv(testdb.EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "whisper_noext_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
		t.Fatalf("creating role: %v", err)
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(ctx, "DROP ROLE IF EXISTS "+role) })
	dbURL := testdb.URL(t) // dropped before the role (cleanups run last-first)
	u, _ := url.Parse(dbURL)
	name := strings.TrimPrefix(u.Path, "/")
	owner, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	for _, stmt := range []string{
		"REVOKE CREATE ON DATABASE " + name + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + name + " TO " + role,
		"GRANT USAGE, CREATE ON SCHEMA public TO " + role,
	} {
		if _, err := owner.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	u.User = url.User(role)
	db, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrating as a role without extension rights: %v", err)
	}
	var n int
	if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("pg_trgm was created; the test role has too many rights")
	}
	// The schema works without the trigram indexes.
	sctx := viewer.NewSystemContext(ctx, "test")
	db.Client.User.Create().SetName("Dr Plain").SetEmail("plain@demo.clinic").ExecX(sctx)
}

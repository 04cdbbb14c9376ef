package store

import (
	"context"
	"database/sql"
	"fmt"
)

// The membership version: channels.member_version is raised by a trigger
// on channel_members for every row inserted or deleted and every row whose
// channel or user changes, in the statement that changes it and so in its
// transaction, whichever writer runs it (ent's hooks, a bulk delete, raw
// SQL, a future writer). The live hub keeps the members of the channels it
// releases messages of, each set labelled with the version read before it;
// a set is current while the channel's version is unchanged (see
// internal/live's members.go). A trigger rather than an ent hook: a hook
// cannot put its write in the transaction of a mutation run outside one,
// and would miss statements that bypass ent.

// memberVersionPostgres creates the trigger function (replaced at every
// start) and the trigger once.
var memberVersionPostgres = []string{
	`CREATE OR REPLACE FUNCTION whisper_member_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
    UPDATE channels SET member_version = member_version + 1 WHERE id = NEW.channel_id;
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.channel_id IS DISTINCT FROM OLD.channel_id) THEN
    UPDATE channels SET member_version = member_version + 1 WHERE id = OLD.channel_id;
  END IF;
  RETURN NULL;
END
$$`,
	`DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'channel_members_version'
                 AND tgrelid = 'channel_members'::regclass) THEN
    CREATE TRIGGER channel_members_version
      AFTER INSERT OR DELETE OR UPDATE OF channel_id, user_id ON channel_members
      FOR EACH ROW EXECUTE FUNCTION whisper_member_version();
  END IF;
END
$$`,
}

// memberVersionSQLite creates the three triggers of SQLite, which has no
// trigger functions.
var memberVersionSQLite = []string{
	`CREATE TRIGGER IF NOT EXISTS channel_members_version_insert AFTER INSERT ON channel_members
BEGIN UPDATE channels SET member_version = member_version + 1 WHERE id = NEW.channel_id; END`,
	`CREATE TRIGGER IF NOT EXISTS channel_members_version_delete AFTER DELETE ON channel_members
BEGIN UPDATE channels SET member_version = member_version + 1 WHERE id = OLD.channel_id; END`,
	`CREATE TRIGGER IF NOT EXISTS channel_members_version_update AFTER UPDATE OF channel_id, user_id ON channel_members
BEGIN UPDATE channels SET member_version = member_version + 1 WHERE id IN (OLD.channel_id, NEW.channel_id); END`,
}

// dropMemberVersionSQLite removes SQLite's triggers. A migration that
// rebuilds channels (Atlas's way to change a SQLite table: create
// new_channels, copy, drop channels, rename) fails at the rename while a
// trigger names channels ("error in trigger …: no such table"), so each
// migration's transaction drops them first and creates them again at its
// end (see apply).
var dropMemberVersionSQLite = []string{
	`DROP TRIGGER IF EXISTS channel_members_version_insert`,
	`DROP TRIGGER IF EXISTS channel_members_version_delete`,
	`DROP TRIGGER IF EXISTS channel_members_version_update`,
}

// memberVersionTriggers returns the statements that create the membership
// version triggers of the dialect, idempotently.
func (db *DB) memberVersionTriggers() []string {
	if db.Dialect.IsPostgres() {
		return memberVersionPostgres
	}
	return memberVersionSQLite
}

// createMemberVersion creates the membership version triggers (extras).
func (db *DB) createMemberVersion(ctx context.Context) error {
	for _, q := range db.memberVersionTriggers() {
		if _, err := db.SQL.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating the membership version trigger: %w", err)
		}
	}
	return nil
}

// recreateMemberVersionSQLite creates SQLite's triggers again inside a
// migration's transaction, once the column they write exists.
func recreateMemberVersionSQLite(ctx context.Context, tx *sql.Tx) error {
	var n int
	if err := tx.QueryRowContext(ctx,
		`SELECT count(*) FROM pragma_table_info('channels') WHERE name = 'member_version'`).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	for _, q := range memberVersionSQLite {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating the membership version trigger: %w", err)
		}
	}
	return nil
}

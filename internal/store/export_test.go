package store

import (
	"context"
	"time"
)

// MigrateThrough runs the migrations up to and including version as
// Migrate runs them on an empty database, and no later ones: the database
// a release that carried only those left behind.
func (db *DB) MigrateThrough(ctx context.Context, version string) error {
	if _, err := db.SQL.ExecContext(ctx, createRevisionTable); err != nil {
		return err
	}
	dir, err := migrationDir(db.Dialect)
	if err != nil {
		return err
	}
	files, err := dir.Files()
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.Version() > version {
			break
		}
		if err := db.apply(ctx, f, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

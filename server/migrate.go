package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/whisper-health/whisper/internal/store"
)

// migrateCommand is `whisper migrate status` and `whisper migrate up`, with
// the server's own settings (DATABASE_URL, …). status lists every migration
// this release carries and any the database recorded, oldest first, with
// when each ran (in the practice time zone) or "pending"; it changes
// nothing. up runs the pending ones as a start would (under the same
// advisory lock, adopting a database made by an older release) and then
// lists them. Exit status 2 for bad usage or settings, 1 when the database
// cannot be read or migrated.
func migrateCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	const cmd = "whisper migrate"
	if len(args) == 0 || (args[0] != "status" && args[0] != "up") {
		fmt.Fprintf(stderr, "%s: usage: %s status|up [server settings]\n", cmd, cmd)
		return 2
	}
	sub := args[0]
	cfg, err := LoadConfig(args[1:], getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%s: configuration: %v\n", cmd, err)
		return 2
	}
	ctx := context.Background()
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	defer db.Close()
	if sub == "up" {
		if err := db.Migrate(ctx); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
			return 1
		}
	}
	list, err := db.MigrationStatus(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	unversioned, err := db.Unversioned(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	printMigrations(stdout, db.Source, list, unversioned, cfg.TimeZone)
	return 0
}

// printMigrations writes the status table and a summary line.
func printMigrations(w io.Writer, source string, list []store.Migration, unversioned bool, loc *time.Location) {
	if loc == nil {
		loc = time.UTC
	}
	fmt.Fprintf(w, "database: %s\n", source)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	pending := 0
	for _, m := range list {
		state := "pending"
		if m.Pending() {
			pending++
		} else {
			state = m.AppliedAt.In(loc).Format("2006-01-02 15:04:05 MST")
			if m.Adopted {
				state += " (adopted)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Version, m.Name, state)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d applied, %d pending\n", len(list)-pending, pending)
	if unversioned {
		fmt.Fprintln(w, "this database was created by a release before versioned migrations: the next start (or `whisper migrate up`) adopts it, keeping every row")
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/whisper-health/whisper/internal/app"
	"io"
	"log/slog"
	"strings"

	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/directory"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/store"
)

// bootstrapAdmin is `whisper bootstrap-admin -email E -name N`: the first
// administrator of a practice that switches Whisper on with nobody in it.
// It reads the server's own settings (DATABASE_URL, WHISPER_APP_URL, …),
// brings the schema up to date, creates the built-in security groups if
// missing and the user in both, and prints their invitation. It exits 2,
// with one line, when an active user with DIRECTORY_MANAGE exists.
func bootstrapAdmin(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	const cmd = "whisper bootstrap-admin"
	email, name, rest := splitBootstrapArgs(args)
	if email == "" || name == "" {
		fmt.Fprintf(stderr, "%s: -email and -name are required (usage: %s -email E -name N [server settings])\n", cmd, cmd)
		return 2
	}
	cfg, err := LoadConfig(rest, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%s: configuration: %v\n", cmd, err)
		return 2
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	secret := []byte(cfg.TokenSecret)
	if len(secret) == 0 {
		if secret, err = auth.LoadOrCreateSecret(ctx, db.Client); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
			return 1
		}
	}
	// The same wiring as the server (nothing is started): running servers
	// pick the new channels up from the database.
	core, err := app.New(db, pubsub.NewMemory(), app.Config{TokenSecret: secret, AppURL: cfg.AppURL}, log)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	dir := core.Directory
	inv, err := dir.BootstrapAdmin(ctx, name, email)
	if errors.Is(err, directory.ErrAdminExists) {
		fmt.Fprintf(stderr, "%s: refused: %v\n", cmd, err)
		return 2
	}
	if e, ok := apperr.As(err); ok {
		fmt.Fprintf(stderr, "%s: %s\n", cmd, e.Message)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	fmt.Fprintf(stdout, "invitation: %s\ntoken: %s\n", inv.URL, inv.Token)
	return 0
}

// splitBootstrapArgs takes -email and -name (as -x v, -x=v, --x v or
// --x=v) out of args and leaves the server settings.
func splitBootstrapArgs(args []string) (email, name string, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		key, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || (key != "email" && key != "name") {
			rest = append(rest, a)
			continue
		}
		if !hasVal && i+1 < len(args) {
			i++
			val = args[i]
		}
		if key == "email" {
			email = strings.TrimSpace(val)
		} else {
			name = strings.TrimSpace(val)
		}
	}
	return email, name, rest
}

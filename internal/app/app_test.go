package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/whisper-health/whisper/internal/app"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/testdb"
)

// Run runs the workers until its context ends and returns once they have
// stopped; the services New builds share the store's dialect and one bus.
func TestRunStopsWithItsContext(t *testing.T) {
	url := testdb.URL(t)
	db := testdb.OpenURL(t, url)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := app.OpenBus(db, url, log)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if !bus.Ready() {
		t.Error("got a bus that is not ready, want ready")
	}
	a, err := app.New(db, bus, app.Config{TokenSecret: bytes.Repeat([]byte("k"), 32)}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	<-a.Hub.Started()
	stop()
	<-done
}

// New refuses a configuration a service refuses (a short token secret)
// rather than starting half a wiring.
func TestNewRefusesAShortSecret(t *testing.T) {
	db := testdb.Open(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := app.New(db, pubsub.NewMemory(), app.Config{TokenSecret: []byte("short")}, log); err == nil {
		t.Error("got no error for a 5-byte token secret, want one")
	}
}

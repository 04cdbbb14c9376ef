package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// recorder is a provider that counts deliveries per row and fails as told.
type recorder struct {
	mu    sync.Mutex
	sent  map[pulid.ID]int
	fail  map[string]error
	delay time.Duration
}

func (r *recorder) Send(_ context.Context, m outbox.Message) (string, error) {
	// A slow provider is the fake's behaviour, not a wait: it keeps two
	// workers' rounds overlapping, the situation under test.
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail[m.Recipient]; err != nil {
		return "", err
	}
	r.sent[m.ID]++
	return "ref-" + string(m.ID), nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestDeliveryOutcomes(t *testing.T) {
	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	clk := &clock{t: time.Now().UTC()}
	rec := &recorder{sent: map[pulid.ID]int{}, fail: map[string]error{
		"+retry": errors.New("503 from provider"),
		"+bad":   fmt.Errorf("invalid number: %w", outbox.ErrPermanent),
	}}
	w := outbox.New(db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Providers: map[string]outbox.Provider{"SMS": rec}, Backoff: time.Minute, MaxAttempts: 3, Now: clk.Now,
	})
	add := func(to string) pulid.ID {
		return db.Client.OutboxMessage.Create().SetChannel("SMS").SetRecipient(to).SetBody("hi").
			SetIdempotencyKey("k-" + to).SetNextAttemptAt(clk.Now()).SaveX(ctx).ID
	}
	ok, retry, bad := add("+ok"), add("+retry"), add("+bad")
	if n, err := w.RunOnce(context.Background()); err != nil || n != 3 {
		t.Fatalf("RunOnce = %d, %v; want 3 attempts", n, err)
	}
	status := func(id pulid.ID) outboxmessage.Status { return db.Client.OutboxMessage.GetX(ctx, id).Status }
	if s := status(ok); s != outboxmessage.StatusSENT || rec.sent[ok] != 1 {
		t.Errorf("ok row: %s, sent %d times", s, rec.sent[ok])
	}
	if s := status(bad); s != outboxmessage.StatusFAILED {
		t.Errorf("permanently failing row: %s, want FAILED", s)
	}
	r := db.Client.OutboxMessage.GetX(ctx, retry)
	if r.Status != outboxmessage.StatusPENDING || !r.NextAttemptAt.After(clk.Now()) || r.LastError == "" {
		t.Errorf("retried row = %s next %v error %q, want PENDING later with the error", r.Status, r.NextAttemptAt, r.LastError)
	}
	// Not due yet: nothing happens.
	if n, _ := w.RunOnce(context.Background()); n != 0 {
		t.Errorf("attempted %d rows before the backoff ran out", n)
	}
	clk.add(time.Minute + 16*time.Second)
	w.RunOnce(context.Background())
	clk.add(2*time.Minute + 31*time.Second)
	w.RunOnce(context.Background())
	r = db.Client.OutboxMessage.GetX(ctx, retry)
	if r.Status != outboxmessage.StatusFAILED || r.Attempts != 3 {
		t.Errorf("after 3 attempts: %s with %d attempts, want FAILED after 3", r.Status, r.Attempts)
	}
	// Sent rows are never sent again.
	clk.add(time.Hour)
	w.RunOnce(context.Background())
	if rec.sent[ok] != 1 {
		t.Errorf("a sent row was delivered %d times", rec.sent[ok])
	}
}

func TestTwoWorkersNeverSendARowTwice(t *testing.T) {
	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	rec := &recorder{sent: map[pulid.ID]int{}, delay: time.Millisecond}
	for i := 0; i < 60; i++ {
		db.Client.OutboxMessage.Create().SetChannel("SMS").SetRecipient("+61400").SetBody("x").
			SetIdempotencyKey(fmt.Sprintf("k%d", i)).SetNextAttemptAt(time.Now().Add(-time.Second)).ExecX(ctx)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		w := outbox.New(db.Client, log, outbox.Config{Providers: map[string]outbox.Provider{"SMS": rec}})
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = w.RunOnce(context.Background()) }()
	}
	wg.Wait()
	if len(rec.sent) != 60 {
		t.Errorf("%d rows delivered, want 60", len(rec.sent))
	}
	for id, n := range rec.sent {
		if n != 1 {
			t.Errorf("row %s delivered %d times", id, n)
		}
	}
}

func TestAbandonedSendIsMarkedUnknown(t *testing.T) {
	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	clk := &clock{t: time.Now().UTC()}
	row := db.Client.OutboxMessage.Create().SetChannel("SMS").SetRecipient("+61400").SetBody("x").
		SetIdempotencyKey("k").SetStatus(outboxmessage.StatusSENDING).SetUpdatedAt(clk.Now()).SaveX(ctx)
	rec := &recorder{sent: map[pulid.ID]int{}}
	w := outbox.New(db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Providers: map[string]outbox.Provider{"SMS": rec}, Now: clk.Now,
	})
	w.RunOnce(context.Background())
	if s := db.Client.OutboxMessage.GetX(ctx, row.ID).Status; s != outboxmessage.StatusSENDING {
		t.Fatalf("a fresh sending row became %s", s)
	}
	clk.add(6 * time.Minute)
	w.RunOnce(context.Background())
	if s := db.Client.OutboxMessage.GetX(ctx, row.ID).Status; s != outboxmessage.StatusUNKNOWN || len(rec.sent) != 0 {
		t.Errorf("an abandoned row became %s and was sent %d times, want UNKNOWN and never resent", s, len(rec.sent))
	}
}

// Each retry waits twice as long as the one before (plus at most a quarter
// of jitter): 1, 2, 4, 8 minutes.
func TestBackoffDoublesPerAttempt(t *testing.T) {
	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	clk := &clock{t: time.Now().UTC()}
	rec := &recorder{sent: map[pulid.ID]int{}, fail: map[string]error{"+retry": errors.New("503 from provider")}}
	w := outbox.New(db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Providers: map[string]outbox.Provider{"SMS": rec}, Backoff: time.Minute, MaxAttempts: 10, Now: clk.Now,
	})
	id := db.Client.OutboxMessage.Create().SetChannel("SMS").SetRecipient("+retry").SetBody("hi").
		SetIdempotencyKey("k-backoff").SetNextAttemptAt(clk.Now()).SaveX(ctx).ID
	for attempt := 1; attempt <= 4; attempt++ {
		if n, err := w.RunOnce(context.Background()); err != nil || n != 1 {
			t.Fatalf("attempt %d: RunOnce = %d, %v", attempt, n, err)
		}
		r := db.Client.OutboxMessage.GetX(ctx, id)
		wait, base := r.NextAttemptAt.Sub(clk.Now()), time.Minute<<(attempt-1)
		if wait < base-time.Second || wait > base+base/4+time.Second {
			t.Errorf("after attempt %d the row waits %v, want %v to %v", attempt, wait, base, base+base/4)
		}
		clk.add(wait)
	}
}

// An abandoned row is an undelivered row: its cause is told, once, so an
// enrolment step that queued it does not stay SENT.
func TestAbandonedSendTellsItsCause(t *testing.T) {
	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	clk := &clock{t: time.Now().UTC()}
	row := db.Client.OutboxMessage.Create().SetChannel("SMS").SetRecipient("+61400").SetBody("x").
		SetIdempotencyKey("k").SetStatus(outboxmessage.StatusSENDING).SetUpdatedAt(clk.Now()).SaveX(ctx)
	var mu sync.Mutex
	told := map[pulid.ID][]string{}
	cfg := outbox.Config{
		Providers: map[string]outbox.Provider{"SMS": &recorder{sent: map[pulid.ID]int{}}}, Now: clk.Now,
		Undelivered: func(_ context.Context, _ *ent.Client, id pulid.ID, reason string) error {
			mu.Lock()
			defer mu.Unlock()
			told[id] = append(told[id], reason)
			return nil
		},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clk.add(6 * time.Minute)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		w := outbox.New(db.Client, log, cfg)
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = w.RunOnce(context.Background()) }()
	}
	wg.Wait()
	if s := db.Client.OutboxMessage.GetX(ctx, row.ID).Status; s != outboxmessage.StatusUNKNOWN {
		t.Errorf("abandoned row is %s, want UNKNOWN", s)
	}
	if len(told[row.ID]) != 1 || !strings.Contains(told[row.ID][0], "unknown") {
		t.Errorf("the cause was told %q, want once that the delivery is unknown", told[row.ID])
	}
}

// A failing hook does not undo what the provider answered: the row is
// recorded FAILED (not left "sending" to be judged abandoned later).
func TestAFailingHookStillRecordsTheOutcome(t *testing.T) {
	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	rec := &recorder{sent: map[pulid.ID]int{}, fail: map[string]error{"+bad": fmt.Errorf("invalid number: %w", outbox.ErrPermanent)}}
	w := outbox.New(db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Providers: map[string]outbox.Provider{"SMS": rec},
		Undelivered: func(context.Context, *ent.Client, pulid.ID, string) error {
			return errors.New("the cause could not be updated")
		},
	})
	id := db.Client.OutboxMessage.Create().SetChannel("SMS").SetRecipient("+bad").SetBody("hi").
		SetIdempotencyKey("k-bad").SetNextAttemptAt(time.Now().Add(-time.Second)).SaveX(ctx).ID
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := db.Client.OutboxMessage.GetX(ctx, id)
	if r.Status != outboxmessage.StatusFAILED || !strings.Contains(r.LastError, "invalid number") || r.Attempts != 1 {
		t.Errorf("row after a failing hook = %s %q (%d attempts), want FAILED with the provider's reason", r.Status, r.LastError, r.Attempts)
	}
}

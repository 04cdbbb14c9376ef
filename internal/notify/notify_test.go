package notify_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/internal/notify"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Two replicas on one database announce each due reminder exactly once —
// including reminders that fell due while neither was running — and a
// panic in one round does not stop a worker.
func TestRemindersAnnouncedOnceAcrossReplicas(t *testing.T) {
	url := testdb.URL(t)
	db1, db2 := testdb.OpenURL(t, url), testdb.OpenURL(t, url)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")
	clk := &clock{t: time.Now().UTC()}
	u := db1.Client.User.Create().SetName("Jordan Kim").SetEmail("kim@demo.clinic").SaveX(sctx)
	var overdue, later []pulid.ID
	for i := 0; i < 10; i++ {
		n := db1.Client.Notification.Create().SetKind(notification.KindREMINDER).SetRecipientID(u.ID).
			SetTitle("due while down").SetDeliverAt(clk.Now().Add(-time.Hour)).SaveX(sctx)
		overdue = append(overdue, n.ID)
		n = db1.Client.Notification.Create().SetKind(notification.KindREMINDER).SetRecipientID(u.ID).
			SetTitle("due later").SetDeliverAt(clk.Now().Add(10 * time.Minute)).SaveX(sctx)
		later = append(later, n.ID)
	}
	// An acknowledged reminder is claimed but not announced.
	db1.Client.Notification.Create().SetKind(notification.KindREMINDER).SetRecipientID(u.ID).
		SetTitle("already done").SetDeliverAt(clk.Now().Add(-time.Hour)).SetAcknowledgedAt(clk.Now()).ExecX(sctx)

	bus := pubsub.NewMemory()
	events := bus.Subscribe(1000)
	defer events.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var panicked atomic.Bool
	flaky := func() time.Time {
		if panicked.CompareAndSwap(false, true) {
			panic("clock failure")
		}
		return clk.Now()
	}
	// Each round of a worker reads its clock once: counting the reads lets
	// the test wait for rounds that really ran, not for a guessed time.
	var rounds [2]atomic.Int64
	rang := make(chan struct{}, 1)
	counted := func(i int, now func() time.Time) func() time.Time {
		return func() time.Time {
			rounds[i].Add(1)
			select {
			case rang <- struct{}{}:
			default:
			}
			return now()
		}
	}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range []*notify.Service{
		notify.New(db1.Client, bus, nil, log, counted(0, flaky)),
		notify.New(db2.Client, bus, nil, log, counted(1, clk.Now)),
	} {
		wg.Add(1)
		go func() { defer wg.Done(); s.RunReminders(wctx, 5*time.Millisecond) }()
	}
	defer func() { stop(); wg.Wait() }()

	seen := map[pulid.ID]int{}
	collect := func(want int, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for len(seen) < want {
			select {
			case ev := <-events.C():
				if ev.Kind == pubsub.Notification && ev.Message != "" {
					seen[ev.Message]++
				}
			case <-deadline:
				t.Fatalf("announced %d reminders, want %d", len(seen), want)
			}
		}
	}
	collect(len(overdue), 10*time.Second)
	for _, id := range later {
		if seen[id] != 0 {
			t.Errorf("reminder %s announced before it was due", id)
		}
	}
	clk.Advance(11 * time.Minute)
	collect(len(overdue)+len(later), 10*time.Second)
	// Let both workers run a good many more rounds: nothing is announced
	// twice. A round that starts n reads on has seen n-1 rounds finish.
	more := func(n int64) {
		t.Helper()
		want := [2]int64{rounds[0].Load() + n, rounds[1].Load() + n}
		deadline := time.After(10 * time.Second)
		for rounds[0].Load() < want[0] || rounds[1].Load() < want[1] {
			select {
			case <-rang:
			case <-deadline:
				t.Fatalf("the workers ran %d and %d rounds, want %d and %d", rounds[0].Load(), rounds[1].Load(), want[0], want[1])
			}
		}
	}
	more(20)
	for {
		select {
		case ev := <-events.C():
			if ev.Kind == pubsub.Notification && ev.Message != "" {
				seen[ev.Message]++
			}
			continue
		default:
		}
		break
	}
	for _, id := range append(overdue, later...) {
		if seen[id] != 1 {
			t.Errorf("reminder %s announced %d times, want once", id, seen[id])
		}
	}
	if len(seen) != len(overdue)+len(later) {
		t.Errorf("%d notifications announced, want %d (the acknowledged one is not)", len(seen), len(overdue)+len(later))
	}
	if !panicked.Load() {
		t.Error("the flaky clock never panicked; the recovery was not exercised")
	}
	if n := db1.Client.Notification.Query().Where(notification.AnnouncedAtIsNil()).CountX(sctx); n != 0 {
		t.Errorf("%d due notifications left unclaimed", n)
	}
}

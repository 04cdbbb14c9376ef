package alive_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/demo/alive"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// seeded loads the demo practice and brings it to life at now, and lists
// every message as "conversation #seq at time: body".
func seeded(t *testing.T, now time.Time) []string {
	t.Helper()
	db := testdb.Open(t)
	ctx := context.Background()
	if _, err := demo.Load(ctx, db.Client, now); err != nil {
		t.Fatal(err)
	}
	if err := alive.Seed(ctx, db, pubsub.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), now); err != nil {
		t.Fatal(err)
	}
	sctx := viewer.NewSystemContext(ctx, "test")
	msgs := db.Client.Message.Query().WithChannel().
		Order(ent.Asc(message.FieldCreatedAt), ent.Asc(message.FieldSeq)).AllX(sctx)
	var out []string
	for _, m := range msgs {
		ch := m.Edges.Channel
		name := ch.Name
		if ch.Topic != nil {
			name = *ch.Topic
		}
		out = append(out, fmt.Sprintf("%s %s #%d at %s: %s", ch.Kind, name, m.Seq, m.CreatedAt.UTC().Format(time.RFC3339), m.Body))
		if m.CreatedAt.Before(now.Add(-48*time.Hour)) || m.CreatedAt.After(now) {
			t.Errorf("message %q at %s, want within the two days before %s", m.Body, m.CreatedAt, now)
		}
	}
	for _, ch := range db.Client.Channel.Query().AllX(sctx) {
		if ch.CreatedAt.Before(now.Add(-48*time.Hour)) || ch.CreatedAt.After(now) {
			t.Errorf("conversation %s created at %s, want within the two days before %s", ch.ID, ch.CreatedAt, now)
		}
	}
	for _, n := range db.Client.Notification.Query().AllX(sctx) {
		if !n.CreatedAt.Equal(n.DeliverAt) || n.CreatedAt.Before(now.Add(-48*time.Hour)) || n.CreatedAt.After(now) {
			t.Errorf("notification %q created at %s, delivered at %s, want both the same, within the two days before %s", n.Title, n.CreatedAt, n.DeliverAt, now)
		}
	}
	return out
}

// The activity is fixed by the clock it is given: seeding twice at the same
// moment writes the same conversations, in the same order, at the same
// times, all in the two days before that moment.
func TestSeedIsDeterministicAndInThePast(t *testing.T) {
	now := time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC)
	first, second := seeded(t, now), seeded(t, now)
	if len(first) < 15 {
		t.Fatalf("the demo has %d messages, want a lived-in practice:\n%v", len(first), first)
	}
	if fmt.Sprint(first) != fmt.Sprint(second) {
		t.Errorf("two seeds at the same moment differ:\n%v\n%v", first, second)
	}
}

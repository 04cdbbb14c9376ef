package rule_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Every statement run in a worker context is recorded with the reason the
// context names; statements a viewer runs under its own rules are not.
func TestPrivilegedUseIsRecordedWithItsReason(t *testing.T) {
	db := testdb.Open(t)
	var buf bytes.Buffer
	rule.LogPrivilegedUse(db.Client, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test: seed a user")
	u := db.Client.User.Create().SetName("Dr Chen").SetEmail("chen@x.test").SaveX(sctx)
	staff := viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Staff, UserID: u.ID, Perms: viewer.PermSet(viewer.AccessWhisper)})
	db.Client.User.Query().CountX(staff)
	if n := strings.Count(buf.String(), "privileged"); n != 1 {
		t.Fatalf("got %d privileged lines, want 1 (the worker's write, not the staff read):\n%s", n, buf.String())
	}
	for _, want := range []string{"privileged write of User", `reason="test: seed a user"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q lacks %q", buf.String(), want)
		}
	}
}

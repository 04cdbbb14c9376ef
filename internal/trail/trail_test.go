package trail_test

import (
	"context"
	"errors"
	"testing"

	"github.com/whisper-health/whisper/ent/accesslogentry"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// The access log is append-only for everyone, background workers included
// (the privacy mixin allows workers everything else).
func TestAccessLogIsAppendOnly(t *testing.T) {
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")
	u := db.Client.User.Create().SetName("Dr Audit").SetEmail("audit@demo.clinic").SaveX(sctx)
	entry := db.Client.AccessLogEntry.Create().SetAction(accesslogentry.ActionVIEW_PATIENT).SetActorID(u.ID).SaveX(sctx)
	admin := viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Staff, UserID: u.ID, Perms: map[viewer.Permission]bool{viewer.WhisperAdmin: true}})
	for name, c := range map[string]context.Context{"worker": sctx, "admin": admin} {
		for op, err := range map[string]error{
			"update one": db.Client.AccessLogEntry.UpdateOne(entry).Exec(c),
			"update":     db.Client.AccessLogEntry.Update().Where(accesslogentry.ActorID(u.ID)).Exec(c),
			"delete one": db.Client.AccessLogEntry.DeleteOne(entry).Exec(c),
			"delete":     func() error { _, err := db.Client.AccessLogEntry.Delete().Exec(c); return err }(),
		} {
			// The admin is refused by the policy already, the worker by the hook.
			if !apperr.Is(err, apperr.Forbidden) && !errors.Is(err, privacy.Deny) {
				t.Errorf("%s %s: err = %v, want it refused", name, op, err)
			}
		}
	}
	if n := db.Client.AccessLogEntry.Query().CountX(sctx); n != 1 {
		t.Errorf("access log has %d entries after the refused changes, want 1", n)
	}
	// Appending still works, for the worker.
	db.Client.AccessLogEntry.Create().SetAction(accesslogentry.ActionAUDIT_SEARCH).SetActorID(u.ID).ExecX(sctx)
	if n := db.Client.AccessLogEntry.Query().CountX(sctx); n != 2 {
		t.Errorf("access log has %d entries after an append, want 2", n)
	}
}

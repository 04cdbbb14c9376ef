package rule_test

import (
	"context"
	"errors"
	"testing"

	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Observing is read-only at the data layer: the very writes the observed
// user may make (their own label, acknowledging their own notification)
// are denied through an observation context, while reads work.
func TestObservingDeniesWrites(t *testing.T) {
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")
	u := db.Client.User.Create().SetName("Dr Patel").SetEmail("patel@demo.clinic").SaveX(sctx)
	adm := db.Client.User.Create().SetName("Alex Morgan").SetEmail("admin@demo.clinic").SaveX(sctx)
	n := db.Client.Notification.Create().SetKind(notification.KindLAB_REPORT).SetRecipientID(u.ID).
		SetTitle("Lipids").SetDeliverAt(db.Client.User.GetX(sctx, u.ID).CreatedAt).SaveX(sctx)
	perms := map[viewer.Permission]bool{viewer.AccessWhisper: true}
	self := viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Staff, UserID: u.ID, Perms: perms})
	observed := viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Staff, UserID: u.ID, Perms: perms, ObservedBy: adm.ID})

	for name, err := range map[string]error{
		"create a label":         db.Client.Label.Create().SetOwnerID(u.ID).SetName("Mine").Exec(observed),
		"acknowledge":            db.Client.Notification.UpdateOneID(n.ID).SetAcknowledgedAt(n.DeliverAt).Exec(observed),
		"update own preferences": db.Client.User.UpdateOneID(u.ID).SetKeepHidden(true).Exec(observed),
	} {
		if !errors.Is(err, privacy.Deny) {
			t.Errorf("observing, %s: err = %v, want a privacy denial", name, err)
		}
	}
	if got := db.Client.Notification.GetX(observed, n.ID); got.AcknowledgedAt != nil {
		t.Errorf("observing acknowledged the notification")
	}
	if db.Client.Label.Query().CountX(sctx) != 0 || db.Client.User.GetX(sctx, u.ID).KeepHidden {
		t.Errorf("observing wrote a label or a preference")
	}
	// The same writes as the user themself are allowed.
	db.Client.Label.Create().SetOwnerID(u.ID).SetName("Mine").ExecX(self)
	db.Client.Notification.UpdateOneID(n.ID).SetAcknowledgedAt(n.DeliverAt).ExecX(self)
}

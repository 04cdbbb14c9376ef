package rule

import (
	"context"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/booking"
	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/viewer"
)

// AllowIfStatusChangeByStaff lets staff with ACCESS_WHISPER change a
// booking's status and nothing else about it.
func AllowIfStatusChangeByStaff() privacy.MutationRule {
	return privacy.BookingMutationRuleFunc(func(ctx context.Context, m *ent.BookingMutation) error {
		v := viewer.FromContext(ctx)
		if !Messaging.Holds(v) || !m.Op().Is(ent.OpUpdate|ent.OpUpdateOne) {
			return privacy.Skip
		}
		for _, f := range m.Fields() {
			if f != booking.FieldStatus && f != booking.FieldUpdatedAt {
				return privacy.Denyf("staff may change a booking's status only")
			}
		}
		if len(m.AddedEdges()) > 0 || len(m.RemovedEdges()) > 0 || len(m.ClearedFields()) > 0 {
			return privacy.Denyf("staff may change a booking's status only")
		}
		return privacy.Allow
	})
}

// FilterNotificationsToRecipient limits notification reads to the viewer's
// own folder.
func FilterNotificationsToRecipient() privacy.QueryRule {
	return privacy.NotificationQueryRuleFunc(func(ctx context.Context, q *ent.NotificationQuery) error {
		v := viewer.FromContext(ctx)
		if !Messaging.Holds(v) {
			// Notification folders are part of messaging; anyone else
			// finds none (as missing as a notification that does not exist).
			q.Where(notification.IDIn())
			return allowNoNotifications
		}
		q.Where(notification.RecipientID(v.UserID))
		return allowOwnNotifications
	})
}

// AllowIfNotificationSender lets integrators and directory managers send
// notifications, and anyone with ACCESS_WHISPER set themself a reminder.
func AllowIfNotificationSender() privacy.MutationRule {
	return privacy.NotificationMutationRuleFunc(func(ctx context.Context, m *ent.NotificationMutation) error {
		v := viewer.FromContext(ctx)
		if !m.Op().Is(ent.OpCreate) || !Account.Holds(v) {
			return privacy.Skip
		}
		if NotificationSender.Holds(v) {
			return privacy.Allow
		}
		kind, _ := m.Kind()
		to, _ := m.RecipientID()
		if Messaging.Holds(v) && kind == notification.KindREMINDER && to == v.UserID {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// AllowIfOwnNotificationUpdate lets a user acknowledge their own
// notifications; the update is narrowed to them.
func AllowIfOwnNotificationUpdate() privacy.MutationRule {
	return privacy.NotificationMutationRuleFunc(func(ctx context.Context, m *ent.NotificationMutation) error {
		v := viewer.FromContext(ctx)
		if !Messaging.Holds(v) || !m.Op().Is(ent.OpUpdate|ent.OpUpdateOne) {
			return privacy.Skip
		}
		m.Where(notification.RecipientID(v.UserID))
		return privacy.Allow
	})
}

package outbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/viewer"
)

// receiptRank orders the provider's delivery statuses: a receipt never
// moves a delivery back (callbacks may arrive out of order), and the final
// ones (delivered, undelivered, failed) are kept.
var receiptRank = map[string]int{
	"accepted": 1, "queued": 1, "sending": 2, "sent": 3,
	"delivered": 4, "undelivered": 4, "failed": 4,
}

// Receipt records an SMS provider's delivery receipt (a Twilio-style
// StatusCallback: MessageSid, MessageStatus, ErrorCode) on the delivery it
// names, and reports whether one was found. It is idempotent and never
// moves a delivery back: a repeated or older receipt changes nothing.
// delivered sets deliveredAt; undelivered and failed fail the delivery and
// tell its cause (an enrolment step fails; pause on error applies), in
// the same transaction.
func (w *Worker) Receipt(ctx context.Context, sid, status, errorCode string) (bool, error) {
	sid, status = strings.TrimSpace(sid), strings.ToLower(strings.TrimSpace(status))
	rank, known := receiptRank[status]
	if sid == "" || !known {
		return false, apperr.Invalid("MessageStatus", "a receipt needs MessageSid and a known MessageStatus")
	}
	// A receipt arrives on a webhook: there is no viewer to act as.
	ctx = viewer.NewSystemContext(ctx, "outbox: an SMS delivery receipt from the provider")
	for range 5 {
		row, err := w.client.OutboxMessage.Query().
			Where(outboxmessage.ProviderRef(sid), outboxmessage.ChannelEQ(outboxmessage.ChannelSMS)).
			Only(ctx)
		if ent.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if row.ProviderStatus != nil && receiptRank[*row.ProviderStatus] >= rank {
			return true, nil // already as far or further
		}
		done, err := w.receipt(ctx, row, status, errorCode)
		if err != nil || done {
			return true, err
		}
		// Another receipt for this delivery was recorded meanwhile: read again.
	}
	return true, fmt.Errorf("recording a delivery receipt: the delivery kept changing")
}

// receipt applies one receipt to row, on the condition that its provider
// status is still the one read; false means another receipt won.
func (w *Worker) receipt(ctx context.Context, row *ent.OutboxMessage, status, errorCode string) (bool, error) {
	tx, err := w.client.Tx(ctx)
	if err != nil {
		return false, err
	}
	upd := tx.OutboxMessage.Update().Where(outboxmessage.ID(row.ID)).SetProviderStatus(status)
	if row.ProviderStatus == nil {
		upd.Where(outboxmessage.ProviderStatusIsNil())
	} else {
		upd.Where(outboxmessage.ProviderStatusEQ(*row.ProviderStatus))
	}
	reason := ""
	switch status {
	case "delivered":
		upd.SetDeliveredAt(w.now())
	case "undelivered", "failed":
		reason = "the carrier reported the SMS " + status
		if errorCode = strings.TrimSpace(errorCode); errorCode != "" {
			reason += " (error " + truncate(errorCode, 20) + ")"
		}
		upd.SetStatus(outboxmessage.StatusFAILED).SetLastError(reason)
	}
	n, err := upd.Save(ctx)
	if err == nil && n == 1 && reason != "" && row.Status != outboxmessage.StatusFAILED && w.cfg.Undelivered != nil {
		err = w.cfg.Undelivered(ctx, tx.Client(), row.ID, reason)
	}
	if err != nil || n != 1 {
		_ = tx.Rollback()
		return false, err
	}
	return true, tx.Commit()
}

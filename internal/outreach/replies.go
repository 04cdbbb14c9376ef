package outreach

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/inboundsms"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/ent/predicate"
	"github.com/whisper-health/whisper/ent/programaction"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/txn"
)

// ReplyReceived stores an inbound SMS against the enrolment step that last
// texted that number with "save reply content" on, and reports whether one
// was found. A second reply to the same step is appended; the same reply
// delivered again (any provider message id, sid, seen before — every one is
// remembered, not only the last) is stored once.
// Numbers are matched after normalising them (spaces, dashes, a 00 prefix).
//
// The append is a conditional update on the values read, retried on a
// clash, so replies delivered at the same moment are neither lost nor
// stored twice, on either database.
func (e *Engine) ReplyReceived(ctx context.Context, from, body, sid string) (bool, error) {
	from, body, sid = strings.TrimSpace(from), strings.TrimSpace(body), strings.TrimSpace(sid)
	if from == "" || body == "" {
		return false, apperr.Invalid("From", "an inbound SMS needs From and Body")
	}
	body = clip(body, 4000)
	sid = clip(sid, 100) // as it is stored, so a repeat compares equal
	wctx := workerCtx(ctx)
	sent, err := e.client.OutboxMessage.Query().
		Where(outboxmessage.ChannelEQ(outboxmessage.ChannelSMS), outboxmessage.RecipientIn(from, NormalisePhone(from)),
			outboxmessage.StatusIn(outboxmessage.StatusSENT, outboxmessage.StatusSENDING, outboxmessage.StatusUNKNOWN, outboxmessage.StatusPENDING)).
		IDs(wctx)
	if err != nil || len(sent) == 0 {
		return false, err
	}
	const attempts = 50
	for range attempts {
		st, err := e.client.EnrollmentStep.Query().
			Where(enrollmentstep.OutboxIDIn(sent...),
				enrollmentstep.HasActionWith(programaction.SaveReplyContent(true), programaction.TypeEQ(programaction.TypeSMS))).
			Order(ent.Desc(enrollmentstep.FieldExecutedAt)).
			First(wctx)
		if ent.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if sid != "" && st.LastReplySid != nil && *st.LastReplySid == sid {
			return true, nil // delivered again: already stored
		}
		if sid != "" {
			seen, err := e.client.InboundSMS.Query().Where(inboundsms.Sid(sid)).Exist(wctx)
			if err != nil {
				return false, err
			}
			if seen {
				return true, nil // delivered again, after other replies
			}
		}
		reply := body
		if st.ReplyContent != nil && *st.ReplyContent != "" {
			reply = *st.ReplyContent + "\n" + body
		}
		// Only if nobody stored a reply since this one was read.
		where := []predicate.EnrollmentStep{enrollmentstep.ID(st.ID)}
		if st.ReplyContent == nil {
			where = append(where, enrollmentstep.ReplyContentIsNil())
		} else {
			where = append(where, enrollmentstep.ReplyContentEQ(*st.ReplyContent))
		}
		if st.LastReplySid == nil {
			where = append(where, enrollmentstep.LastReplySidIsNil())
		} else {
			where = append(where, enrollmentstep.LastReplySidEQ(*st.LastReplySid))
		}
		// The reply and its sid are stored together: of two deliveries of
		// one reply at once, the second fails on the sid's unique key.
		var n int
		err = e.tx.Run(wctx, func(tx *ent.Tx, _ txn.Emit) error {
			if sid != "" {
				if err := tx.InboundSMS.Create().SetSid(sid).SetAt(e.now()).Exec(wctx); err != nil {
					return err
				}
			}
			var err error
			if n, err = tx.Client().EnrollmentStep.Update().Where(where...).
				SetReplyContent(reply).SetNillableLastReplySid(nilIfEmpty(sid)).Save(wctx); err != nil {
				return err
			}
			if n != 1 {
				return errClash
			}
			return nil
		})
		if ent.IsConstraintError(err) {
			return true, nil // the same reply, stored by a delivery at the same moment
		}
		if err != nil && !errors.Is(err, errClash) {
			return false, err
		}
		if n == 1 && err == nil {
			return true, nil
		}
	}
	return false, fmt.Errorf("storing an inbound SMS: the step changed %d times while it was being stored", attempts)
}

// errClash rolls back a reply whose step changed since it was read.
var errClash = errors.New("the step changed")

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// NormalisePhone writes a phone number the way SMS are addressed (see
// consent.NormalisePhone, which keeps opt-outs by number the same way).
func NormalisePhone(s string) string { return consent.NormalisePhone(s) }

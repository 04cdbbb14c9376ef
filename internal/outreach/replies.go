package outreach

import (
	"context"
	"fmt"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/ent/programaction"
	"github.com/whisper-health/whisper/internal/apperr"
)

// ReplyReceived stores an inbound SMS against the enrolment step that last
// texted that number with "save reply content" on, and reports whether one
// was found. A second reply to the same step is appended; the same reply
// delivered again (the provider's message id, sid, seen last) is stored once.
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
		reply := body
		if st.ReplyContent != nil && *st.ReplyContent != "" {
			reply = *st.ReplyContent + "\n" + body
		}
		// Only if nobody stored a reply since this one was read.
		upd := e.client.EnrollmentStep.Update().Where(enrollmentstep.ID(st.ID)).SetReplyContent(reply)
		if st.ReplyContent == nil {
			upd.Where(enrollmentstep.ReplyContentIsNil())
		} else {
			upd.Where(enrollmentstep.ReplyContentEQ(*st.ReplyContent))
		}
		if st.LastReplySid == nil {
			upd.Where(enrollmentstep.LastReplySidIsNil())
		} else {
			upd.Where(enrollmentstep.LastReplySidEQ(*st.LastReplySid))
		}
		if sid != "" {
			upd.SetLastReplySid(sid)
		}
		n, err := upd.Save(wctx)
		if err != nil {
			return false, err
		}
		if n == 1 {
			return true, nil
		}
	}
	return false, fmt.Errorf("storing an inbound SMS: the step changed %d times while it was being stored", attempts)
}

// NormalisePhone writes a phone number the way SMS are addressed: without
// spaces, dashes, dots or brackets, and with an international 00 prefix as
// "+" (so "+61 411-000 001" and "0061411000001" are "+61411000001").
func NormalisePhone(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(" -.()\t", r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	return s
}

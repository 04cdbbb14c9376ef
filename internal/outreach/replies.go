package outreach

import (
	"context"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/ent/programaction"
	"github.com/whisper-health/whisper/internal/apperr"
)

// ReplyReceived stores an inbound SMS against the enrolment step that last
// texted that number with "save reply content" on, and reports whether one
// was found. A second reply to the same step is appended.
func (e *Engine) ReplyReceived(ctx context.Context, from, body string) (bool, error) {
	from, body = strings.TrimSpace(from), strings.TrimSpace(body)
	if from == "" || body == "" {
		return false, apperr.Invalid("From", "an inbound SMS needs From and Body")
	}
	if len(body) > 4000 {
		body = body[:4000]
	}
	wctx := workerCtx(ctx)
	sent, err := e.client.OutboxMessage.Query().
		Where(outboxmessage.ChannelEQ(outboxmessage.ChannelSMS), outboxmessage.Recipient(from),
			outboxmessage.StatusIn(outboxmessage.StatusSENT, outboxmessage.StatusSENDING, outboxmessage.StatusUNKNOWN, outboxmessage.StatusPENDING)).
		IDs(wctx)
	if err != nil || len(sent) == 0 {
		return false, err
	}
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
	reply := body
	if st.ReplyContent != nil && *st.ReplyContent != "" {
		reply = *st.ReplyContent + "\n" + body
	}
	return true, e.client.EnrollmentStep.UpdateOne(st).SetReplyContent(reply).Exec(wctx)
}

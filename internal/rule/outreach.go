package rule

import (
	"context"

	"entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/viewer"
)

// FilterDeliveriesToOutreach lets a program manager read only the outbox rows
// an enrolment step queued (the step's outbox_id names them), as a filter, so
// neither the deliveries list nor node(id:) reaches any other row — not the
// SMS copies of staff messages.
func FilterDeliveriesToOutreach() privacy.QueryRule {
	return privacy.OutboxMessageQueryRuleFunc(func(ctx context.Context, q *ent.OutboxMessageQuery) error {
		if !ProgramManager.Holds(viewer.FromContext(ctx)) {
			return privacy.Skip
		}
		q.Where(func(s *sql.Selector) {
			steps := sql.Table(enrollmentstep.Table)
			s.Where(sql.In(s.C(outboxmessage.FieldID),
				sql.Select(steps.C(enrollmentstep.FieldOutboxID)).From(steps).Where(sql.NotNull(steps.C(enrollmentstep.FieldOutboxID)))))
		})
		return allowQueuedByPatientConnect
	})
}

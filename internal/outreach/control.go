package outreach

import (
	"context"
	"slices"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/booking"
	"github.com/whisper-health/whisper/ent/enrollment"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/program"
	"github.com/whisper-health/whisper/ent/programaction"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// manager checks the viewer may steer Patient Connect, before anything is
// read that might make the answer depend on the enrolment's state.
func manager(ctx context.Context) error {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil:
		return apperr.New(apperr.Unauthenticated, "sign in first")
	case !v.Has(viewer.PatientConnectManage):
		return apperr.New(apperr.Forbidden, "this needs PATIENT_CONNECT_MANAGE")
	}
	return nil
}

// Pause stops an active enrolment until it is resumed.
func (e *Engine) Pause(ctx context.Context, id pulid.ID) (*ent.Enrollment, error) {
	return e.transition(ctx, id, func(en *ent.Enrollment, upd *ent.EnrollmentUpdateOne) error {
		if en.Status != enrollment.StatusACTIVE {
			return apperr.Invalid("id", "only an active enrolment can be paused")
		}
		upd.SetStatus(enrollment.StatusPAUSED)
		return nil
	})
}

// Resume restarts a paused enrolment; a failed action is tried again.
func (e *Engine) Resume(ctx context.Context, id pulid.ID) (*ent.Enrollment, error) {
	return e.transition(ctx, id, func(en *ent.Enrollment, upd *ent.EnrollmentUpdateOne) error {
		if en.Status != enrollment.StatusPAUSED {
			return apperr.Invalid("id", "only a paused enrolment can be resumed")
		}
		upd.SetStatus(enrollment.StatusACTIVE).SetFlagged(false)
		return nil
	})
}

// Cancel ends an enrolment for good.
func (e *Engine) Cancel(ctx context.Context, id pulid.ID) (*ent.Enrollment, error) {
	return e.transition(ctx, id, func(en *ent.Enrollment, upd *ent.EnrollmentUpdateOne) error {
		if en.Status == enrollment.StatusCOMPLETED || en.Status == enrollment.StatusCANCELLED {
			return apperr.Invalid("id", "the enrolment has already ended")
		}
		upd.SetStatus(enrollment.StatusCANCELLED).ClearNextDueAt()
		return nil
	})
}

func (e *Engine) transition(ctx context.Context, id pulid.ID, change func(*ent.Enrollment, *ent.EnrollmentUpdateOne) error) (*ent.Enrollment, error) {
	if err := manager(ctx); err != nil {
		return nil, err
	}
	en, err := e.client.Enrollment.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	upd := e.client.Enrollment.UpdateOne(en)
	if err := change(en, upd); err != nil {
		return nil, err
	}
	return upd.Save(ctx)
}

// Advance moves an enrolment waiting at a pause action on to the next
// action (a staff member has done what the pause was for).
func (e *Engine) Advance(ctx context.Context, id pulid.ID) (*ent.Enrollment, error) {
	if err := manager(ctx); err != nil {
		return nil, err
	}
	tx, err := e.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	c := tx.Client()
	en, err := c.Enrollment.Query().Where(enrollment.ID(id)).WithProgram().Only(ctx)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	waiting, err := c.EnrollmentStep.Query().Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle),
		enrollmentstep.StatusEQ(enrollmentstep.StatusWAITING)).Exist(ctx)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if en.Status != enrollment.StatusACTIVE || en.NextDueAt != nil || !waiting {
		_ = tx.Rollback()
		return nil, apperr.Invalid("id", "the enrolment is not waiting at a pause")
	}
	actions, err := c.ProgramAction.Query().Where(programaction.ProgramID(en.ProgramID)).Order(ent.Asc(programaction.FieldPosition)).All(ctx)
	if err == nil {
		err = c.EnrollmentStep.Update().Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle),
			enrollmentstep.StatusEQ(enrollmentstep.StatusWAITING)).SetStatus(enrollmentstep.StatusSENT).Exec(ctx)
	}
	if err == nil {
		err = e.advance(ctx, c, en, actions)
	}
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return e.client.Enrollment.Get(ctx, id)
}

// BookingMade is told of a new booking, inside its transaction: a booking
// of a qualifying type completes the patient's current cycle, and a
// referral program ends once the patient books.
func (e *Engine) BookingMade(ctx context.Context, c *ent.Client, b *ent.Booking) error {
	switch b.Status {
	case booking.StatusCancelled, booking.StatusEnteredInError, booking.StatusNoshow, booking.StatusProposed, booking.StatusWaitlist:
		return nil
	}
	wctx := workerCtx(ctx)
	ens, err := c.Enrollment.Query().
		Where(enrollment.PatientID(b.PatientID), enrollment.StatusIn(enrollment.StatusACTIVE, enrollment.StatusPAUSED)).
		WithProgram(func(q *ent.ProgramQuery) { q.WithCompletingBookingTypes() }).
		All(wctx)
	if err != nil {
		return err
	}
	for _, en := range ens {
		p := en.Edges.Program
		switch {
		case p.Type == program.TypeREFERRAL:
			if err := c.Enrollment.UpdateOne(en).SetStatus(enrollment.StatusCOMPLETED).ClearNextDueAt().Exec(wctx); err != nil {
				return err
			}
			continue
		case p.Completion == program.CompletionIGNORE:
			continue
		case p.Completion == program.CompletionSELECTED:
			if b.BookingTypeID == nil || !slices.ContainsFunc(p.Edges.CompletingBookingTypes, func(t *ent.BookingType) bool { return t.ID == *b.BookingTypeID }) {
				continue
			}
		}
		// A cycle whose first action is still ahead has not begun: the
		// booking answers the cycle before it, which already ran.
		begun := en.NextAction > 0 || (en.NextDueAt != nil && !en.NextDueAt.After(e.now()))
		if !begun {
			ran, err := c.EnrollmentStep.Query().Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle),
				enrollmentstep.ExecutedAtNotNil()).Exist(wctx)
			if err != nil {
				return err
			}
			if !ran {
				continue
			}
		}
		// Steps still to come in this cycle are skipped: the cycle is done.
		if err := c.EnrollmentStep.Update().
			Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle), enrollmentstep.StatusIn(enrollmentstep.StatusSCHEDULED, enrollmentstep.StatusWAITING)).
			SetStatus(enrollmentstep.StatusSKIPPED).SetError("the cycle was completed by a booking").Exec(wctx); err != nil {
			return err
		}
		actions, err := c.ProgramAction.Query().Where(programaction.ProgramID(p.ID)).Order(ent.Asc(programaction.FieldPosition)).All(wctx)
		if err != nil {
			return err
		}
		en.NextAction = len(actions) - 1 // advance past the last action: next cycle or the end
		if err := e.advance(wctx, c, en, actions); err != nil {
			return err
		}
		if en.Status == enrollment.StatusPAUSED && en.Cycle < p.Cycles {
			if err := c.Enrollment.UpdateOne(en).SetStatus(enrollment.StatusACTIVE).SetFlagged(false).Exec(wctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Steps lists an enrolment's steps, oldest first.
func (e *Engine) Steps(ctx context.Context, en *ent.Enrollment) ([]*ent.EnrollmentStep, error) {
	return en.QuerySteps().Order(ent.Asc(enrollmentstep.FieldCycle), ent.Asc(enrollmentstep.FieldScheduledAt)).All(ctx)
}

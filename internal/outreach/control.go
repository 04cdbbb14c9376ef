package outreach

import (
	"context"
	"github.com/whisper-health/whisper/internal/rule"
	"slices"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/booking"
	"github.com/whisper-health/whisper/ent/enrollment"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/program"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/txn"
)

// Pause stops an active enrolment until it is resumed.
func (e *Engine) Pause(ctx context.Context, id pulid.ID) (*ent.Enrollment, error) {
	return e.transition(ctx, id, []enrollment.Status{enrollment.StatusACTIVE}, "only an active enrolment can be paused",
		func(upd *ent.EnrollmentUpdate) { upd.SetStatus(enrollment.StatusPAUSED) })
}

// Resume restarts a paused enrolment; a failed action is tried again.
func (e *Engine) Resume(ctx context.Context, id pulid.ID) (*ent.Enrollment, error) {
	en, err := e.transition(ctx, id, []enrollment.Status{enrollment.StatusPAUSED}, "only a paused enrolment can be resumed",
		func(upd *ent.EnrollmentUpdate) { upd.SetStatus(enrollment.StatusACTIVE).SetFlagged(false) })
	if err == nil {
		e.Wake() // the action it waited at may be due
	}
	return en, err
}

// Cancel ends an enrolment for good.
func (e *Engine) Cancel(ctx context.Context, id pulid.ID) (*ent.Enrollment, error) {
	return e.transition(ctx, id, []enrollment.Status{enrollment.StatusACTIVE, enrollment.StatusPAUSED}, "the enrolment has already ended",
		func(upd *ent.EnrollmentUpdate) {
			upd.SetStatus(enrollment.StatusCANCELLED).ClearNextDueAt().ClearNextActionID()
		})
}

// transition moves an enrolment from one of the from states; the change
// is refused when the enrolment is in another state.
func (e *Engine) transition(ctx context.Context, id pulid.ID, from []enrollment.Status, refusal string, change func(*ent.EnrollmentUpdate)) (*ent.Enrollment, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	en, err := e.client.Enrollment.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.apply(ctx, en, from, refusal, change)
}

// apply changes en only if its status is still the one read: the update is
// conditional, so a change that raced the engine or another person (say,
// the enrolment completed meanwhile) is refused with CONFLICT instead of
// overwriting it.
func (e *Engine) apply(ctx context.Context, en *ent.Enrollment, from []enrollment.Status, refusal string, change func(*ent.EnrollmentUpdate)) (*ent.Enrollment, error) {
	if !slices.Contains(from, en.Status) {
		return nil, apperr.Invalid("id", "%s (it is %s)", refusal, en.Status)
	}
	upd := e.client.Enrollment.Update().Where(enrollment.ID(en.ID), enrollment.StatusEQ(en.Status))
	change(upd)
	n, err := upd.Save(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, apperr.New(apperr.Conflict, "the enrolment changed while you were looking at it; reload it and try again")
	}
	return e.client.Enrollment.Get(ctx, en.ID)
}

// Advance moves an enrolment waiting at a pause action on to the next
// action (a staff member has done what the pause was for).
func (e *Engine) Advance(ctx context.Context, id pulid.ID) (*ent.Enrollment, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	err := e.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		c := tx.Client()
		en, err := c.Enrollment.Query().Where(enrollment.ID(id)).WithProgram().Only(ctx)
		if err != nil {
			return err
		}
		waiting, err := c.EnrollmentStep.Query().Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle),
			enrollmentstep.StatusEQ(enrollmentstep.StatusWAITING)).Exist(ctx)
		if err != nil {
			return err
		}
		if en.Status != enrollment.StatusACTIVE || en.NextDueAt != nil || !waiting {
			return apperr.Invalid("id", "the enrolment is not waiting at a pause")
		}
		practice, err := e.practice(ctx, c)
		var actions []*ent.ProgramAction
		if err == nil {
			actions, err = liveActions(ctx, c, en.ProgramID)
		}
		if err == nil {
			err = c.EnrollmentStep.Update().Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle),
				enrollmentstep.StatusEQ(enrollmentstep.StatusWAITING)).SetStatus(enrollmentstep.StatusSENT).Exec(ctx)
		}
		if err == nil {
			err = e.advance(ctx, c, en, actions, practice.Zone())
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	e.Wake() // the next action may be due now
	return e.client.Enrollment.Get(ctx, id)
}

// BookingMade is told of a new booking, inside its transaction.
func (e *Engine) BookingMade(ctx context.Context, c *ent.Client, b *ent.Booking) error {
	return e.BookingChanged(ctx, c, nil, b)
}

// qualifying reports whether a booking in this state counts for p: it is
// (or was) going ahead, and of a type p counts.
func qualifying(p *ent.Program, b *ent.Booking) bool {
	if b == nil {
		return false
	}
	switch b.Status {
	case booking.StatusCancelled, booking.StatusEnteredInError, booking.StatusNoshow, booking.StatusProposed, booking.StatusWaitlist:
		return false
	}
	switch {
	case p.Type == program.TypeREFERRAL:
		return true
	case p.Completion == program.CompletionIGNORE:
		return false
	case p.Completion == program.CompletionSELECTED:
		return b.BookingTypeID != nil && slices.ContainsFunc(p.Edges.CompletingBookingTypes, func(t *ent.BookingType) bool { return t.ID == *b.BookingTypeID })
	}
	return true
}

// BookingChanged is told, inside its transaction, that a booking was made
// (before is nil) or changed. A booking that has just become qualifying —
// made so, or moved into a going-ahead status or a selected type —
// completes the patient's current cycle, and a referral program ends once
// the patient books. A booking that already qualified before the change
// was counted then and is not counted again.
func (e *Engine) BookingChanged(ctx context.Context, c *ent.Client, before, after *ent.Booking) error {
	wctx := workerCtx(ctx)
	ens, err := c.Enrollment.Query().
		Where(enrollment.PatientID(after.PatientID), enrollment.StatusIn(enrollment.StatusACTIVE, enrollment.StatusPAUSED)).
		WithProgram(func(q *ent.ProgramQuery) { q.WithCompletingBookingTypes() }).
		All(wctx)
	if err != nil {
		return err
	}
	if len(ens) == 0 {
		return nil
	}
	practice, err := e.practice(wctx, c)
	if err != nil {
		return err
	}
	for _, en := range ens {
		p := en.Edges.Program
		if !qualifying(p, after) || (before != nil && before.PatientID == after.PatientID && qualifying(p, before)) {
			continue
		}
		if p.Type == program.TypeREFERRAL {
			if err := c.Enrollment.UpdateOne(en).SetStatus(enrollment.StatusCOMPLETED).ClearNextDueAt().ClearNextActionID().Exec(wctx); err != nil {
				return err
			}
			continue
		}
		if err := e.completeCycle(wctx, c, en, practice.Zone()); err != nil {
			return err
		}
	}
	return nil
}

// completeCycle lets a qualifying booking complete the enrolment's current
// cycle. A booking made after a cycle's actions have all run, before the
// next cycle's first action, answers the cycle that ran (once); otherwise —
// in cycle 1, or when the previous cycle was already answered — it
// completes the current cycle, and its actions still to come are skipped.
func (e *Engine) completeCycle(ctx context.Context, c *ent.Client, en *ent.Enrollment, zone *time.Location) error {
	p := en.Edges.Program
	ran, err := c.EnrollmentStep.Query().Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle),
		enrollmentstep.ExecutedAtNotNil()).Exist(ctx)
	if err != nil {
		return err
	}
	begun := ran || (en.NextDueAt != nil && !en.NextDueAt.After(e.now()))
	if !begun && en.Cycle > 1 && en.AnsweredCycle < en.Cycle-1 {
		return c.Enrollment.UpdateOne(en).SetAnsweredCycle(en.Cycle - 1).Exec(ctx)
	}
	if err := c.EnrollmentStep.Update().
		Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle), enrollmentstep.StatusIn(enrollmentstep.StatusSCHEDULED, enrollmentstep.StatusWAITING)).
		SetStatus(enrollmentstep.StatusSKIPPED).SetError("the cycle was completed by a booking").Exec(ctx); err != nil {
		return err
	}
	if err := c.Enrollment.UpdateOne(en).SetAnsweredCycle(en.Cycle).Exec(ctx); err != nil {
		return err
	}
	actions, err := liveActions(ctx, c, p.ID)
	if err != nil {
		return err
	}
	ends := en.Cycle >= p.Cycles || p.FrequencyEvery == nil || len(actions) == 0
	if err := e.nextCycle(ctx, c, en, actions, zone); err != nil {
		return err
	}
	if en.Status == enrollment.StatusPAUSED && !ends {
		return c.Enrollment.UpdateOne(en).SetStatus(enrollment.StatusACTIVE).SetFlagged(false).Exec(ctx)
	}
	return nil
}

// Steps lists an enrolment's steps, oldest first; steps due at the same
// moment in the program's order (their actions' positions), whatever
// order a pass wrote them in.
func (e *Engine) Steps(ctx context.Context, en *ent.Enrollment) ([]*ent.EnrollmentStep, error) {
	steps, err := en.QuerySteps().WithAction().
		Order(ent.Asc(enrollmentstep.FieldCycle), ent.Asc(enrollmentstep.FieldScheduledAt)).All(ctx)
	if err != nil {
		return nil, err
	}
	position := func(s *ent.EnrollmentStep) int {
		if s.Edges.Action == nil {
			return 0
		}
		return s.Edges.Action.Position
	}
	slices.SortStableFunc(steps, func(a, b *ent.EnrollmentStep) int {
		if a.Cycle != b.Cycle {
			return a.Cycle - b.Cycle
		}
		if c := a.ScheduledAt.Compare(b.ScheduledAt); c != 0 {
			return c
		}
		return position(a) - position(b)
	})
	return steps, nil
}

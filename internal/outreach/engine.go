package outreach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/booking"
	"github.com/whisper-health/whisper/ent/enrollment"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/ent/program"
	"github.com/whisper-health/whisper/ent/programaction"
	"github.com/whisper-health/whisper/ent/referral"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Practice is what templates say about the practice.
type Practice struct {
	Name, Phone, Address string
}

// EngineConfig tunes the engine.
type EngineConfig struct {
	// Postgres selects row locks with SKIP LOCKED, so replicas share work.
	Postgres bool
	// Now is the clock (default time.Now); tests run years in milliseconds.
	Now func() time.Time
	// Practice fills the {{practice.*}} placeholders.
	Practice Practice
}

// Engine enrols patients and runs due actions.
type Engine struct {
	client *ent.Client
	log    *slog.Logger
	cfg    EngineConfig
}

// NewEngine returns the engine.
func NewEngine(client *ent.Client, log *slog.Logger, cfg EngineConfig) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Practice.Name == "" {
		cfg.Practice.Name = "the practice"
	}
	return &Engine{client: client, log: log, cfg: cfg}
}

func (e *Engine) now() time.Time { return e.cfg.Now().UTC() }

func workerCtx(ctx context.Context) context.Context {
	return viewer.NewSystemContext(ctx, "outreach engine")
}

// shift moves t by n units in a direction.
func shift(t time.Time, n int, unit programaction.Unit) time.Time {
	switch unit {
	case programaction.UnitWEEKS:
		return t.AddDate(0, 0, 7*n)
	case programaction.UnitMONTHS:
		return t.AddDate(0, n, 0)
	}
	return t.AddDate(0, 0, n)
}

// dueAt is when an action runs, from the reference date.
func dueAt(ref time.Time, a *ent.ProgramAction) time.Time {
	switch a.Relation {
	case programaction.RelationBEFORE:
		return shift(ref, -a.Offset, a.Unit)
	case programaction.RelationAFTER:
		return shift(ref, a.Offset, a.Unit)
	}
	return ref
}

// EnrollInput enrols a patient.
type EnrollInput struct {
	ProgramID, PatientID pulid.ID
	ReferenceDate        *time.Time
}

// Enroll assigns a patient to an enabled program. The reference date is
// the one the program's type calls for: given, or for General programs the
// day they are added, for Referral programs the patient's latest referral.
func (e *Engine) Enroll(ctx context.Context, in EnrollInput) (*ent.Enrollment, error) {
	if err := manager(ctx); err != nil {
		return nil, err
	}
	p, err := e.client.Program.Query().Where(program.ID(in.ProgramID)).
		WithActions(func(q *ent.ProgramActionQuery) { q.Order(ent.Asc(programaction.FieldPosition)) }).
		Only(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Enabled {
		return nil, apperr.Invalid("programID", "the program is not enabled")
	}
	if _, err := e.client.Patient.Get(ctx, in.PatientID); err != nil {
		return nil, err
	}
	ref := e.now()
	switch {
	case in.ReferenceDate != nil:
		ref = in.ReferenceDate.UTC()
	case p.Type == program.TypeREFERRAL:
		r, err := e.client.Referral.Query().Where(referral.PatientID(in.PatientID)).
			Order(ent.Desc(referral.FieldReferralDate)).First(ctx)
		if ent.IsNotFound(err) {
			return nil, apperr.Invalid("referenceDate", "the patient has no referral; give the referral date")
		}
		if err != nil {
			return nil, err
		}
		ref = r.ReferralDate
	case p.Type == program.TypeRECALL:
		return nil, apperr.Invalid("referenceDate", "a recall needs the proposed booking date")
	case p.Type == program.TypeBOOKING:
		return nil, apperr.Invalid("referenceDate", "a booking program needs the booking date")
	}
	dup, err := e.client.Enrollment.Query().Where(enrollment.ProgramID(p.ID), enrollment.PatientID(in.PatientID),
		enrollment.StatusIn(enrollment.StatusACTIVE, enrollment.StatusPAUSED)).Exist(ctx)
	if err != nil {
		return nil, err
	}
	if dup {
		return nil, apperr.New(apperr.Conflict, "the patient is already enrolled in this program")
	}
	first := p.Edges.Actions[0]
	tx, err := e.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	en, err := tx.Enrollment.Create().
		SetProgramID(p.ID).SetPatientID(in.PatientID).SetReferenceDate(ref).
		SetNextDueAt(dueAt(ref, first)).
		Save(ctx)
	if err == nil {
		err = tx.EnrollmentStep.Create().SetEnrollmentID(en.ID).SetActionID(first.ID).SetCycle(1).
			SetScheduledAt(dueAt(ref, first)).Exec(ctx)
	}
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return en.Unwrap(), nil
}

// RunDue runs every action that is due now, enrolment by enrolment, and
// reports how many actions ran. Each enrolment advances in its own
// transaction; on PostgreSQL its row is taken with SKIP LOCKED, so two
// engines never run the same action.
func (e *Engine) RunDue(ctx context.Context) (int, error) {
	wctx := workerCtx(ctx)
	ran := 0
	// A program's actions are read once per pass, not once per enrolment.
	actions := map[pulid.ID][]*ent.ProgramAction{}
	for ctx.Err() == nil {
		ids, err := e.client.Enrollment.Query().
			Where(enrollment.StatusEQ(enrollment.StatusACTIVE), enrollment.NextDueAtLTE(e.now())).
			Order(ent.Asc(enrollment.FieldNextDueAt)).
			Limit(100).
			IDs(wctx)
		if err != nil {
			return ran, err
		}
		if len(ids) == 0 {
			return ran, nil
		}
		progress := 0
		for _, id := range ids {
			n, err := e.step(wctx, id, actions)
			if err != nil {
				return ran, err
			}
			ran += n
			progress += n
		}
		if progress == 0 {
			return ran, nil // the rest is being run by another engine
		}
	}
	return ran, ctx.Err()
}

var errTaken = errors.New("taken by another engine")

// step runs the next due action of one enrolment, if it is still due and
// nobody else holds it.
func (e *Engine) step(ctx context.Context, id pulid.ID, cache map[pulid.ID][]*ent.ProgramAction) (int, error) {
	tx, err := e.client.Tx(ctx)
	if err != nil {
		return 0, err
	}
	n, err := e.stepTx(ctx, tx.Client(), id, cache)
	if err != nil {
		_ = tx.Rollback()
		if errors.Is(err, errTaken) {
			return 0, nil
		}
		return 0, err
	}
	return n, tx.Commit()
}

func (e *Engine) stepTx(ctx context.Context, c *ent.Client, id pulid.ID, cache map[pulid.ID][]*ent.ProgramAction) (int, error) {
	q := c.Enrollment.Query().Where(enrollment.ID(id), enrollment.StatusEQ(enrollment.StatusACTIVE), enrollment.NextDueAtLTE(e.now()))
	if e.cfg.Postgres {
		q = q.ForUpdate(sqlSkipLocked())
	}
	en, err := q.WithPatient().WithProgram().Only(ctx)
	if ent.IsNotFound(err) {
		return 0, errTaken
	}
	if err != nil {
		return 0, err
	}
	actions, ok := cache[en.ProgramID]
	if !ok {
		if actions, err = c.ProgramAction.Query().Where(programaction.ProgramID(en.ProgramID)).
			Order(ent.Asc(programaction.FieldPosition)).WithTemplate().All(ctx); err != nil {
			return 0, err
		}
		cache[en.ProgramID] = actions
	}
	if en.NextAction >= len(actions) {
		return 0, c.Enrollment.UpdateOne(en).SetStatus(enrollment.StatusCOMPLETED).ClearNextDueAt().Exec(ctx)
	}
	a := actions[en.NextAction]
	st, err := e.stepRow(ctx, c, en, a)
	if err != nil {
		return 0, err
	}
	now := e.now()
	if a.Type == programaction.TypePAUSE {
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusWAITING).SetExecutedAt(now).Exec(ctx); err != nil {
			return 0, err
		}
		return 1, c.Enrollment.UpdateOne(en).ClearNextDueAt().Exec(ctx)
	}
	ob, sendErr := e.send(ctx, c, en, a)
	switch {
	case sendErr == nil:
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusSENT).SetExecutedAt(now).SetOutboxID(ob).Exec(ctx); err != nil {
			return 0, err
		}
	case a.PauseOnError:
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusFAILED).SetExecutedAt(now).SetError(sendErr.Error()).Exec(ctx); err != nil {
			return 0, err
		}
		// Paused and flagged; resuming retries this action.
		return 1, c.Enrollment.UpdateOne(en).SetStatus(enrollment.StatusPAUSED).SetFlagged(true).Exec(ctx)
	default:
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusSKIPPED).SetExecutedAt(now).SetError(sendErr.Error()).Exec(ctx); err != nil {
			return 0, err
		}
	}
	return 1, e.advance(ctx, c, en, actions)
}

// stepRow returns the step of this action in this cycle, creating it.
func (e *Engine) stepRow(ctx context.Context, c *ent.Client, en *ent.Enrollment, a *ent.ProgramAction) (*ent.EnrollmentStep, error) {
	st, err := c.EnrollmentStep.Query().
		Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle), enrollmentstep.ActionID(a.ID)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return c.EnrollmentStep.Create().SetEnrollmentID(en.ID).SetActionID(a.ID).SetCycle(en.Cycle).
			SetScheduledAt(dueAt(en.ReferenceDate, a)).Save(ctx)
	}
	return st, err
}

// advance moves to the next action, the next cycle (reference date plus
// the frequency), or the end.
func (e *Engine) advance(ctx context.Context, c *ent.Client, en *ent.Enrollment, actions []*ent.ProgramAction) error {
	next, cycle, ref := en.NextAction+1, en.Cycle, en.ReferenceDate
	p := en.Edges.Program
	if next >= len(actions) {
		if cycle >= p.Cycles || p.FrequencyEvery == nil || p.FrequencyUnit == nil {
			return c.Enrollment.UpdateOne(en).SetNextAction(next).SetStatus(enrollment.StatusCOMPLETED).ClearNextDueAt().Exec(ctx)
		}
		next, cycle = 0, cycle+1
		ref = shift(ref, *p.FrequencyEvery, programaction.Unit(*p.FrequencyUnit))
	}
	a := actions[next]
	due := dueAt(ref, a)
	if err := c.EnrollmentStep.Create().SetEnrollmentID(en.ID).SetActionID(a.ID).SetCycle(cycle).SetScheduledAt(due).Exec(ctx); err != nil {
		return err
	}
	return c.Enrollment.UpdateOne(en).SetNextAction(next).SetCycle(cycle).SetReferenceDate(ref).SetNextDueAt(due).Exec(ctx)
}

// send writes the outbox row for an action, in the step's transaction; the
// idempotency key makes a repeated run of the same step impossible.
func (e *Engine) send(ctx context.Context, c *ent.Client, en *ent.Enrollment, a *ent.ProgramAction) (pulid.ID, error) {
	p := en.Edges.Patient
	t := a.Edges.Template
	if t == nil {
		return "", errors.New("the action's template is missing")
	}
	vals := e.values(ctx, c, en, t.Body+" "+deref(t.Subject))
	var channel, to string
	switch a.Type {
	case programaction.TypeSMS:
		if p.Mobile == nil || *p.Mobile == "" {
			return "", errors.New("the patient has no mobile number")
		}
		channel, to = "SMS", *p.Mobile
	case programaction.TypeEMAIL:
		if p.Email == nil || *p.Email == "" {
			return "", errors.New("the patient has no email address")
		}
		channel, to = "EMAIL", *p.Email
	case programaction.TypeLETTER_TO_PATIENT:
		if p.AddressLine1 == nil {
			return "", errors.New("the patient has no postal address")
		}
		channel, to = "LETTER", vals["patient.fullName"]
	case programaction.TypeLETTER_TO_GP:
		if p.GpName == nil {
			return "", errors.New("the patient has no GP on file")
		}
		channel, to = "LETTER", *p.GpName
	}
	subject := ""
	if t.Subject != nil {
		subject = Render(*t.Subject, vals)
	}
	body := Render(t.Body, vals)
	key := fmt.Sprintf("enrollment:%s:%d:%s", en.ID, en.Cycle, a.ID)
	create := c.OutboxMessage.Create()
	if channel == "LETTER" && a.LetterOption != nil {
		create.SetRoute(outboxmessage.Route(*a.LetterOption))
	}
	ob, err := create.
		SetChannel(outboxChannel(channel)).
		SetRecipient(to).
		SetSubject(subject).
		SetBody(body).
		SetIdempotencyKey(key).
		Save(ctx)
	if err != nil {
		return "", fmt.Errorf("queuing %s: %w", strings.ToLower(channel), err)
	}
	return ob.ID, nil
}

// values are the placeholder values for an enrolment.
func (e *Engine) values(ctx context.Context, c *ent.Client, en *ent.Enrollment, text string) map[string]string {
	p := en.Edges.Patient
	v := map[string]string{
		"patient.firstName":     p.FirstName,
		"patient.lastName":      p.LastName,
		"patient.fullName":      p.FirstName + " " + p.LastName,
		"patient.patientNumber": p.PatientNumber,
		"practice.name":         e.cfg.Practice.Name,
		"practice.phone":        e.cfg.Practice.Phone,
		"practice.address":      e.cfg.Practice.Address,
		"program.name":          en.Edges.Program.Name,
	}
	opt := func(k string, s *string) {
		if s != nil {
			v[k] = *s
		}
	}
	opt("patient.birthDate", p.BirthDate)
	opt("patient.mobile", p.Mobile)
	opt("patient.email", p.Email)
	opt("patient.gpName", p.GpName)
	var addr []string
	for _, s := range []*string{p.AddressLine1, p.AddressLine2, p.City, p.Region, p.Postcode} {
		if s != nil && *s != "" {
			addr = append(addr, *s)
		}
	}
	v["patient.address"] = strings.Join(addr, ", ")
	// Bookings and referrals are looked up only when the template uses them.
	if !strings.Contains(text, "booking.") && !strings.Contains(text, "doctor.") && !strings.Contains(text, "referral.") {
		return v
	}
	if b, err := c.Booking.Query().Where(booking.PatientID(p.ID), booking.StartsAtGTE(e.now())).
		Order(ent.Asc(booking.FieldStartsAt)).WithDoctor().WithBookingType().First(ctx); err == nil {
		v["booking.date"] = b.StartsAt.Format("Monday 2 January 2006")
		v["booking.time"] = b.StartsAt.Format("15:04")
		if b.Edges.BookingType != nil {
			v["booking.type"] = b.Edges.BookingType.Name
		}
		if b.Edges.Doctor != nil {
			v["doctor.name"] = b.Edges.Doctor.Name
		}
	}
	if r, err := c.Referral.Query().Where(referral.PatientID(p.ID)).Order(ent.Desc(referral.FieldReferralDate)).First(ctx); err == nil {
		v["referral.date"] = r.ReferralDate.Format("2 January 2006")
		v["referral.referrer"] = r.Referrer
	}
	return v
}

// Render fills a template's placeholders; unknown ones cannot occur (they
// are refused when the template is saved) and unset ones become empty.
func Render(text string, vals map[string]string) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		return vals[placeholder.FindStringSubmatch(m)[1]]
	})
}

// Run runs due actions every interval until ctx ends (so an action runs
// within that interval of falling due); panics are recovered.
func (e *Engine) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		func() {
			defer func() {
				if r := recover(); r != nil {
					e.log.Error("panic in outreach engine", "panic", fmt.Sprint(r))
				}
			}()
			if _, err := e.RunDue(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("running due actions", "err", err)
			}
		}()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

package outreach

import (
	"context"
	"errors"
	"fmt"
	"github.com/whisper-health/whisper/internal/rule"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/booking"
	"github.com/whisper-health/whisper/ent/enrollment"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/ent/program"
	"github.com/whisper-health/whisper/ent/programaction"
	"github.com/whisper-health/whisper/ent/referral"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/settings"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/txn"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Practice is what templates say about the practice: the defaults of
// EngineConfig.Practice, used when no Settings are given.
type Practice struct {
	Name, Phone, Address string
}

// EngineConfig tunes the engine.
type EngineConfig struct {
	// Dialect selects row locks with SKIP LOCKED on PostgreSQL, so replicas
	// share work.
	Dialect store.Dialect
	// Now is the clock (default time.Now); tests run years in milliseconds.
	Now func() time.Time
	// Practice fills the {{practice.*}} placeholders when Settings is nil
	// (the engine then reads the stored settings over these defaults, in
	// UTC).
	Practice Practice
	// Settings are the practice's current details and time zone, read
	// again on every pass, so that a change on any replica applies to the
	// next message and the next due time.
	Settings *settings.Service
	// Consent is the contact policy every SMS and email is checked against
	// (default: a consent service over the engine's client).
	Consent *consent.Service
	// Window is the practice's send window: a patient's SMS or email queued
	// outside it waits for it to open (the zero Window is always open).
	Window consent.Window
	// PublicURL is the server's public base URL, for the one-click
	// unsubscribe link of outreach email (none when empty).
	PublicURL string
	// AnalyzeEvery is how many actions a pass runs between refreshes of
	// PostgreSQL's statistics of the tables it grows (enrolments, their
	// steps, the outbox); default 5,000, negative for never. See
	// sharedPass.count.
	AnalyzeEvery int
}

// defaultAnalyzeEvery is EngineConfig.AnalyzeEvery's default.
const defaultAnalyzeEvery = 5000

// Engine enrols patients and runs due actions.
type Engine struct {
	client *ent.Client
	log    *slog.Logger
	cfg    EngineConfig
	tx     *txn.Runner
	wake   chan struct{}
	// passed, when set, is called after each pass of Run: the signal a
	// test waits on instead of polling for the engine's writes.
	passed func()
}

// NewEngine returns the engine.
func NewEngine(client *ent.Client, log *slog.Logger, cfg EngineConfig) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AnalyzeEvery == 0 {
		cfg.AnalyzeEvery = defaultAnalyzeEvery
	}
	if cfg.Settings == nil {
		cfg.Settings = settings.New(client, settings.Practice{Name: cfg.Practice.Name, Phone: cfg.Practice.Phone, Address: cfg.Practice.Address})
	}
	if cfg.Consent == nil {
		cfg.Consent = consent.New(client, log, cfg.Now, nil)
	}
	return &Engine{client: client, log: log, cfg: cfg, tx: txn.New(client, nil, log), wake: make(chan struct{}, 1)}
}

func (e *Engine) now() time.Time { return e.cfg.Now().UTC() }

func workerCtx(ctx context.Context) context.Context {
	return viewer.NewSystemContext(ctx, "outreach engine")
}

// practice is the practice's current settings, for one pass or request.
func (e *Engine) practice(ctx context.Context, c *ent.Client) (settings.Practice, error) {
	p, err := e.cfg.Settings.Current(ctx, c)
	if err != nil {
		return settings.Practice{}, fmt.Errorf("reading the practice's settings: %w", err)
	}
	return p, nil
}

// shift moves t by n units in a direction, counting calendar days in zone:
// the local clock time stays across a daylight-saving change (a 9:00
// reminder a day before a 9:00 booking is at 9:00, whether that day has 23,
// 24 or 25 hours). Months keep the day of the month, clamped to the
// month's end (31 January plus a month is 28 or 29 February, not 3 March).
// The result is in UTC, as times are stored.
func shift(t time.Time, n int, unit programaction.Unit, zone *time.Location) time.Time {
	t = t.In(zone)
	switch unit {
	case programaction.UnitWEEKS:
		t = t.AddDate(0, 0, 7*n)
	case programaction.UnitMONTHS:
		y, m, d := t.Date()
		first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), zone)
		last := first.AddDate(0, 1, -1).Day()
		t = time.Date(y, m+time.Month(n), min(d, last), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), zone)
	default:
		t = t.AddDate(0, 0, n)
	}
	return t.UTC()
}

// dueAt is when an action runs, from the reference date, counting the
// practice's calendar days (zone).
func dueAt(ref time.Time, a *ent.ProgramAction, zone *time.Location) time.Time {
	switch a.Relation {
	case programaction.RelationBEFORE:
		return shift(ref, -a.Offset, a.Unit, zone)
	case programaction.RelationAFTER:
		return shift(ref, a.Offset, a.Unit, zone)
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
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	p, err := e.client.Program.Query().Where(program.ID(in.ProgramID)).
		WithActions(func(q *ent.ProgramActionQuery) {
			q.Where(programaction.ArchivedAtIsNil()).Order(ent.Asc(programaction.FieldPosition), ent.Asc(programaction.FieldID))
		}).
		Only(ctx)
	if err != nil {
		return nil, err
	}
	if !p.Enabled || len(p.Edges.Actions) == 0 {
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
	practice, err := e.practice(ctx, nil)
	if err != nil {
		return nil, err
	}
	zone := practice.Zone()
	first := p.Edges.Actions[0]
	var en *ent.Enrollment
	err = e.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		var err error
		en, err = tx.Enrollment.Create().
			SetProgramID(p.ID).SetPatientID(in.PatientID).SetReferenceDate(ref).SetOriginDate(ref).
			SetNextActionID(first.ID).SetNextDueAt(dueAt(ref, first, zone)).
			Save(ctx)
		if err == nil {
			err = tx.EnrollmentStep.Create().SetEnrollmentID(en.ID).SetActionID(first.ID).SetCycle(1).
				SetScheduledAt(dueAt(ref, first, zone)).Exec(ctx)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	e.Wake() // its first action may be due now
	return en.Unwrap(), nil
}

// RunDue runs every action that is due now and reports how many actions
// ran. Several workers (one on SQLite) take due enrolments in batches: one
// statement locks a batch (SKIP LOCKED on PostgreSQL, so workers and
// replicas never take the same enrolment), and a batch's plain sends are
// written with multi-row statements in one transaction; any other case
// (a pause, an edited or removed action, an opt-out, an undeliverable
// message, a failing batch) runs enrolment by enrolment in its own
// transaction. An enrolment whose step fails with an error is paused and
// flagged for follow-up (its step records why), and the pass goes on with
// the others: one bad enrolment never blocks the rest.
func (e *Engine) RunDue(ctx context.Context) (int, error) {
	wctx := workerCtx(ctx)
	// The practice's settings, and a program's actions, are read once per
	// pass, not once per enrolment.
	practice, err := e.practice(wctx, nil)
	if err != nil {
		return 0, err
	}
	sp := &sharedPass{pass: &pass{practice: practice, actions: map[pulid.ID][]*ent.ProgramAction{}}}
	n := e.workers()
	ran := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A worker's panic is its pass's error, as it was when the
			// pass ran on Run's own goroutine: it never ends the process.
			defer func() {
				if r := recover(); r != nil {
					e.log.Error("outreach: a worker panicked", apperr.PanicAttrs(r)...)
					errs[i] = fmt.Errorf("outreach worker panicked: %T", r)
				}
			}()
			ran[i], errs[i] = e.work(wctx, sp)
		}()
	}
	wg.Wait()
	total := 0
	for _, r := range ran {
		total += r
	}
	return total, errors.Join(errs...)
}

var errTaken = errors.New("taken by another engine")

// poisoned pauses and flags an enrolment whose step failed with an error,
// recording the reason on the step, so that staff see it and resuming
// retries it.
func (e *Engine) poisoned(ctx context.Context, id pulid.ID, cause error) {
	e.log.Error("outreach: an enrolment's step failed; it is paused and flagged", "enrollment", id, "err", cause)
	err := e.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		c := tx.Client()
		en, err := c.Enrollment.Query().Where(enrollment.ID(id), enrollment.StatusEQ(enrollment.StatusACTIVE)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if en.NextActionID != nil {
			if err := c.EnrollmentStep.Update().
				Where(enrollmentstep.EnrollmentID(id), enrollmentstep.Cycle(en.Cycle), enrollmentstep.ActionID(*en.NextActionID),
					enrollmentstep.StatusEQ(enrollmentstep.StatusSCHEDULED)).
				SetStatus(enrollmentstep.StatusFAILED).SetExecutedAt(e.now()).SetError(clip(cause.Error(), 1000)).
				Exec(ctx); err != nil {
				return err
			}
		}
		return c.Enrollment.UpdateOne(en).SetStatus(enrollment.StatusPAUSED).SetFlagged(true).Exec(ctx)
	})
	if err != nil {
		e.log.Error("outreach: could not pause a failing enrolment", "enrollment", id, "err", err)
	}
}

// clip cuts s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// step runs the next due action of one enrolment, if it is still due and
// nobody else holds it (errTaken otherwise).
func (e *Engine) step(ctx context.Context, id pulid.ID, ps *pass) (int, error) {
	var n int
	err := e.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		var err error
		n, err = e.stepTx(ctx, tx.Client(), id, ps)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// liveActions are a program's actions in order, without removed ones.
func liveActions(ctx context.Context, c *ent.Client, programID pulid.ID) ([]*ent.ProgramAction, error) {
	return c.ProgramAction.Query().Where(programaction.ProgramID(programID), programaction.ArchivedAtIsNil()).
		Order(ent.Asc(programaction.FieldPosition), ent.Asc(programaction.FieldID)).WithTemplate().All(ctx)
}

// pass is what one run of the engine reads once: the practice's settings
// and each program's actions.
type pass struct {
	practice settings.Practice
	mu       sync.Mutex // guards actions (a pass's workers share it)
	actions  map[pulid.ID][]*ent.ProgramAction
}

func (e *Engine) stepTx(ctx context.Context, c *ent.Client, id pulid.ID, ps *pass) (int, error) {
	zone := ps.practice.Zone()
	q := c.Enrollment.Query().Where(enrollment.ID(id), enrollment.StatusEQ(enrollment.StatusACTIVE), enrollment.NextDueAtLTE(e.now()))
	if e.cfg.Dialect.IsPostgres() {
		q = q.ForUpdate(sqlSkipLocked())
	}
	en, err := q.WithPatient().WithProgram().Only(ctx)
	if ent.IsNotFound(err) {
		return 0, errTaken
	}
	if err != nil {
		return 0, err
	}
	actions, err := e.programActions(ctx, c, ps, en.ProgramID)
	if err != nil {
		return 0, err
	}
	// The cycle's steps, read once: which action is done and which is next.
	steps, err := c.EnrollmentStep.Query().Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle)).All(ctx)
	if err != nil {
		return 0, err
	}
	if en.NextActionID == nil {
		// Written without one (an older row, or a bulk load): the first
		// action not yet reached in this cycle is the one due.
		a := firstUnreached(actions, steps)
		if a == nil {
			return 0, e.nextCycle(ctx, c, en, actions, zone)
		}
		en.NextActionID = &a.ID // saved with the enrolment's next update
	}
	a, err := e.action(ctx, c, *en.NextActionID, actions)
	if err != nil {
		return 0, err
	}
	var st *ent.EnrollmentStep
	for _, s := range steps {
		if s.ActionID == a.ID {
			st = s
		}
	}
	if st == nil {
		if st, err = c.EnrollmentStep.Create().SetEnrollmentID(en.ID).SetActionID(a.ID).SetCycle(en.Cycle).
			SetScheduledAt(dueAt(en.ReferenceDate, a, zone)).Save(ctx); err != nil {
			return 0, err
		}
		steps = append(steps, st)
	}
	next := func() error { return e.advanceFrom(ctx, c, en, actions, steps, zone) }
	now := e.now()
	switch {
	case a.ArchivedAt != nil:
		// Removed from the program while this enrolment waited for it.
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusSKIPPED).
			SetError("the action was removed from the program").Exec(ctx); err != nil {
			return 0, err
		}
		return 0, next()
	case st.Status == enrollmentstep.StatusSENT || st.Status == enrollmentstep.StatusSKIPPED || st.Status == enrollmentstep.StatusWAITING:
		// Already done in this cycle: never run an action twice.
		return 0, next()
	case en.NextDueAt != nil && dueAt(en.ReferenceDate, a, zone).After(*en.NextDueAt) && dueAt(en.ReferenceDate, a, zone).After(now):
		// The action's timing was edited to later: wait for it. (Compared
		// with the stored due time, which the database rounded the same way.)
		due := dueAt(en.ReferenceDate, a, zone)
		if err := c.EnrollmentStep.UpdateOne(st).SetScheduledAt(due).Exec(ctx); err != nil {
			return 0, err
		}
		return 0, c.Enrollment.UpdateOne(en).SetNextActionID(a.ID).SetNextDueAt(due).Exec(ctx)
	}
	if a.Type == programaction.TypePAUSE {
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusWAITING).SetExecutedAt(now).Exec(ctx); err != nil {
			return 0, err
		}
		return 1, c.Enrollment.UpdateOne(en).SetNextActionID(a.ID).ClearNextDueAt().Exec(ctx)
	}
	ob, sendErr := e.send(ctx, c, en, a, ps.practice)
	var undeliverable undeliverableError
	var optedOut skippedError
	switch {
	case errors.As(sendErr, &optedOut):
		// Not a failure: the patient said no. Never sent, never paused for.
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusSKIPPED).SetExecutedAt(now).
			SetSkipReason(optedOut.code).SetError(optedOut.reason).Exec(ctx); err != nil {
			return 0, err
		}
	case sendErr == nil:
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusSENT).SetExecutedAt(now).SetOutboxID(ob).ClearError().Exec(ctx); err != nil {
			return 0, err
		}
	case !errors.As(sendErr, &undeliverable):
		return 0, sendErr // a database error: the whole step is undone
	case a.PauseOnError:
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusFAILED).SetExecutedAt(now).SetError(sendErr.Error()).Exec(ctx); err != nil {
			return 0, err
		}
		// Paused and flagged; resuming retries this action.
		return 1, c.Enrollment.UpdateOne(en).SetNextActionID(a.ID).SetStatus(enrollment.StatusPAUSED).SetFlagged(true).Exec(ctx)
	default:
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusSKIPPED).SetExecutedAt(now).SetError(sendErr.Error()).Exec(ctx); err != nil {
			return 0, err
		}
	}
	return 1, next()
}

// action finds an action among the program's live ones, or reads it (a
// removed action the enrolment was waiting for).
func (e *Engine) action(ctx context.Context, c *ent.Client, id pulid.ID, actions []*ent.ProgramAction) (*ent.ProgramAction, error) {
	for _, a := range actions {
		if a.ID == id {
			return a, nil
		}
	}
	return c.ProgramAction.Query().Where(programaction.ID(id)).WithTemplate().Only(ctx)
}

// advance schedules the next action of the cycle: the first, in the
// program's current order, that has not been reached in this cycle. Progress
// is by action identity, so reordering or removing actions while patients
// are enrolled repeats and loses nothing. With none left, the next cycle
// begins (or the enrolment ends).
func (e *Engine) advance(ctx context.Context, c *ent.Client, en *ent.Enrollment, actions []*ent.ProgramAction, zone *time.Location) error {
	steps, err := c.EnrollmentStep.Query().Where(enrollmentstep.EnrollmentID(en.ID), enrollmentstep.Cycle(en.Cycle)).All(ctx)
	if err != nil {
		return err
	}
	return e.advanceFrom(ctx, c, en, actions, steps, zone)
}

// advanceFrom is advance with the cycle's steps already read.
func (e *Engine) advanceFrom(ctx context.Context, c *ent.Client, en *ent.Enrollment, actions []*ent.ProgramAction, steps []*ent.EnrollmentStep, zone *time.Location) error {
	if a := firstUnreached(actions, steps); a != nil {
		return e.schedule(ctx, c, en, a, en.Cycle, en.ReferenceDate, zone)
	}
	return e.nextCycle(ctx, c, en, actions, zone)
}

// firstUnreached is the first action, in the program's current order, with
// no step among steps (nil when all have one).
func firstUnreached(actions []*ent.ProgramAction, steps []*ent.EnrollmentStep) *ent.ProgramAction {
	for _, a := range actions {
		if !slices.ContainsFunc(steps, func(s *ent.EnrollmentStep) bool { return s.ActionID == a.ID }) {
			return a
		}
	}
	return nil
}

// nextCycle starts the enrolment's next cycle, whose reference date is the
// first cycle's plus the frequency once per cycle, or ends the enrolment.
func (e *Engine) nextCycle(ctx context.Context, c *ent.Client, en *ent.Enrollment, actions []*ent.ProgramAction, zone *time.Location) error {
	p := en.Edges.Program
	if en.Cycle >= p.Cycles || p.FrequencyEvery == nil || p.FrequencyUnit == nil || len(actions) == 0 {
		return c.Enrollment.UpdateOne(en).SetStatus(enrollment.StatusCOMPLETED).ClearNextDueAt().ClearNextActionID().Exec(ctx)
	}
	origin := en.ReferenceDate
	if en.OriginDate != nil {
		origin = *en.OriginDate
	}
	cycle := en.Cycle + 1
	ref := shift(origin, (cycle-1)*(*p.FrequencyEvery), programaction.Unit(*p.FrequencyUnit), zone)
	return e.schedule(ctx, c, en, actions[0], cycle, ref, zone)
}

// schedule makes a the enrolment's next action, due from ref.
func (e *Engine) schedule(ctx context.Context, c *ent.Client, en *ent.Enrollment, a *ent.ProgramAction, cycle int, ref time.Time, zone *time.Location) error {
	due := dueAt(ref, a, zone)
	if err := c.EnrollmentStep.Create().SetEnrollmentID(en.ID).SetActionID(a.ID).SetCycle(cycle).SetScheduledAt(due).Exec(ctx); err != nil {
		return err
	}
	if err := c.Enrollment.UpdateOne(en).SetNextActionID(a.ID).SetCycle(cycle).SetReferenceDate(ref).SetNextDueAt(due).Exec(ctx); err != nil {
		return err
	}
	en.NextActionID, en.Cycle, en.ReferenceDate, en.NextDueAt = &a.ID, cycle, ref, &due
	return nil
}

// undeliverableError is an action that cannot be sent to this patient (no
// mobile number, no address): pause on error or skip decides what follows.
// code names the reason for a preview (NO_MOBILE, MISSING_VALUE, …).
type undeliverableError struct{ code, reason string }

func (u undeliverableError) Error() string { return u.reason }

func undeliverable(code, format string, args ...any) error {
	return undeliverableError{code: code, reason: fmt.Sprintf(format, args...)}
}

// skippedError is an action the contact policy forbids (the patient opted
// out of the channel): the step is SKIPPED with the code as its reason,
// whatever pause on error says, and the provider is never called.
type skippedError struct{ code, reason string }

func (s skippedError) Error() string { return s.reason }

// rendered is an action's message for one patient, ready to queue.
type rendered struct {
	channel, to, subject, body string
}

// render is what an action would send to an enrolment's patient: its
// channel, recipient and text, or why it cannot be sent (an
// undeliverableError, or a skippedError when the patient opted out).
// It writes nothing.
func (e *Engine) render(ctx context.Context, c *ent.Client, en *ent.Enrollment, a *ent.ProgramAction, practice settings.Practice) (rendered, error) {
	return e.renderWith(ctx, c, en, a, practice, nil)
}

// renderWith is render with the contact policy's answers already read
// (by consentKey; a question not in decided is asked).
func (e *Engine) renderWith(ctx context.Context, c *ent.Client, en *ent.Enrollment, a *ent.ProgramAction, practice settings.Practice, decided map[string]consent.State) (rendered, error) {
	p := en.Edges.Patient
	t := a.Edges.Template
	if t == nil {
		return rendered{}, undeliverable("NO_TEMPLATE", "the action's template is missing")
	}
	vals := e.values(ctx, c, en, t.Body+" "+deref(t.Subject), practice)
	var channel, to string
	switch a.Type {
	case programaction.TypeSMS:
		if p.Mobile == nil || *p.Mobile == "" {
			return rendered{}, undeliverable("NO_MOBILE", "the patient has no mobile number")
		}
		channel, to = "SMS", NormalisePhone(*p.Mobile)
	case programaction.TypeEMAIL:
		if p.Email == nil || *p.Email == "" {
			return rendered{}, undeliverable("NO_EMAIL", "the patient has no email address")
		}
		channel, to = "EMAIL", *p.Email
	case programaction.TypeLETTER_TO_PATIENT:
		if p.AddressLine1 == nil || *p.AddressLine1 == "" {
			return rendered{}, undeliverable("NO_ADDRESS", "the patient has no postal address")
		}
		// The address block: name, then one line each (town, region and
		// postcode share the last).
		channel, to = "LETTER", addressBlock(vals["patient.fullName"], deref(p.AddressLine1), deref(p.AddressLine2),
			strings.Join(nonEmpty(deref(p.City), deref(p.Region), deref(p.Postcode)), " "))
	case programaction.TypeLETTER_TO_GP:
		if p.GpName == nil || p.GpAddress == nil || *p.GpAddress == "" {
			return rendered{}, undeliverable("NO_GP", "the patient has no GP (with a practice address) on file")
		}
		channel, to = "LETTER", addressBlock(*p.GpName, deref(p.GpPractice), *p.GpAddress)
	}
	if channel == "SMS" || channel == "EMAIL" {
		st, known := decided[consentKey(channel, string(p.ID), to)]
		ok := st != consent.OptedOut
		if !known {
			var err error
			if st, ok, err = e.cfg.Consent.MayContact(ctx, c, consent.Channel(channel), p.ID, to); err != nil {
				return rendered{}, err
			}
		}
		if !ok {
			return rendered{}, skippedError{code: "OPTED_OUT", reason: fmt.Sprintf("the patient opted out of %s (%s)", channel, st)}
		}
	}
	// A placeholder with no value for this patient fails the action with
	// the reason, rather than sending a message with a blank in it.
	for _, m := range placeholder.FindAllStringSubmatch(t.Body+" "+deref(t.Subject), -1) {
		if vals[m[1]] == "" {
			return rendered{}, undeliverable("MISSING_VALUE", "the template uses {{%s}}, which has no value for this patient", m[1])
		}
	}
	subject := ""
	if t.Subject != nil {
		subject = Render(*t.Subject, vals)
	}
	return rendered{channel: channel, to: to, subject: subject, body: Render(t.Body, vals)}, nil
}

// send writes the outbox row for an action, in the step's transaction; the
// idempotency key makes a repeated run of the same step impossible. A
// patient's SMS or email queued outside the send window waits for it to
// open (held until then); an email carries its unsubscribe link.
func (e *Engine) send(ctx context.Context, c *ent.Client, en *ent.Enrollment, a *ent.ProgramAction, practice settings.Practice) (pulid.ID, error) {
	r, err := e.render(ctx, c, en, a, practice)
	if err != nil {
		return "", err
	}
	create := e.outboxCreate(c, en, a, r, practice)
	id := pulid.New("ob")
	err = create.SetID(id).Exec(ctx)
	if err != nil {
		return "", fmt.Errorf("queuing %s: %w", strings.ToLower(r.channel), err)
	}
	return id, nil
}

// outboxCreate is the outbox row of an action rendered for an enrolment:
// its idempotency key (one per enrolment, cycle and action) makes a second
// row for the same step impossible. A patient's SMS or email queued
// outside the send window waits for it to open (held until then); an
// email carries its unsubscribe link.
func (e *Engine) outboxCreate(c *ent.Client, en *ent.Enrollment, a *ent.ProgramAction, r rendered, practice settings.Practice) *ent.OutboxMessageCreate {
	create := c.OutboxMessage.Create()
	if r.channel == "LETTER" && a.LetterOption != nil {
		create.SetRoute(outboxmessage.Route(*a.LetterOption))
	}
	if r.channel == "SMS" || r.channel == "EMAIL" {
		create.SetPatientFacing(true)
		now := e.now()
		if next := e.cfg.Window.Next(now, practice.Zone()); next.After(now) {
			create.SetNextAttemptAt(next).SetHeldUntil(next)
		}
	}
	if r.channel == "EMAIL" {
		create.SetUnsubscribeURL(e.cfg.Consent.UnsubscribeURL(e.cfg.PublicURL, en.PatientID))
	}
	return create.
		SetChannel(outboxChannel(r.channel)).
		SetRecipient(r.to).
		SetSubject(r.subject).
		SetBody(r.body).
		SetIdempotencyKey(fmt.Sprintf("enrollment:%s:%d:%s", en.ID, en.Cycle, a.ID))
}

// DeliveryFailed is told, inside the outbox worker's transaction, that the
// provider refused a row or its outcome is unknown. When an enrolment step
// queued it, the step is marked FAILED with the reason, and with pause on
// error the enrolment is paused and flagged for follow-up (an enrolment
// that has already ended is flagged); otherwise the failure is only
// recorded and the enrolment goes on.
func (e *Engine) DeliveryFailed(ctx context.Context, c *ent.Client, row pulid.ID, reason string) error {
	wctx := workerCtx(ctx)
	st, err := c.EnrollmentStep.Query().Where(enrollmentstep.OutboxID(row)).WithAction().First(wctx)
	if ent.IsNotFound(err) {
		return nil // not from a program (a messenger #sms copy)
	}
	if err != nil {
		return err
	}
	if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusFAILED).SetError(clip(reason, 1000)).Exec(wctx); err != nil {
		return err
	}
	if !st.Edges.Action.PauseOnError {
		return nil
	}
	if err := c.Enrollment.Update().Where(enrollment.ID(st.EnrollmentID), enrollment.StatusEQ(enrollment.StatusACTIVE)).
		SetStatus(enrollment.StatusPAUSED).Exec(wctx); err != nil {
		return err
	}
	return c.Enrollment.UpdateOneID(st.EnrollmentID).SetFlagged(true).Exec(wctx)
}

// Withhold is asked by the outbox worker, inside its transaction, just
// before an SMS or email leaves: when the recipient — the enrolment's
// patient, or the number or address — has opted out since the row was
// queued, it returns why, and the step that queued it becomes SKIPPED
// with reason OPTED_OUT (never a failure: the patient said no). An SMS
// copy of a staff message is checked by its number alone.
func (e *Engine) Withhold(ctx context.Context, c *ent.Client, row *ent.OutboxMessage) (string, error) {
	wctx := workerCtx(ctx)
	st, err := c.EnrollmentStep.Query().Where(enrollmentstep.OutboxID(row.ID)).WithEnrollment().First(wctx)
	if err != nil && !ent.IsNotFound(err) {
		return "", err
	}
	patient := pulid.ID("")
	if st != nil && st.Edges.Enrollment != nil {
		patient = st.Edges.Enrollment.PatientID
	}
	ch := consent.Channel(row.Channel)
	state, ok, err := e.cfg.Consent.MayContact(wctx, c, ch, patient, row.Recipient)
	if err != nil || ok {
		return "", err
	}
	reason := fmt.Sprintf("the recipient opted out of %s (%s) after it was queued", ch, state)
	if st != nil {
		if err := c.EnrollmentStep.UpdateOne(st).SetStatus(enrollmentstep.StatusSKIPPED).SetSkipReason("OPTED_OUT").
			SetError(reason).Exec(wctx); err != nil {
			return "", err
		}
	}
	return reason, nil
}

// values are the placeholder values for an enrolment; dates and times
// are on the practice's clock.
func (e *Engine) values(ctx context.Context, c *ent.Client, en *ent.Enrollment, text string, practice settings.Practice) map[string]string {
	p := en.Edges.Patient
	v := map[string]string{
		"patient.firstName":        p.FirstName,
		"patient.lastName":         p.LastName,
		"patient.fullName":         p.FirstName + " " + p.LastName,
		"patient.patientNumber":    p.PatientNumber,
		"practice.name":            practice.Name,
		"practice.phone":           practice.Phone,
		"practice.address":         practice.Address,
		"program.name":             en.Edges.Program.Name,
		"enrollment.referenceDate": practice.In(en.ReferenceDate).Format("Monday 2 January 2006"),
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
	// A Booking program is about the booking on its reference date (even
	// once it is past); any other program names the next booking to come.
	bq := c.Booking.Query().Where(booking.PatientID(p.ID), booking.StartsAtGTE(e.now()))
	if en.Edges.Program.Type == program.TypeBOOKING {
		bq = c.Booking.Query().Where(booking.PatientID(p.ID), booking.StartsAtGTE(en.ReferenceDate.Add(-time.Minute)),
			booking.StartsAtLTE(en.ReferenceDate.Add(time.Minute)))
	}
	if b, err := bq.Order(ent.Asc(booking.FieldStartsAt)).WithDoctor().WithBookingType().First(ctx); err == nil {
		v["booking.date"] = practice.In(b.StartsAt).Format("Monday 2 January 2006")
		v["booking.time"] = practice.In(b.StartsAt).Format("15:04")
		if b.Edges.BookingType != nil {
			v["booking.type"] = b.Edges.BookingType.Name
		}
		if b.Edges.Doctor != nil {
			v["doctor.name"] = b.Edges.Doctor.Name
		}
	}
	if r, err := c.Referral.Query().Where(referral.PatientID(p.ID)).Order(ent.Desc(referral.FieldReferralDate)).First(ctx); err == nil {
		v["referral.date"] = practice.In(r.ReferralDate).Format("2 January 2006")
		v["referral.referrer"] = r.Referrer
	}
	return v
}

// Render fills a template's placeholders; unknown ones cannot occur (they
// are refused when the template is saved) and unset ones become empty (the
// engine refuses to send those).
func Render(text string, vals map[string]string) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		return vals[placeholder.FindStringSubmatch(m)[1]]
	})
}

// Run runs due actions every interval, and at once when woken (Wake: an
// enrolment, a resumed one), until ctx ends (so an action runs within that
// interval of falling due); panics are recovered.
func (e *Engine) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		func() {
			defer func() {
				if r := recover(); r != nil {
					e.log.Error("panic in outreach engine", apperr.PanicAttrs(r)...)
				}
			}()
			if _, err := e.RunDue(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("running due actions", "err", err)
			}
		}()
		if e.passed != nil {
			e.passed()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.wake:
		}
	}
}

// addressBlock is a letter's recipient: non-empty lines, name first.
func addressBlock(lines ...string) string {
	return strings.Join(nonEmpty(lines...), "\n")
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(strings.ReplaceAll(s, "\n", " ")); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

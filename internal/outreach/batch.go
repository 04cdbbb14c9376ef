package outreach

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/whisper-health/whisper/ent"
	entconsent "github.com/whisper-health/whisper/ent/consent"
	"github.com/whisper-health/whisper/ent/enrollment"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/programaction"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/txn"
)

// BatchSize is how many due enrolments one engine transaction takes at
// once (one locking statement, multi-row writes).
const BatchSize = 100

// workers is how many batches run at once: several on PostgreSQL, where
// SKIP LOCKED hands each its own enrolments, one on SQLite (one writer).
func (e *Engine) workers() int {
	if e.cfg.Dialect.IsPostgres() {
		return 4
	}
	return 1
}

// Wake asks the background engine (Run) for a pass now: new work — an
// enrolment, a resumed one — runs at once instead of at the next tick.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default: // a pass is already asked for
	}
}

// sharedPass is a pass's state shared by its workers.
type sharedPass struct {
	*pass
	mu     sync.Mutex
	failed []pulid.ID // enrolments whose step failed in this pass
	ran    int        // actions run so far in this pass
}

// count adds n actions run and reports whether the pass has just crossed a
// multiple of every (then the worker that crossed it refreshes the
// statistics; see Engine.analyze).
func (s *sharedPass) count(n, every int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.ran
	s.ran += n
	return every > 0 && n > 0 && s.ran/every > before/every
}

func (s *sharedPass) failedIDs() []pulid.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pulid.ID(nil), s.failed...)
}

func (s *sharedPass) fail(id pulid.ID) {
	s.mu.Lock()
	s.failed = append(s.failed, id)
	s.mu.Unlock()
}

// programActions returns a program's live actions, read once per pass.
func (e *Engine) programActions(ctx context.Context, c *ent.Client, ps *pass, programID pulid.ID) ([]*ent.ProgramAction, error) {
	ps.mu.Lock()
	actions, ok := ps.actions[programID]
	ps.mu.Unlock()
	if ok {
		return actions, nil
	}
	actions, err := liveActions(ctx, c, programID)
	if err != nil {
		return nil, err
	}
	ps.mu.Lock()
	ps.actions[programID] = actions
	ps.mu.Unlock()
	return actions, nil
}

// work is one worker of a pass: it takes batches of due enrolments until
// none is left, and returns how many actions ran.
func (e *Engine) work(ctx context.Context, sp *sharedPass) (int, error) {
	ran := 0
	for ctx.Err() == nil {
		n, taken, slow, err := e.batch(ctx, sp)
		if err != nil {
			if ctx.Err() != nil {
				return ran, ctx.Err()
			}
			// The batch is undone as a whole (a database error, a
			// conflict): its enrolments run one by one instead, where a
			// failing one is paused on its own.
			e.log.Warn("outreach: a batch of due actions failed; running them one by one", "err", err)
			slow, n = taken, 0
		}
		ran += n
		progress, done := n, n
		for _, id := range slow {
			k, err := e.step(ctx, id, sp.pass)
			switch {
			case errors.Is(err, errTaken):
				continue
			case err != nil && ctx.Err() != nil:
				return ran, ctx.Err()
			case err != nil:
				sp.fail(id)
				e.poisoned(ctx, id, err)
			}
			ran += k
			done += k
			progress++
		}
		if sp.count(done, e.cfg.AnalyzeEvery) {
			e.analyze(ctx)
		}
		if len(taken) == 0 || progress == 0 {
			return ran, nil // nothing due, or the rest is another engine's
		}
	}
	return ran, ctx.Err()
}

// analyze refreshes PostgreSQL's statistics of the tables a burst grows.
// Autovacuum analyses a table a minute or more after it has changed; until
// then the planner plans by the statistics of the table as it was (none, on
// a new installation), and the batch's 100-key reads of steps became
// sequential scans, each burst slower than the one before (1.1 s, then 3.5,
// then 6.0 for 10,000 actions, measured with autovacuum off). It runs
// outside any transaction; sampling bounds its cost whatever the tables'
// size; a table another maintenance holds is skipped rather than waited for
// (an anti-wraparound vacuum may run for minutes); and a failure only costs
// speed. (PostgreSQL lets only a table's owner analyse it: the role that
// ran the migrations; any other role's ANALYZE is a warning that skips it.)
func (e *Engine) analyze(ctx context.Context) {
	if !e.cfg.Dialect.IsPostgres() {
		return
	}
	if _, err := e.client.ExecContext(ctx, "ANALYZE (SKIP_LOCKED) enrollments, enrollment_steps, outbox_messages"); err != nil && ctx.Err() == nil {
		e.log.Warn("outreach: refreshing the planner's statistics", "err", err)
	}
}

// planned is one enrolment of a batch whose due action is queued in the
// batch's statements.
type planned struct {
	en      *ent.Enrollment
	action  *ent.ProgramAction
	step    *ent.EnrollmentStep // nil: the step is created, already SENT
	outbox  *ent.OutboxMessageCreate
	outID   pulid.ID
	steps   []*ent.EnrollmentStep // the cycle's steps
	actions []*ent.ProgramAction
}

// batch takes up to BatchSize due enrolments in one transaction (locked
// with SKIP LOCKED on PostgreSQL) and runs every one whose due action is a
// plain send — a scheduled SMS, email or letter that renders and may be
// sent — with multi-row writes: the outbox rows, the steps, the next
// steps, the enrolments. It returns how many actions ran, the enrolments
// it took, and those left for the one-by-one path (every other case: a
// pause, an edited or removed action, a step already done, an opt-out, an
// undeliverable message), which this transaction did not change.
func (e *Engine) batch(ctx context.Context, sp *sharedPass) (ran int, taken, slow []pulid.ID, err error) {
	err = e.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		ran, taken, slow = 0, nil, nil
		c := tx.Client()
		now := e.now()
		q := c.Enrollment.Query().
			Where(enrollment.StatusEQ(enrollment.StatusACTIVE), enrollment.NextDueAtLTE(now), enrollment.IDNotIn(sp.failedIDs()...)).
			Order(ent.Asc(enrollment.FieldNextDueAt)).
			Limit(BatchSize)
		if e.cfg.Dialect.IsPostgres() {
			q = q.ForUpdate(sqlSkipLocked())
		}
		ens, err := q.WithPatient().WithProgram().All(ctx)
		if err != nil || len(ens) == 0 {
			return err
		}
		ids := make([]pulid.ID, len(ens))
		for i, en := range ens {
			ids[i] = en.ID
		}
		taken = ids
		all, err := c.EnrollmentStep.Query().Where(enrollmentstep.EnrollmentIDIn(ids...)).All(ctx)
		if err != nil {
			return err
		}
		byEn := map[pulid.ID][]*ent.EnrollmentStep{}
		for _, s := range all {
			byEn[s.EnrollmentID] = append(byEn[s.EnrollmentID], s)
		}
		zone := sp.practice.Zone()
		var plans []*planned
		for _, en := range ens {
			p, err := e.batchPlan(ctx, c, sp.pass, en, byEn[en.ID], now, zone)
			if err != nil {
				return err
			}
			if p == nil {
				slow = append(slow, en.ID)
				continue
			}
			plans = append(plans, p)
		}
		decided, err := e.prefetchConsent(ctx, c, plans)
		if err != nil {
			return err
		}
		kept := plans[:0]
		for _, p := range plans {
			r, err := e.renderWith(ctx, c, p.en, p.action, sp.practice, decided)
			if err != nil {
				var u undeliverableError
				var s skippedError
				if errors.As(err, &u) || errors.As(err, &s) {
					slow = append(slow, p.en.ID) // recorded by the one-by-one path
					continue
				}
				return err
			}
			p.outID = pulid.New("ob")
			p.outbox = e.outboxCreate(c, p.en, p.action, r, sp.practice).SetID(p.outID)
			kept = append(kept, p)
		}
		if len(kept) == 0 {
			return nil
		}
		if err := e.writeBatch(ctx, c, kept, now, zone); err != nil {
			return err
		}
		ran = len(kept)
		return nil
	})
	return ran, taken, slow, err
}

// batchPlan decides whether en's due action can run in the batch, and which
// action and step it is; nil leaves it to the one-by-one path.
func (e *Engine) batchPlan(ctx context.Context, c *ent.Client, ps *pass, en *ent.Enrollment, all []*ent.EnrollmentStep, now time.Time, zone *time.Location) (*planned, error) {
	actions, err := e.programActions(ctx, c, ps, en.ProgramID)
	if err != nil {
		return nil, err
	}
	var steps []*ent.EnrollmentStep
	for _, s := range all {
		if s.Cycle == en.Cycle {
			steps = append(steps, s)
		}
	}
	var a *ent.ProgramAction
	if en.NextActionID == nil {
		a = firstUnreached(actions, steps)
	} else {
		for _, x := range actions {
			if x.ID == *en.NextActionID {
				a = x
			}
		}
	}
	if a == nil || a.ArchivedAt != nil || a.Type == programaction.TypePAUSE {
		return nil, nil
	}
	var st *ent.EnrollmentStep
	for _, s := range steps {
		if s.ActionID == a.ID {
			st = s
		}
	}
	if st != nil && st.Status != enrollmentstep.StatusSCHEDULED {
		return nil, nil
	}
	if due := dueAt(en.ReferenceDate, a, zone); en.NextDueAt != nil && due.After(*en.NextDueAt) && due.After(now) {
		return nil, nil // edited to later
	}
	return &planned{en: en, action: a, step: st, steps: steps, actions: actions}, nil
}

// consentKey names one MayContact question of a pass.
func consentKey(ch, patient, address string) string { return ch + "\x00" + patient + "\x00" + address }

// prefetchConsent answers the contact policy for every SMS and email of
// the plans with one statement, as MayContact would one by one.
func (e *Engine) prefetchConsent(ctx context.Context, c *ent.Client, plans []*planned) (map[string]consent.State, error) {
	type ask struct {
		ch      consent.Channel
		patient pulid.ID
		address string
	}
	var asks []ask
	subjects := map[string]bool{}
	for _, p := range plans {
		pt := p.en.Edges.Patient
		var a ask
		switch {
		case p.action.Type == programaction.TypeSMS && pt.Mobile != nil && *pt.Mobile != "":
			a = ask{consent.SMS, pt.ID, NormalisePhone(*pt.Mobile)}
		case p.action.Type == programaction.TypeEMAIL && pt.Email != nil && *pt.Email != "":
			a = ask{consent.EMAIL, pt.ID, *pt.Email}
		default:
			continue
		}
		asks = append(asks, a)
		for _, s := range consent.Subjects(a.ch, a.patient, a.address) {
			subjects[s] = true
		}
	}
	if len(asks) == 0 {
		return nil, nil
	}
	rows, err := c.Consent.Query().Where(entconsent.SubjectIn(slices.Collect(maps.Keys(subjects))...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading consent: %w", err)
	}
	decided := make(map[string]consent.State, len(asks))
	for _, a := range asks {
		decided[consentKey(string(a.ch), string(a.patient), a.address)] = consent.Decide(rows, a.ch, a.patient, a.address)
	}
	return decided, nil
}

// writeBatch writes the planned sends: the outbox rows in one statement,
// the scheduled steps marked SENT in one, the new steps (already SENT, and
// the next ones) in one, and the enrolments in one statement per distinct
// change.
func (e *Engine) writeBatch(ctx context.Context, c *ent.Client, plans []*planned, now time.Time, zone *time.Location) error {
	creates := make([]*ent.OutboxMessageCreate, len(plans))
	for i, p := range plans {
		creates[i] = p.outbox
	}
	if err := c.OutboxMessage.CreateBulk(creates...).Exec(ctx); err != nil {
		return fmt.Errorf("queuing: %w", err)
	}
	var sentSteps, newSteps []*ent.EnrollmentStepCreate
	var sent []*planned
	for _, p := range plans {
		if p.step == nil {
			st := &ent.EnrollmentStep{ID: pulid.New("es"), EnrollmentID: p.en.ID, ActionID: p.action.ID, Cycle: p.en.Cycle, Status: enrollmentstep.StatusSENT}
			sentSteps = append(sentSteps, c.EnrollmentStep.Create().SetID(st.ID).SetEnrollmentID(p.en.ID).SetActionID(p.action.ID).
				SetCycle(p.en.Cycle).SetScheduledAt(dueAt(p.en.ReferenceDate, p.action, zone)).
				SetStatus(enrollmentstep.StatusSENT).SetExecutedAt(now).SetOutboxID(p.outID))
			p.steps = append(p.steps, st)
		} else {
			sent = append(sent, p)
		}
	}
	if len(sentSteps) > 0 {
		if err := c.EnrollmentStep.CreateBulk(sentSteps...).Exec(ctx); err != nil {
			return fmt.Errorf("recording the steps: %w", err)
		}
	}
	if err := e.markSent(ctx, c, sent, now); err != nil {
		return err
	}
	// What follows each send: the next action of the cycle, the next
	// cycle, or the end (as advanceFrom decides one by one).
	type change struct {
		complete bool
		action   pulid.ID
		cycle    int
		ref, due time.Time
	}
	groups := map[change][]pulid.ID{}
	var order []change
	for _, p := range plans {
		en := p.en
		var ch change
		if a := firstUnreached(p.actions, p.steps); a != nil {
			ch = change{action: a.ID, cycle: en.Cycle, ref: en.ReferenceDate, due: dueAt(en.ReferenceDate, a, zone)}
		} else if pr := en.Edges.Program; en.Cycle >= pr.Cycles || pr.FrequencyEvery == nil || pr.FrequencyUnit == nil || len(p.actions) == 0 {
			ch = change{complete: true}
		} else {
			origin := en.ReferenceDate
			if en.OriginDate != nil {
				origin = *en.OriginDate
			}
			cycle := en.Cycle + 1
			ref := shift(origin, (cycle-1)*(*pr.FrequencyEvery), programaction.Unit(*pr.FrequencyUnit), zone)
			ch = change{action: p.actions[0].ID, cycle: cycle, ref: ref, due: dueAt(ref, p.actions[0], zone)}
		}
		if !ch.complete {
			newSteps = append(newSteps, c.EnrollmentStep.Create().SetEnrollmentID(en.ID).SetActionID(ch.action).
				SetCycle(ch.cycle).SetScheduledAt(ch.due))
		}
		if _, ok := groups[ch]; !ok {
			order = append(order, ch)
		}
		groups[ch] = append(groups[ch], en.ID)
	}
	if len(newSteps) > 0 {
		if err := c.EnrollmentStep.CreateBulk(newSteps...).Exec(ctx); err != nil {
			return err
		}
	}
	for _, ch := range order {
		upd := c.Enrollment.Update().Where(enrollment.IDIn(groups[ch]...))
		if ch.complete {
			upd.SetStatus(enrollment.StatusCOMPLETED).ClearNextDueAt().ClearNextActionID()
		} else {
			upd.SetNextActionID(ch.action).SetCycle(ch.cycle).SetReferenceDate(ch.ref).SetNextDueAt(ch.due)
		}
		if err := upd.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// markSent marks the plans' scheduled steps SENT with their outbox rows,
// in one statement.
func (e *Engine) markSent(ctx context.Context, c *ent.Client, plans []*planned, now time.Time) error {
	if len(plans) == 0 {
		return nil
	}
	var args []any
	ph := func(v any) string {
		args = append(args, v)
		if e.cfg.Dialect.IsPostgres() {
			return "$" + strconv.Itoa(len(args))
		}
		return "?"
	}
	var b strings.Builder
	b.WriteString("UPDATE enrollment_steps SET status = 'SENT', error = NULL, executed_at = ")
	b.WriteString(ph(now))
	b.WriteString(", updated_at = ")
	b.WriteString(ph(now))
	b.WriteString(", outbox_id = CASE id")
	for _, p := range plans {
		b.WriteString(" WHEN " + ph(string(p.step.ID)) + " THEN " + ph(string(p.outID)))
	}
	b.WriteString(" END WHERE status = 'SCHEDULED' AND id IN (")
	for i, p := range plans {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ph(string(p.step.ID)))
	}
	b.WriteString(")")
	res, err := c.ExecContext(ctx, b.String(), args...)
	if err != nil {
		return fmt.Errorf("recording the steps: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n != int64(len(plans)) {
		return fmt.Errorf("recording the steps: %d of %d were still scheduled", n, len(plans))
	}
	return nil
}

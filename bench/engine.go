package main

import (
	"context"
	"fmt"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// runEngine measures the Patient Connect engine running Actions due SMS
// actions (one per enrolment: lock the enrolment, render the template,
// queue the outbox row, record the step, schedule the next) against a
// baseline that inserts the same outbox rows directly, one statement each.
func runEngine(ctx context.Context, srv *server, o Options) (Result, error) {
	sctx := viewer.NewSystemContext(ctx, "bench")
	c := srv.db.Client
	logf("engine: preparing %d due enrolments", o.Actions)
	tpl, err := c.Template.Create().SetKind("SMS").SetName("bench").
		SetBody("Hi {{patient.firstName}}, your results are ready at {{practice.name}}.").Save(sctx)
	if err != nil {
		return Result{}, err
	}
	prog, err := c.Program.Create().SetName("bench").SetType("GENERAL").SetEnabled(true).Save(sctx)
	if err != nil {
		return Result{}, err
	}
	act, err := c.ProgramAction.Create().SetProgramID(prog.ID).SetPosition(0).SetType("SMS").
		SetTemplateID(tpl.ID).SetRelation("ON").SetUnit("DAYS").Save(sctx)
	if err != nil {
		return Result{}, err
	}
	_ = act
	due := time.Now().UTC().Add(-time.Minute)
	for done := 0; done < o.Actions; done += 500 {
		n := min(500, o.Actions-done)
		pats := make([]*ent.PatientCreate, n)
		for i := range pats {
			k := done + i
			pats[i] = c.Patient.Create().SetPatientNumber(fmt.Sprintf("B%06d", k)).SetFirstName("Pat").
				SetLastName(fmt.Sprint(k)).SetMobile(fmt.Sprintf("+6149%07d", k))
		}
		ps, err := c.Patient.CreateBulk(pats...).Save(sctx)
		if err != nil {
			return Result{}, err
		}
		ens := make([]*ent.EnrollmentCreate, n)
		for i, p := range ps {
			ens[i] = c.Enrollment.Create().SetProgramID(prog.ID).SetPatientID(p.ID).SetReferenceDate(due).SetNextDueAt(due)
		}
		if _, err := c.Enrollment.CreateBulk(ens...).Save(sctx); err != nil {
			return Result{}, err
		}
	}
	engine := srv.app.Engine

	stop, err := profile(o, "engine")
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	ran, err := engine.RunDue(ctx)
	ours := time.Since(start)
	if err != nil {
		stop()
		return Result{}, err
	}
	if ran != o.Actions {
		stop()
		return Result{}, fmt.Errorf("the engine ran %d actions, want %d", ran, o.Actions)
	}
	start = time.Now()
	for i := 0; i < o.Actions; i++ {
		_, err := srv.db.SQL.ExecContext(ctx,
			`INSERT INTO outbox_messages (id, created_at, updated_at, channel, recipient, subject, body, status, attempts, next_attempt_at, idempotency_key)
			 VALUES ($1, now(), now(), 'SMS', $2, '', $3, 'PENDING', 0, now(), $4)`,
			string(pulid.New("ob")), fmt.Sprintf("+6149%07d", i),
			fmt.Sprintf("Hi Pat, your results are ready at Harbourside Medical Centre. %d", i), fmt.Sprintf("baseline:%d", i))
		if err != nil {
			stop()
			return Result{}, err
		}
	}
	base := time.Since(start)
	stop()
	r := Result{
		Name:     "engine",
		Ours:     float64(o.Actions) / ours.Seconds(),
		Baseline: float64(o.Actions) / base.Seconds(),
	}
	r.Ratio = r.Ours / r.Baseline
	r.P50 = float64(ours.Microseconds()) / 1000 / float64(o.Actions)
	r.P99 = r.P50
	logf("engine: %d actions in %v (baseline inserts %v)", o.Actions, ours.Round(time.Millisecond), base.Round(time.Millisecond))
	return r, nil
}

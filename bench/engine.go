package main

import (
	"context"
	"fmt"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// runEngine measures a burst: -actions SMS actions falling due at once
// (one enrolment each: lock it, render the template, check consent and the
// send window, queue the outbox row, record the step, schedule the next),
// run by one Engine.RunDue pass, against the same number of outbox rows
// inserted directly, one statement each. Ours and the baseline alternate
// for -engine-rounds bursts each; the figures are the mean burst times in
// seconds (the ratio is baseline / ours).
func runEngine(ctx context.Context, srv *server, o Options) (Result, error) {
	sctx := viewer.NewSystemContext(ctx, "bench")
	c := srv.db.Client
	tpl, err := c.Template.Create().SetKind("SMS").SetName("bench").
		SetBody("Hi {{patient.firstName}}, your results are ready at {{practice.name}}.").Save(sctx)
	if err != nil {
		return Result{}, err
	}
	prog, err := c.Program.Create().SetName("bench").SetType("GENERAL").SetEnabled(true).Save(sctx)
	if err != nil {
		return Result{}, err
	}
	if _, err := c.ProgramAction.Create().SetProgramID(prog.ID).SetPosition(0).SetType("SMS").
		SetTemplateID(tpl.ID).SetRelation("ON").SetUnit("DAYS").Save(sctx); err != nil {
		return Result{}, err
	}
	logf("bench: engine: %d actions due at once, %d bursts each, ours and baseline taking turns", o.Actions, o.EngineRounds)

	// prepare enrols o.Actions new patients, due a minute ago.
	prepare := func(turn int) error {
		t0 := time.Now()
		due := time.Now().UTC().Add(-time.Minute)
		for done := 0; done < o.Actions; done += 500 {
			n := min(500, o.Actions-done)
			pats := make([]*ent.PatientCreate, n)
			for i := range pats {
				k := done + i
				pats[i] = c.Patient.Create().SetPatientNumber(fmt.Sprintf("B%d-%06d", turn, k)).SetFirstName("Pat").
					SetLastName(fmt.Sprint(k)).SetMobile(fmt.Sprintf("+614%d%07d", 90+turn%10, k))
			}
			ps, err := c.Patient.CreateBulk(pats...).Save(sctx)
			if err != nil {
				return err
			}
			ens := make([]*ent.EnrollmentCreate, n)
			for i, p := range ps {
				ens[i] = c.Enrollment.Create().SetProgramID(prog.ID).SetPatientID(p.ID).SetReferenceDate(due).SetNextDueAt(due)
			}
			if _, err := c.Enrollment.CreateBulk(ens...).Save(sctx); err != nil {
				return err
			}
		}
		logf("bench: engine: %d enrolments prepared in %v", o.Actions, time.Since(t0).Round(time.Millisecond))
		return nil
	}
	queued := func() (int, error) {
		return c.OutboxMessage.Query().Where(outboxmessage.IdempotencyKeyHasPrefix("enrollment:")).Count(sctx)
	}
	ours := func(turn int) (time.Duration, error) {
		if err := prepare(turn); err != nil {
			return 0, err
		}
		before, err := queued()
		if err != nil {
			return 0, err
		}
		start := time.Now()
		ran, err := srv.app.Engine.RunDue(ctx)
		took := time.Since(start)
		if err != nil {
			return 0, err
		}
		after, err := queued()
		if err != nil {
			return 0, err
		}
		if ran != o.Actions || after-before != o.Actions {
			return 0, fmt.Errorf("the engine ran %d actions and queued %d, want %d", ran, after-before, o.Actions)
		}
		return took, nil
	}
	base := func(turn int) (time.Duration, error) {
		start := time.Now()
		for i := 0; i < o.Actions; i++ {
			_, err := srv.db.SQL.ExecContext(ctx,
				`INSERT INTO outbox_messages (id, created_at, updated_at, channel, recipient, subject, body, status, attempts, next_attempt_at, idempotency_key)
			 VALUES ($1, now(), now(), 'SMS', $2, '', $3, 'PENDING', 0, now(), $4)`,
				string(pulid.New("ob")), fmt.Sprintf("+6149%07d", i),
				fmt.Sprintf("Hi Pat, your results are ready at Harbourside Medical Centre. %d", i), fmt.Sprintf("baseline:%d:%d", turn, i))
			if err != nil {
				return 0, err
			}
		}
		return time.Since(start), nil
	}

	stop, err := profile(o, "engine")
	if err != nil {
		return Result{}, err
	}
	defer stop()
	var ourT, baseT time.Duration
	details := map[string]float64{}
	for r := range o.EngineRounds {
		steps := []func() error{
			func() error {
				d, err := ours(r)
				ourT += d
				details[fmt.Sprintf("ours_burst_%d_s", r+1)] = d.Seconds()
				logf("bench: engine: burst %d: ours %v", r+1, d.Round(time.Millisecond))
				return err
			},
			func() error {
				d, err := base(r)
				baseT += d
				details[fmt.Sprintf("baseline_burst_%d_s", r+1)] = d.Seconds()
				logf("bench: engine: burst %d: baseline %v", r+1, d.Round(time.Millisecond))
				return err
			},
		}
		if r%2 == 1 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, f := range steps {
			if err := f(); err != nil {
				return Result{}, err
			}
		}
	}
	stop()
	n := float64(o.EngineRounds)
	r := Result{
		Name:     "engine",
		Unit:     "s per burst",
		Ours:     ourT.Seconds() / n,
		Baseline: baseT.Seconds() / n,
		Details:  details,
	}
	r.Ratio = ratio(r.Baseline, r.Ours)
	details["ours_actions_per_s"] = float64(o.Actions) / r.Ours
	details["baseline_actions_per_s"] = float64(o.Actions) / r.Baseline
	r.P50 = r.Ours * 1000 / float64(o.Actions)
	r.P99 = r.P50
	logf("bench: engine: %d actions queued in %.2f s per burst (baseline inserts %.2f s)", o.Actions, r.Ours, r.Baseline)
	return r, nil
}

package outreach

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	entconsent "github.com/whisper-health/whisper/ent/consent"
	"github.com/whisper-health/whisper/ent/enrollment"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// burst enrols n new patients in a two-step SMS program (now, then a day
// later), all due at once, and returns the engine, the client and the
// enrolments. Patient 3 opted out of SMS, patient 5's number texted STOP,
// patient 7 has no mobile
// (and the action pauses on error).
func burst(t *testing.T, n int) (*Engine, *ent.Client, []*ent.Enrollment, time.Time) {
	t.Helper()
	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	if _, err := demo.Load(ctx, db.Client, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := db.Client
	now := time.Now().UTC().Truncate(time.Second)
	cons := consent.New(c, slog.New(slog.DiscardHandler), func() time.Time { return now }, nil)
	e := NewEngine(c, slog.New(slog.DiscardHandler), EngineConfig{Dialect: db.Dialect, Consent: cons, Now: func() time.Time { return now }})
	tpl := c.Template.Create().SetKind("SMS").SetName("burst").SetBody("Hi {{patient.firstName}}, from {{practice.name}}").SaveX(ctx)
	prog := c.Program.Create().SetName("burst").SetType("GENERAL").SaveX(ctx)
	c.ProgramAction.Create().SetProgramID(prog.ID).SetPosition(0).SetType("SMS").SetTemplateID(tpl.ID).SetRelation("ON").SetUnit("DAYS").ExecX(ctx)
	c.ProgramAction.Create().SetProgramID(prog.ID).SetPosition(1).SetType("SMS").SetTemplateID(tpl.ID).SetRelation("AFTER").SetOffset(1).SetUnit("DAYS").ExecX(ctx)
	c.Program.UpdateOne(prog).SetEnabled(true).ExecX(ctx)
	ens := make([]*ent.Enrollment, n)
	for i := range n {
		pc := c.Patient.Create().SetPatientNumber(fmt.Sprintf("BURST%04d", i)).SetFirstName(fmt.Sprintf("Pat%d", i)).SetLastName("Burst")
		if i != 7 {
			pc.SetMobile(fmt.Sprintf("+61 400 %06d", i))
		}
		p := pc.SaveX(ctx)
		en, err := e.Enroll(ctx, EnrollInput{ProgramID: prog.ID, PatientID: p.ID, ReferenceDate: &now})
		if err != nil {
			t.Fatal(err)
		}
		ens[i] = en
	}
	if n > 7 {
		// The patient's own opt-out, and one by the number (a STOP).
		c.Consent.Create().SetSubject(string(ens[3].PatientID)).SetChannel(entconsent.ChannelSMS).SetState(entconsent.StateOPTED_OUT).ExecX(ctx)
		if _, err := cons.Texted(ctx, "+61400000005", "STOP"); err != nil {
			t.Fatal(err)
		}
	}
	return e, c, ens, now
}

// A burst of due actions larger than several batches, run by two engines
// at once (two replicas), queues each patient's message exactly once,
// records every step, schedules every next action — and leaves the
// opted-out and the undeliverable ones to their own outcome.
func TestABurstIsQueuedOnceByTwoEngines(t *testing.T) {
	n := 2*BatchSize + 17
	e, c, ens, now := burst(t, n)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	other := NewEngine(c, slog.New(slog.DiscardHandler), e.cfg)
	var wg sync.WaitGroup
	ran := make([]int, 2)
	for i, eng := range []*Engine{e, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := eng.RunDue(context.Background())
			if err != nil {
				t.Errorf("engine %d: %v", i, err)
			}
			ran[i] = k
		}()
	}
	wg.Wait()
	if ran[0]+ran[1] != n {
		t.Errorf("the engines ran %d + %d actions, want %d in all", ran[0], ran[1], n)
	}
	rows := c.OutboxMessage.Query().Where(outboxmessage.IdempotencyKeyHasPrefix("enrollment:")).AllX(ctx)
	if len(rows) != n-3 {
		t.Errorf("%d messages queued, want %d (all but the two opted out and the one without a mobile)", len(rows), n-3)
	}
	byID := map[pulid.ID]*ent.OutboxMessage{}
	to := map[string]int{}
	for _, r := range rows {
		byID[r.ID] = r
		to[r.Recipient]++
	}
	for _, r := range rows {
		if to[r.Recipient] != 1 {
			t.Errorf("%s got %d messages", r.Recipient, to[r.Recipient])
		}
		if !strings.HasPrefix(r.Body, "Hi Pat") || !r.PatientFacing {
			t.Errorf("queued %q (patient facing %v)", r.Body, r.PatientFacing)
		}
	}
	for i, en := range ens {
		steps := c.EnrollmentStep.Query().Where(enrollmentstep.EnrollmentID(en.ID)).Order(ent.Asc(enrollmentstep.FieldScheduledAt)).AllX(ctx)
		if i == 7 {
			// No mobile, and the action pauses on error: paused, flagged,
			// the step FAILED with the reason.
			got := c.Enrollment.GetX(ctx, en.ID)
			if len(steps) != 1 || steps[0].Status != enrollmentstep.StatusFAILED || steps[0].Error == nil ||
				got.Status != enrollment.StatusPAUSED || !got.Flagged {
				t.Errorf("enrolment %d without a mobile: %d steps, %s flagged %v, want one FAILED step, paused and flagged", i, len(steps), got.Status, got.Flagged)
			}
			continue
		}
		if len(steps) != 2 {
			t.Fatalf("enrolment %d has %d steps, want the first done and the second scheduled", i, len(steps))
		}
		first, second := steps[0], steps[1]
		switch i {
		case 3, 5:
			if first.Status != enrollmentstep.StatusSKIPPED || first.SkipReason == nil || *first.SkipReason != "OPTED_OUT" {
				t.Errorf("opted-out enrolment %d: first step %s, want SKIPPED OPTED_OUT", i, first.Status)
			}
		default:
			if first.Status != enrollmentstep.StatusSENT || first.OutboxID == nil || byID[*first.OutboxID] == nil || first.ExecutedAt == nil {
				t.Errorf("enrolment %d: first step %s (outbox %v), want SENT with its queued row", i, first.Status, first.OutboxID)
			} else if key := byID[*first.OutboxID].IdempotencyKey; key != fmt.Sprintf("enrollment:%s:1:%s", en.ID, first.ActionID) {
				t.Errorf("enrolment %d: its step's row has key %s", i, key)
			}
		}
		if second.Status != enrollmentstep.StatusSCHEDULED || !second.ScheduledAt.Equal(now.AddDate(0, 0, 1)) {
			t.Errorf("enrolment %d: second step %s at %v, want SCHEDULED a day later", i, second.Status, second.ScheduledAt)
		}
		got := c.Enrollment.GetX(ctx, en.ID)
		if got.Status != enrollment.StatusACTIVE || got.NextDueAt == nil || !got.NextDueAt.Equal(now.AddDate(0, 0, 1)) ||
			got.NextActionID == nil || *got.NextActionID != second.ActionID {
			t.Errorf("enrolment %d: %s, next due %v, want active and due a day later at the second action", i, got.Status, got.NextDueAt)
		}
	}
	// Nothing is due any more: another pass sends nothing again.
	if k, err := e.RunDue(context.Background()); err != nil || k != 0 {
		t.Errorf("a second pass ran %d actions (%v), want none", k, err)
	}
	if k := c.OutboxMessage.Query().Where(outboxmessage.IdempotencyKeyHasPrefix("enrollment:")).CountX(ctx); k != n-3 {
		t.Errorf("%d messages after the second pass, want %d", k, n-3)
	}
}

// An enrolment whose first action is due now is queued at once by the
// running engine, not at its next tick (an hour away here).
func TestEnrollingWakesTheEngine(t *testing.T) {
	e, c, ens, now := burst(t, 1)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	passes := make(chan struct{}, 16)
	e.passed = func() {
		select {
		case passes <- struct{}{}:
		default:
		}
	}
	run, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(run, time.Hour) }()
	defer func() { stop(); <-done }()
	queued := func(p pulid.ID) bool {
		return c.EnrollmentStep.Query().Where(enrollmentstep.HasEnrollmentWith(enrollment.PatientID(p)),
			enrollmentstep.StatusEQ(enrollmentstep.StatusSENT)).ExistX(ctx)
	}
	// wait checks after each pass of the running engine; with an hourly
	// tick, only the first pass and a wake-up can queue anything.
	wait := func(p pulid.ID) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for !queued(p) {
			select {
			case <-passes:
			case <-timeout:
				t.Fatal("the enrolment's due action was not queued within 10 s")
			}
		}
	}
	wait(ens[0].PatientID) // by the first pass, or by the wake-up
	p := c.Patient.Create().SetPatientNumber("WAKE").SetFirstName("Wake").SetLastName("Up").SetMobile("+61400999999").SaveX(ctx)
	if _, err := e.Enroll(ctx, EnrollInput{ProgramID: ens[0].ProgramID, PatientID: p.ID, ReferenceDate: &now}); err != nil {
		t.Fatal(err)
	}
	wait(p.ID)
}

// A pass that runs more actions than EngineConfig.AnalyzeEvery refreshes
// PostgreSQL's statistics of the tables it grew, so that the next batches
// are planned for the tables as they are (stale statistics made each burst
// of 10,000 actions slower than the one before).
func TestABurstRefreshesThePlannersStatistics(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("PostgreSQL's planner")
	}
	e, c, _, _ := burst(t, 12)
	e.cfg.AnalyzeEvery = 5
	ctx := viewer.NewSystemContext(context.Background(), "test")
	ran, err := e.RunDue(context.Background())
	if err != nil || ran < 5 {
		t.Fatalf("the pass ran %d actions (%v), want at least 5", ran, err)
	}
	steps := c.EnrollmentStep.Query().CountX(ctx)
	rows, err := c.QueryContext(ctx, "SELECT reltuples::bigint FROM pg_class WHERE oid = 'enrollment_steps'::regclass")
	if err != nil {
		t.Fatal(err)
	}
	var planned int64 = -2
	for rows.Next() {
		if err := rows.Scan(&planned); err != nil {
			t.Fatal(err)
		}
	}
	_ = rows.Close()
	// Refreshed during the pass (once it had run 5 actions), so the
	// planner has counted the table since it grew (-1: never).
	if planned < 10 || planned > int64(steps) {
		t.Errorf("the planner counts %d enrolment steps after the pass, the table holds %d: its statistics were not refreshed as it grew", planned, steps)
	}
}

// Workers of a pass counting their actions side by side: exactly one of
// them sees each multiple of AnalyzeEvery crossed, including by a batch
// that jumps past one.
func TestAPassRefreshesStatisticsOncePerCrossing(t *testing.T) {
	sp := &sharedPass{}
	var wg sync.WaitGroup
	crossings := make([]int, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2500 {
				if sp.count(1, 1000) {
					crossings[w]++
				}
			}
		}()
	}
	wg.Wait()
	if n := crossings[0] + crossings[1] + crossings[2] + crossings[3]; n != 10 {
		t.Errorf("10,000 actions counted by 4 workers crossed a multiple of 1,000 %d times, want 10", n)
	}
	if !sp.count(1500, 1000) || sp.count(0, 1000) || sp.count(400, 1000) {
		t.Error("a batch of 1,500 from 10,000 crosses 11,000 once; nothing, or 400 more, crosses nothing")
	}
}

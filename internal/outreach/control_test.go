package outreach

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/enrollment"
	"github.com/whisper-health/whisper/ent/programaction"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// A pause decided on a stale read (the enrolment completed meanwhile) must
// not flip the enrolment back: the update is conditional and says CONFLICT.
func TestAStaleTransitionIsRefused(t *testing.T) {
	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	if _, err := demo.Load(ctx, db.Client, time.Now()); err != nil {
		t.Fatal(err)
	}
	e := NewEngine(db.Client, slog.New(slog.DiscardHandler), EngineConfig{Dialect: db.Dialect})
	prog := db.Client.Program.Query().FirstX(ctx)
	ref := time.Now().Add(20 * 24 * time.Hour)
	en, err := e.Enroll(ctx, EnrollInput{ProgramID: prog.ID, PatientID: db.Client.Patient.Query().FirstIDX(ctx), ReferenceDate: &ref})
	if err != nil {
		t.Fatal(err)
	}
	stale := db.Client.Enrollment.GetX(ctx, en.ID)
	db.Client.Enrollment.UpdateOneID(en.ID).SetStatus(enrollment.StatusCOMPLETED).ExecX(ctx)
	_, err = e.apply(ctx, stale, []enrollment.Status{enrollment.StatusACTIVE}, "only an active enrolment can be paused",
		func(u *ent.EnrollmentUpdate) { u.SetStatus(enrollment.StatusPAUSED) })
	if !apperr.Is(err, apperr.Conflict) {
		t.Errorf("a pause on a stale read = %v, want CONFLICT", err)
	}
	if _, err := e.Pause(ctx, en.ID); !apperr.Is(err, apperr.BadUserInput) {
		t.Errorf("pausing a completed enrolment = %v, want BAD_USER_INPUT", err)
	}
	if _, err := e.Cancel(ctx, en.ID); !apperr.Is(err, apperr.BadUserInput) {
		t.Errorf("cancelling a completed enrolment = %v, want BAD_USER_INPUT", err)
	}
	if got := db.Client.Enrollment.GetX(ctx, en.ID).Status; got != enrollment.StatusCOMPLETED {
		t.Errorf("status = %s, want it left COMPLETED", got)
	}
}

// Monthly cycles count from the first reference date, clamped to the
// month's end: 31 January, then 29 February, 31 March, 30 April.
func TestMonthlyCyclesDoNotDrift(t *testing.T) {
	origin := time.Date(2028, time.January, 31, 9, 0, 0, 0, time.UTC)
	want := []string{"2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30", "2029-01-31"}
	for i, k := range []int{0, 1, 2, 3, 12} {
		if got := shift(origin, k, programaction.UnitMONTHS, time.UTC).Format("2006-01-02"); got != want[i] {
			t.Errorf("origin + %d months = %s, want %s", k, got, want[i])
		}
	}
	if got := shift(origin, -1, programaction.UnitMONTHS, time.UTC).Format("2006-01-02"); got != "2027-12-31" {
		t.Errorf("origin - 1 month = %s", got)
	}
}

package outreach

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/enrollment"
	"github.com/whisper-health/whisper/ent/enrollmentstep"
	"github.com/whisper-health/whisper/ent/programaction"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/settings"
)

// PlannedAction is one action a program would run for a patient (a
// previewProgram row).
type PlannedAction struct {
	Patient *ent.Patient
	Action  *ent.ProgramAction
	Cycle   int
	// DueAt is when it would run (or, when deferred by the send window,
	// leave), on the practice's clock.
	DueAt time.Time
	// Channel is SMS, EMAIL, LETTER or PAUSE.
	Channel string
	// Body is the rendered text, when there is one.
	Body *string
	// SkipReason is why it would not go as due: OPTED_OUT, NO_MOBILE,
	// NO_EMAIL, NO_ADDRESS, NO_GP, NO_TEMPLATE, MISSING_VALUE, or
	// OUTSIDE_SEND_WINDOW (DueAt is then the deferred time).
	SkipReason *string
}

// PreviewInput asks for a dry run of a program.
type PreviewInput struct {
	ProgramID pulid.ID
	// PatientIDs default to the patients enrolled (active or paused).
	PatientIDs []pulid.ID
	// From defaults to now, To to a year after From.
	From, To *time.Time
}

// maxPreview bounds a preview's rows, so one request cannot ask for a
// decade of a daily program for every patient.
const maxPreview = 5000

// Preview is a dry run of a program (PATIENT_CONNECT_MANAGE): every action
// that would run between From and To for the patients, in time order, with
// the text it would send and why it would be skipped or deferred. It runs
// the engine's own timing, rendering and contact policy, reads as the
// viewer, writes nothing and contacts nobody. An enrolled patient continues
// from where their enrolment is; anyone else as if enrolled at From.
// Completion by bookings cannot be foreseen: every cycle is listed.
func (e *Engine) Preview(ctx context.Context, in PreviewInput) ([]*PlannedAction, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	from := e.now()
	if in.From != nil {
		from = in.From.UTC()
	}
	to := from.AddDate(1, 0, 0)
	if in.To != nil {
		to = in.To.UTC()
	}
	if !to.After(from) {
		return nil, apperr.Invalid("to", "to must be after from")
	}
	p, err := e.client.Program.Get(ctx, in.ProgramID)
	if err != nil {
		return nil, err
	}
	actions, err := liveActions(ctx, e.client, p.ID)
	if err != nil {
		return nil, err
	}
	practice, err := e.practice(ctx, nil)
	if err != nil {
		return nil, err
	}
	zone := practice.Zone()
	// The enrolments to continue, by patient.
	enrolled := map[pulid.ID]*ent.Enrollment{}
	ens, err := e.client.Enrollment.Query().
		Where(enrollment.ProgramID(p.ID), enrollment.StatusIn(enrollment.StatusACTIVE, enrollment.StatusPAUSED)).
		WithSteps().All(ctx)
	if err != nil {
		return nil, err
	}
	for _, en := range ens {
		enrolled[en.PatientID] = en
	}
	ids := pulid.Dedupe(in.PatientIDs)
	if in.PatientIDs == nil {
		for _, en := range ens {
			ids = append(ids, en.PatientID)
		}
	}
	var out []*PlannedAction
	for _, id := range ids {
		pat, err := e.client.Patient.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, apperr.Invalid("patientIDs", "unknown patient %s", id)
		}
		if err != nil {
			return nil, err
		}
		en := enrolled[id]
		if en == nil {
			en = &ent.Enrollment{PatientID: id, ProgramID: p.ID, Cycle: 1, ReferenceDate: from, Status: enrollment.StatusACTIVE}
		}
		origin := en.ReferenceDate
		if en.OriginDate != nil {
			origin = *en.OriginDate
		}
		done := map[pulid.ID]bool{}
		for _, st := range en.Edges.Steps {
			if st.Cycle == en.Cycle && st.Status != enrollmentstep.StatusSCHEDULED {
				done[st.ActionID] = true
			}
		}
		sim := *en
		sim.Edges.Patient, sim.Edges.Program = pat, p
		for cycle := en.Cycle; cycle <= p.Cycles; cycle++ {
			ref := en.ReferenceDate
			if cycle != en.Cycle {
				if p.FrequencyEvery == nil || p.FrequencyUnit == nil {
					break
				}
				ref = shift(origin, (cycle-1)*(*p.FrequencyEvery), programaction.Unit(*p.FrequencyUnit), zone)
			}
			if len(actions) == 0 || !earliest(ref, actions, zone).Before(to) {
				break // later cycles only start later
			}
			sim.Cycle, sim.ReferenceDate = cycle, ref
			for _, a := range actions {
				if cycle == en.Cycle && done[a.ID] {
					continue
				}
				due := dueAt(ref, a, zone)
				if due.Before(from) || !due.Before(to) {
					continue
				}
				pa, err := e.plan(ctx, &sim, a, due, practice)
				if err != nil {
					return nil, err
				}
				pa.DueAt = pa.DueAt.In(zone)
				out = append(out, pa)
				if len(out) > maxPreview {
					return nil, apperr.Invalid("to", "the preview has more than %d actions; ask for fewer patients or a shorter time", maxPreview)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].DueAt.Before(out[j].DueAt) })
	return out, nil
}

// plan is what one action would do at due for the simulated enrolment.
func (e *Engine) plan(ctx context.Context, en *ent.Enrollment, a *ent.ProgramAction, due time.Time, practice settings.Practice) (*PlannedAction, error) {
	pa := &PlannedAction{Patient: en.Edges.Patient, Action: a, Cycle: en.Cycle, DueAt: due, Channel: channelOf(a.Type)}
	if a.Type == programaction.TypePAUSE {
		return pa, nil
	}
	r, err := e.render(ctx, e.client, en, a, practice)
	var undeliverable undeliverableError
	var skipped skippedError
	switch {
	case errors.As(err, &skipped):
		pa.SkipReason = &skipped.code
		return pa, nil
	case errors.As(err, &undeliverable):
		pa.SkipReason = &undeliverable.code
		return pa, nil
	case err != nil:
		return nil, err
	}
	pa.Body = &r.body
	if r.channel == "SMS" || r.channel == "EMAIL" {
		if next := e.cfg.Window.Next(due, practice.Zone()); next.After(due) {
			reason := "OUTSIDE_SEND_WINDOW"
			pa.DueAt, pa.SkipReason = next, &reason
		}
	}
	return pa, nil
}

// channelOf is how an action type reaches the patient.
func channelOf(t programaction.Type) string {
	switch t {
	case programaction.TypeSMS:
		return "SMS"
	case programaction.TypeEMAIL:
		return "EMAIL"
	case programaction.TypePAUSE:
		return "PAUSE"
	}
	return "LETTER"
}

// earliest is the earliest due time of a cycle's actions from ref.
func earliest(ref time.Time, actions []*ent.ProgramAction, zone *time.Location) time.Time {
	t := dueAt(ref, actions[0], zone)
	for _, a := range actions[1:] {
		if d := dueAt(ref, a, zone); d.Before(t) {
			t = d
		}
	}
	return t
}

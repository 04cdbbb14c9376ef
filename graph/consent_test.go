package graph_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/viewer"
)

// withSendWindow sets the practice's send window (the harness default is
// always open).
func withSendWindow(w string) envOption {
	return func(s *envSetup) {
		win, err := consent.ParseWindow(w)
		if err != nil {
			panic(err)
		}
		s.cfg.SendWindow = win
	}
}

// set puts the test clock at t.
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// emailTemplate creates an email template with a subject.
func (e *env) emailTemplate(token, body string) string {
	e.t.Helper()
	var t struct{ CreateTemplate struct{ ID string } }
	e.ok(token, `mutation($b: String!) { createTemplate(input: {kind: EMAIL, name: "t", subject: "From the practice", body: $b}) { id } }`,
		map[string]any{"b": body}, &t)
	return t.CreateTemplate.ID
}

type consentInfo struct{ SmsConsent, EmailConsent string }

func (e *env) consentOf(token, patient string) consentInfo {
	e.t.Helper()
	var out struct{ Node consentInfo }
	e.ok(token, `query($id: ID!) { node(id: $id) { ... on Patient { smsConsent emailConsent } } }`, map[string]any{"id": patient}, &out)
	return out.Node
}

const setConsent = `mutation($p: ID!, $s: ConsentState, $m: ConsentState) { setPatientConsent(patientID: $p, sms: $s, email: $m) { smsConsent emailConsent } }`

// rows counts what a dry run must never write.
func (e *env) rows() map[string]int {
	ctx := viewer.NewSystemContext(context.Background(), "test: count rows")
	c := e.db.Client
	return map[string]int{
		"outbox":      c.OutboxMessage.Query().CountX(ctx),
		"steps":       c.EnrollmentStep.Query().CountX(ctx),
		"enrollments": c.Enrollment.Query().CountX(ctx),
		"consent":     c.ConsentChange.Query().CountX(ctx),
	}
}

// Staff record consent with who and when; an opted-out channel is never
// sent to: the step is SKIPPED with reason OPTED_OUT and nothing is queued,
// whatever pause on error says.
func TestStaffConsentSkipsOutreach(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	olivia := e.patientID(admin.AccessToken, "P0001")
	if got := e.consentOf(admin.AccessToken, olivia); got != (consentInfo{"UNKNOWN", "UNKNOWN"}) {
		t.Fatalf("a new patient's consent = %+v, want UNKNOWN for both", got)
	}
	// Bad input is refused and changes nothing.
	e.fails(admin.AccessToken, setConsent, map[string]any{"p": olivia}, "BAD_USER_INPUT")
	e.fails(admin.AccessToken, setConsent, map[string]any{"p": olivia, "s": "MAYBE"}, "BAD_USER_INPUT")
	if n := e.rows()["consent"]; n != 0 {
		t.Fatalf("%d consent changes recorded by refused requests", n)
	}
	var out struct{ SetPatientConsent consentInfo }
	e.ok(admin.AccessToken, setConsent, map[string]any{"p": olivia, "s": "OPTED_OUT", "m": "OPTED_IN"}, &out)
	if out.SetPatientConsent != (consentInfo{"OPTED_OUT", "OPTED_IN"}) {
		t.Fatalf("after setPatientConsent: %+v", out.SetPatientConsent)
	}
	// The trail names who and when, and staff read it.
	var hist struct {
		Node struct {
			ConsentHistory []struct {
				Channel, State, Source string
				By                     *struct{ ID string }
			}
		}
	}
	e.ok(admin.AccessToken, `query($id: ID!) { node(id: $id) { ... on Patient { consentHistory { channel state source by { id } at } } } }`, map[string]any{"id": olivia}, &hist)
	if h := hist.Node.ConsentHistory; len(h) != 2 || h[0].Source != "STAFF" || h[0].By == nil || h[0].By.ID != admin.User.ID {
		t.Errorf("consentHistory = %+v, want two STAFF changes by the admin", h)
	}
	ctx := viewer.NewSystemContext(context.Background(), "test: read the consent trail")
	trail := e.db.Client.ConsentChange.Query().AllX(ctx)
	if len(trail) != 2 {
		t.Fatalf("consent trail = %+v, want two changes", trail)
	}
	for _, c := range trail {
		if c.ActorID == nil || string(*c.ActorID) != admin.User.ID || c.Source != "STAFF" || c.At.Sub(e.clock.Now()).Abs() > time.Second {
			t.Errorf("consent change = %+v, want a STAFF change by the admin, now", c)
		}
	}

	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}")
	email := e.emailTemplate(admin.AccessToken, "Dear {{patient.firstName}}")
	prog := e.program(admin.AccessToken, map[string]any{"name": "Check-in", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON", "pauseOnError": true},
		map[string]any{"type": "EMAIL", "templateID": email, "offset": 0, "unit": "DAYS", "relation": "ON"})
	id := e.enroll(admin.AccessToken, prog, olivia, nil)
	e.run()
	var st struct {
		Node struct {
			Status string
			Steps  []struct{ Status, SkipReason string }
		}
	}
	e.ok(admin.AccessToken, `query($id: ID!) { node(id: $id) { ... on Enrollment { status steps { status skipReason } } } }`, map[string]any{"id": id}, &st)
	if st.Node.Status != "COMPLETED" || len(st.Node.Steps) != 2 || st.Node.Steps[0].Status != "SKIPPED" || st.Node.Steps[0].SkipReason != "OPTED_OUT" ||
		st.Node.Steps[1].Status != "SENT" {
		t.Fatalf("enrolment = %+v, want the SMS SKIPPED (OPTED_OUT), the email SENT, completed", st.Node)
	}
	if got := e.outbox("SMS"); len(got) != 0 {
		t.Errorf("SMS queued to an opted-out patient: %v", got)
	}
	if got := e.outbox("EMAIL"); len(got) != 1 {
		t.Errorf("emails queued = %v, want 1", got)
	}
}

// A step due at 22:00 practice time is run when due, and its SMS waits for
// the window to open at 08:00 — visibly — before the provider is called.
func TestSendWindowHoldsNightMessagesUntilMorning(t *testing.T) {
	sydney, _ := time.LoadLocation("Australia/Sydney")
	e := newEnv(t, withSendWindow("08:00-20:00"))
	e.clock.set(time.Date(2026, 3, 9, 12, 0, 0, 0, sydney))
	admin := e.login(demo.AdminEmail)
	e.setPractice(admin.AccessToken, map[string]any{"timeZone": "Australia/Sydney"})
	sms := e.template(admin.AccessToken, "SMS", "Good evening {{patient.firstName}}")
	prog := e.program(admin.AccessToken, map[string]any{"name": "Evening", "type": "PROGRAM"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON"})
	ref := time.Date(2026, 3, 10, 22, 0, 0, 0, sydney)
	e.enroll(admin.AccessToken, prog, e.patientID(admin.AccessToken, "P0001"), &ref)

	var mu sync.Mutex
	var texts []string
	called := make(chan struct{}, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		texts = append(texts, r.PostForm.Get("Body"))
		mu.Unlock()
		select {
		case called <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SMnight"}`))
	}))
	defer api.Close()
	worker := outbox.New(e.db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Providers: map[string]outbox.Provider{"SMS": outbox.HTTPSMS{BaseURL: api.URL, Account: "AC1", Token: "t", From: "+61255550000"}},
		Now:       e.clock.Now,
		SendWindow: func(_ context.Context, now time.Time) (time.Time, error) {
			return consent.DefaultWindow.Next(now, sydney), nil
		},
	})

	e.clock.set(ref)
	if n := e.run(); n != 1 {
		t.Fatalf("%d actions ran at 22:00, want the SMS step", n)
	}
	if _, err := worker.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(texts) != 0 {
		t.Fatalf("the SMS left at 22:00 practice time: %v", texts)
	}
	admin = e.login(demo.AdminEmail)
	var out struct {
		Deliveries struct {
			Edges []struct {
				Node struct {
					Status                   string
					NextAttemptAt, HeldUntil time.Time
				}
			}
		}
	}
	e.ok(admin.AccessToken, `{ deliveries { edges { node { status nextAttemptAt heldUntil } } } }`, nil, &out)
	morning := time.Date(2026, 3, 11, 8, 0, 0, 0, sydney)
	if len(out.Deliveries.Edges) != 1 || out.Deliveries.Edges[0].Node.Status != "PENDING" ||
		!out.Deliveries.Edges[0].Node.HeldUntil.Equal(morning) || !out.Deliveries.Edges[0].Node.NextAttemptAt.Equal(morning) {
		t.Fatalf("deliveries = %+v, want one PENDING, held until 08:00 the next morning (%v)", out.Deliveries, morning)
	}
	// The enrolment's own timing is unchanged: the step ran when due.
	e.clock.set(morning.Add(-time.Minute))
	if _, err := worker.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(texts) != 0 {
		t.Fatalf("the SMS left before the window opened: %v", texts)
	}
	e.clock.set(morning)
	if _, err := worker.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-called
	if len(texts) != 1 || !strings.HasPrefix(texts[0], "Good evening Olivia") {
		t.Errorf("SMS sent at 08:00 = %v", texts)
	}
}

// previewProgram over a year of a 12-cycle program lists every action with
// its local time, text and skip reason, and writes nothing.
func TestPreviewProgramYear(t *testing.T) {
	sydney, _ := time.LoadLocation("Australia/Sydney")
	e := newEnv(t, withSendWindow("08:00-20:00"))
	e.clock.set(time.Date(2026, 1, 5, 9, 0, 0, 0, sydney))
	admin := e.login(demo.AdminEmail)
	e.setPractice(admin.AccessToken, map[string]any{"timeZone": "Australia/Sydney"})
	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}, weigh-in time")
	email := e.emailTemplate(admin.AccessToken, "Dear {{patient.firstName}}, your monthly summary")
	prog := e.program(admin.AccessToken,
		map[string]any{"name": "Monthly", "type": "PROGRAM", "cycles": 12, "frequency": map[string]any{"every": 1, "unit": "MONTHS"}},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON"},
		map[string]any{"type": "EMAIL", "templateID": email, "offset": 1, "unit": "DAYS", "relation": "AFTER"})
	olivia, amelia := e.patientID(admin.AccessToken, "P0001"), e.patientID(admin.AccessToken, "P0005")
	// Olivia's cycles start at 21:30 local (the SMS is deferred to 08:00);
	// Amelia has no mobile and opted out of email.
	start := time.Date(2026, 1, 10, 21, 30, 0, 0, sydney)
	e.enroll(admin.AccessToken, prog, olivia, &start)
	e.enroll(admin.AccessToken, prog, amelia, &start)
	e.ok(admin.AccessToken, setConsent, map[string]any{"p": amelia, "m": "OPTED_OUT"}, nil)
	before := e.rows()

	type planned struct {
		Patient    struct{ ID string }
		Action     struct{ Type string }
		Cycle      int
		DueAt      string
		Channel    string
		Body       *string
		SkipReason *string
	}
	var out struct{ PreviewProgram []planned }
	e.ok(admin.AccessToken, `mutation($id: ID!, $from: Time, $to: Time) { previewProgram(input: {programID: $id, from: $from, to: $to}) {
		patient { id } action { type } cycle dueAt channel body skipReason } }`,
		map[string]any{"id": prog, "from": e.clock.Now().Format(time.RFC3339), "to": e.clock.Now().AddDate(1, 0, 0).Format(time.RFC3339)}, &out)
	if after := e.rows(); len(after) != len(before) || after["outbox"] != before["outbox"] || after["steps"] != before["steps"] ||
		after["enrollments"] != before["enrollments"] || after["consent"] != before["consent"] {
		t.Errorf("rows before %v, after %v: the preview wrote", before, after)
	}
	if len(out.PreviewProgram) != 48 {
		t.Fatalf("%d planned actions, want 48 (2 patients × 12 cycles × 2 actions)", len(out.PreviewProgram))
	}
	per := map[string][]planned{}
	for _, p := range out.PreviewProgram {
		per[p.Patient.ID] = append(per[p.Patient.ID], p)
	}
	for i, p := range per[olivia] {
		cycle := i/2 + 1
		day := time.Date(2026, time.Month(cycle), 10, 0, 0, 0, 0, sydney)
		var want string
		if i%2 == 0 { // the SMS at 21:30, deferred to 08:00 the next day
			want = time.Date(2026, time.Month(cycle), 11, 8, 0, 0, 0, sydney).Format(time.RFC3339)
			if p.Channel != "SMS" || p.SkipReason == nil || *p.SkipReason != "OUTSIDE_SEND_WINDOW" || p.Body == nil || *p.Body != "Hi Olivia, weigh-in time" {
				t.Errorf("olivia %d: %+v, want the SMS deferred by the window", i, p)
			}
		} else { // the email a day later, also at 21:30, deferred
			want = day.AddDate(0, 0, 2).Add(8 * time.Hour).Format(time.RFC3339)
			if p.Channel != "EMAIL" || p.SkipReason == nil || *p.SkipReason != "OUTSIDE_SEND_WINDOW" {
				t.Errorf("olivia %d: %+v, want the email deferred by the window", i, p)
			}
		}
		if p.Cycle != cycle || p.DueAt != want {
			t.Errorf("olivia %d: cycle %d at %s, want cycle %d at %s (practice time)", i, p.Cycle, p.DueAt, cycle, want)
		}
	}
	for i, p := range per[amelia] {
		want := "NO_MOBILE"
		if i%2 == 1 {
			want = "OPTED_OUT"
		}
		if p.SkipReason == nil || *p.SkipReason != want || p.Body != nil {
			t.Errorf("amelia %d: %+v, want skipped: %s", i, p, want)
		}
	}
	// A refusal: only program managers, and the range must make sense.
	e.fails(e.login(demo.KimEmail).AccessToken, `mutation($id: ID!) { previewProgram(input: {programID: $id}) { cycle } }`, map[string]any{"id": prog}, "FORBIDDEN")
	e.fails(admin.AccessToken, `mutation($id: ID!, $t: Time) { previewProgram(input: {programID: $id, to: $t}) { cycle } }`,
		map[string]any{"id": prog, "t": e.clock.Now().AddDate(-1, 0, 0).Format(time.RFC3339)}, "BAD_USER_INPUT")
}

// A patient who opts out while their SMS waits for the send window never
// gets it: the row is withheld (no provider call) and the step becomes
// SKIPPED / OPTED_OUT, not a failure.
func TestOptOutWhileHeldWithholdsTheMessage(t *testing.T) {
	sydney, _ := time.LoadLocation("Australia/Sydney")
	e := newEnv(t, withSendWindow("08:00-20:00"))
	e.clock.set(time.Date(2026, 3, 9, 12, 0, 0, 0, sydney))
	admin := e.login(demo.AdminEmail)
	e.setPractice(admin.AccessToken, map[string]any{"timeZone": "Australia/Sydney"})
	sms := e.template(admin.AccessToken, "SMS", "Hello {{patient.firstName}}")
	prog := e.program(admin.AccessToken, map[string]any{"name": "Night", "type": "PROGRAM"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON", "pauseOnError": true},
		map[string]any{"type": "PAUSE", "offset": 1, "unit": "WEEKS", "relation": "AFTER"})
	olivia := e.patientID(admin.AccessToken, "P0001")
	ref := time.Date(2026, 3, 10, 22, 0, 0, 0, sydney)
	id := e.enroll(admin.AccessToken, prog, olivia, &ref)
	calls := 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SMx"}`))
	}))
	defer api.Close()
	worker := outbox.New(e.db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Providers: map[string]outbox.Provider{"SMS": outbox.HTTPSMS{BaseURL: api.URL, Account: "AC1", Token: "t", From: "+61255550000"}},
		Now:       e.clock.Now,
		SendWindow: func(_ context.Context, now time.Time) (time.Time, error) {
			return consent.DefaultWindow.Next(now, sydney), nil
		},
		Undelivered: e.engine.DeliveryFailed,
		Withhold:    e.engine.Withhold,
	})
	e.clock.set(ref)
	e.run()
	e.clock.set(ref.Add(time.Hour))
	admin = e.login(demo.AdminEmail)
	e.ok(admin.AccessToken, setConsent, map[string]any{"p": olivia, "s": "OPTED_OUT"}, nil)
	e.clock.set(time.Date(2026, 3, 11, 8, 0, 0, 0, sydney))
	if _, err := worker.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Fatalf("the SMS API was called %d times after the patient opted out", calls)
	}
	admin = e.login(demo.AdminEmail)
	var st struct {
		Node struct {
			Status  string
			Flagged bool
			Steps   []struct{ Status, SkipReason string }
		}
	}
	e.ok(admin.AccessToken, `query($id: ID!) { node(id: $id) { ... on Enrollment { status flagged steps { status skipReason } } } }`, map[string]any{"id": id}, &st)
	if st.Node.Status != "ACTIVE" || st.Node.Flagged || st.Node.Steps[0].Status != "SKIPPED" || st.Node.Steps[0].SkipReason != "OPTED_OUT" {
		t.Errorf("enrolment = %+v, want ACTIVE, not flagged, the SMS step SKIPPED / OPTED_OUT", st.Node)
	}
	var d struct {
		Deliveries struct {
			Edges []struct {
				Node struct{ Status, LastError string }
			}
		}
	}
	e.ok(admin.AccessToken, `{ deliveries { edges { node { status lastError } } } }`, nil, &d)
	if len(d.Deliveries.Edges) != 1 || d.Deliveries.Edges[0].Node.Status != "FAILED" || !strings.HasPrefix(d.Deliveries.Edges[0].Node.LastError, "withheld:") {
		t.Errorf("deliveries = %+v, want the row FAILED as withheld", d.Deliveries)
	}
}

// Moves made at the same moment never leave two actions at one position:
// each move reads and rewrites the positions in one transaction.
func TestConcurrentMovesKeepPositionsDistinct(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	pause := func(days int) map[string]any {
		return map[string]any{"type": "PAUSE", "offset": days, "unit": "DAYS", "relation": "AFTER"}
	}
	prog := e.program(admin.AccessToken, map[string]any{"name": "Moves", "type": "GENERAL"}, pause(1), pause(2), pause(3), pause(4))
	positions := func() (ids []string, pos []int) {
		var out struct {
			Node struct {
				Actions []struct {
					ID       string
					Position int
				}
			}
		}
		e.ok(admin.AccessToken, `query($id: ID!) { node(id: $id) { ... on Program { actions { id position } } } }`, map[string]any{"id": prog}, &out)
		for _, a := range out.Node.Actions {
			ids, pos = append(ids, a.ID), append(pos, a.Position)
		}
		return ids, pos
	}
	ids, _ := positions()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(admin.AccessToken, `mutation($id: ID!, $p: Int!) { moveProgramAction(id: $id, position: $p) { id } }`,
				map[string]any{"id": ids[i%len(ids)], "p": (i * 3) % len(ids)})
			if len(r.Errors) > 0 {
				t.Errorf("move %d: %+v", i, r.Errors)
			}
		}()
	}
	wg.Wait()
	_, pos := positions()
	for i, p := range pos {
		if p != i {
			t.Fatalf("positions after concurrent moves = %v, want 0..%d", pos, len(pos)-1)
		}
	}
}

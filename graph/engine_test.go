package graph_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/outreach"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// program builds a program with the given actions as the admin and returns its id.
func (e *env) program(token string, in map[string]any, actions ...map[string]any) string {
	e.t.Helper()
	var p struct{ CreateProgram struct{ ID string } }
	e.ok(token, `mutation($in: CreateProgramInput!) { createProgram(input: $in) { id } }`, map[string]any{"in": in}, &p)
	for _, a := range actions {
		a["programID"] = p.CreateProgram.ID
		e.ok(token, `mutation($in: ProgramActionInput!) { addProgramAction(input: $in) { id } }`, map[string]any{"in": a}, nil)
	}
	e.ok(token, `mutation($id: ID!) { setProgramEnabled(id: $id, enabled: true) { id } }`, map[string]any{"id": p.CreateProgram.ID}, nil)
	return p.CreateProgram.ID
}

func (e *env) template(token, kind, body string) string {
	e.t.Helper()
	var t struct{ CreateTemplate struct{ ID string } }
	e.ok(token, `mutation($k: TemplateKind!, $b: String!) { createTemplate(input: {kind: $k, name: "t", body: $b}) { id } }`,
		map[string]any{"k": kind, "b": body}, &t)
	return t.CreateTemplate.ID
}

func (e *env) patientID(token, number string) string {
	e.t.Helper()
	var out struct {
		Patients struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.ok(token, `query($s: String) { patients(search: $s) { edges { node { id } } } }`, map[string]any{"s": number}, &out)
	return out.Patients.Edges[0].Node.ID
}

type enrollmentInfo struct {
	ID, Status string
	Flagged    bool
	Cycle      int
	Steps      []struct {
		Cycle  int
		Status string
		Error  *string
	}
}

func (e *env) enrollment(token, id string) enrollmentInfo {
	e.t.Helper()
	var out struct{ Node enrollmentInfo }
	e.ok(token, `query($id: ID!) { node(id: $id) { ... on Enrollment { id status flagged cycle steps { cycle status error } } } }`,
		map[string]any{"id": id}, &out)
	return out.Node
}

func (e *env) enroll(token, program, patient string, ref *time.Time) string {
	e.t.Helper()
	in := map[string]any{"programID": program, "patientID": patient}
	if ref != nil {
		in["referenceDate"] = ref.UTC().Format(time.RFC3339)
	}
	var out struct{ EnrollPatient struct{ ID string } }
	e.ok(token, `mutation($in: EnrollPatientInput!) { enrollPatient(input: $in) { id } }`, map[string]any{"in": in}, &out)
	return out.EnrollPatient.ID
}

func (e *env) run() int {
	e.t.Helper()
	n, err := e.engine.RunDue(context.Background())
	if err != nil {
		e.t.Fatalf("running due actions: %v", err)
	}
	return n
}

func (e *env) outbox(channel string) []string {
	ctx := viewer.NewSystemContext(context.Background(), "test")
	rows := e.db.Client.OutboxMessage.Query().Where(outboxmessage.ChannelEQ(outboxmessage.Channel(channel))).
		Order(outboxmessage.ByCreatedAt()).AllX(ctx)
	var out []string
	for _, r := range rows {
		out = append(out, r.Recipient+": "+r.Body)
	}
	return out
}

func TestTwelveMonthlyCyclesInMilliseconds(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}, time to weigh in for {{program.name}}. {{practice.name}}")
	prog := e.program(admin.AccessToken,
		map[string]any{"name": "Weight watch", "type": "PROGRAM", "cycles": 12, "frequency": map[string]any{"every": 1, "unit": "MONTHS"}},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON", "saveReplyContent": true})
	start := e.clock.Now()
	id := e.enroll(admin.AccessToken, prog, e.patientID(admin.AccessToken, "P0001"), &start)
	began := time.Now()
	for month := 0; month < 12; month++ {
		if month == 6 {
			// A restart: a new engine picks up where the old one stopped,
			// from the database alone, repeating nothing.
			e.engine = outreach.NewEngine(e.db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)),
				outreach.EngineConfig{Dialect: e.db.Dialect, Now: e.clock.Now, Practice: outreach.Practice{Name: "Harbourside Medical Centre"}})
		}
		if n := e.run(); n != 1 {
			t.Fatalf("month %d: %d actions ran, want 1", month+1, n)
		}
		if n := e.run(); n != 0 {
			t.Fatalf("month %d: running again ran %d more", month+1, n)
		}
		e.clock.Advance(31 * 24 * time.Hour)
	}
	if took := time.Since(began); took > 20*time.Second {
		t.Logf("a year of the program took %v", took)
	}
	admin = e.login(demo.AdminEmail)
	en := e.enrollment(admin.AccessToken, id)
	if en.Status != "COMPLETED" || en.Cycle != 12 || len(en.Steps) != 12 {
		t.Fatalf("after a year: %s at cycle %d with %d steps, want COMPLETED after 12", en.Status, en.Cycle, len(en.Steps))
	}
	sent := e.outbox("SMS")
	if len(sent) != 12 || sent[0] != "+61411000001: Hi Olivia, time to weigh in for Weight watch. Harbourside Medical Centre" {
		t.Errorf("SMS queued = %d, first %q", len(sent), sent[0])
	}
}

func TestPauseOnErrorAndSkip(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}")
	letter := e.template(admin.AccessToken, "LETTER", "Dear {{patient.fullName}}")
	noMobile := e.patientID(admin.AccessToken, "P0005") // Amelia Jones has no mobile
	pausing := e.program(admin.AccessToken, map[string]any{"name": "Pausing", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON", "pauseOnError": true},
		map[string]any{"type": "LETTER_TO_PATIENT", "templateID": letter, "letterOption": "SAVE_FILE", "offset": 1, "unit": "DAYS", "relation": "AFTER"})
	skipping := e.program(admin.AccessToken, map[string]any{"name": "Skipping", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON", "pauseOnError": false},
		map[string]any{"type": "PAUSE", "offset": 1, "unit": "DAYS", "relation": "AFTER"},
		map[string]any{"type": "LETTER_TO_PATIENT", "templateID": letter, "letterOption": "MAIL", "offset": 2, "unit": "DAYS", "relation": "AFTER"})
	p := e.enroll(admin.AccessToken, pausing, noMobile, nil)
	s := e.enroll(admin.AccessToken, skipping, noMobile, nil)
	e.fails(admin.AccessToken, `mutation($in: EnrollPatientInput!) { enrollPatient(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"programID": pausing, "patientID": noMobile}}, "CONFLICT")
	e.run()
	en := e.enrollment(admin.AccessToken, p)
	if en.Status != "PAUSED" || !en.Flagged || en.Steps[0].Status != "FAILED" || en.Steps[0].Error == nil {
		t.Errorf("pause on error: %+v, want PAUSED, flagged, the step FAILED with a reason", en)
	}
	var flagged struct{ Enrollments struct{ TotalCount int } }
	e.ok(admin.AccessToken, `{ enrollments(flagged: true) { totalCount } }`, nil, &flagged)
	if flagged.Enrollments.TotalCount != 1 {
		t.Errorf("%d flagged enrolments listed, want 1", flagged.Enrollments.TotalCount)
	}
	en = e.enrollment(admin.AccessToken, s)
	if en.Status != "ACTIVE" || en.Steps[0].Status != "SKIPPED" {
		t.Errorf("skip on error: %+v, want ACTIVE with the step SKIPPED", en)
	}
	// The skipping program waits at its pause until someone advances it.
	e.clock.Advance(25 * time.Hour)
	admin = e.login(demo.AdminEmail)
	e.run()
	en = e.enrollment(admin.AccessToken, s)
	if en.Steps[1].Status != "WAITING" {
		t.Fatalf("steps = %+v, want the pause WAITING", en.Steps)
	}
	e.clock.Advance(48 * time.Hour)
	admin = e.login(demo.AdminEmail)
	if n := e.run(); n != 0 {
		t.Errorf("%d actions ran past a pause nobody advanced", n)
	}
	e.ok(admin.AccessToken, `mutation($id: ID!) { advanceEnrollment(id: $id) { id } }`, map[string]any{"id": s}, nil)
	e.fails(admin.AccessToken, `mutation($id: ID!) { advanceEnrollment(id: $id) { id } }`, map[string]any{"id": s}, "BAD_USER_INPUT")
	e.run()
	en = e.enrollment(admin.AccessToken, s)
	if en.Status != "COMPLETED" || en.Steps[2].Status != "SENT" || len(e.outbox("LETTER")) != 1 {
		t.Errorf("after advancing: %+v, letters %v", en, e.outbox("LETTER"))
	}
	// Resume retries the failed action; cancel ends it.
	e.ok(admin.AccessToken, `mutation($id: ID!) { resumeEnrollment(id: $id) { status flagged } }`, map[string]any{"id": p}, nil)
	e.run()
	if en = e.enrollment(admin.AccessToken, p); en.Status != "PAUSED" || !en.Flagged {
		t.Errorf("after a resume that fails again: %+v", en)
	}
	e.ok(admin.AccessToken, `mutation($id: ID!) { cancelEnrollment(id: $id) { status } }`, map[string]any{"id": p}, nil)
	if en = e.enrollment(admin.AccessToken, p); en.Status != "CANCELLED" {
		t.Errorf("cancel: %s", en.Status)
	}
	// Only program managers steer enrolments.
	e.fails(e.login(demo.ChenEmail).AccessToken, `mutation($id: ID!) { pauseEnrollment(id: $id) { id } }`, map[string]any{"id": s}, "FORBIDDEN")
}

func TestDemoRecallEndToEnd(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	var progs struct {
		Programs struct {
			Edges []struct{ Node struct{ ID, Name string } }
		}
	}
	e.ok(admin.AccessToken, `{ programs { edges { node { id name } } } }`, nil, &progs)
	recall := progs.Programs.Edges[0].Node.ID
	patient := e.patientID(admin.AccessToken, "P0003")
	e.fails(admin.AccessToken, `mutation($in: EnrollPatientInput!) { enrollPatient(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"programID": recall, "patientID": patient}}, "BAD_USER_INPUT") // a recall needs its date
	proposed := e.clock.Now().Add(20 * 24 * time.Hour)
	id := e.enroll(admin.AccessToken, recall, patient, &proposed)
	if n := e.run(); n != 0 {
		t.Fatalf("%d actions ran before the SMS (two weeks before) was due", n)
	}
	e.clock.Advance(7 * 24 * time.Hour)
	e.run()
	e.clock.Advance(14 * 24 * time.Hour)
	e.run()
	admin = e.login(demo.AdminEmail)
	en := e.enrollment(admin.AccessToken, id)
	if len(en.Steps) < 2 || en.Steps[0].Status != "SENT" || en.Steps[1].Status != "SENT" {
		t.Fatalf("recall steps = %+v, want the SMS and the letter sent", en.Steps)
	}
	sms, letters := e.outbox("SMS"), e.outbox("LETTER")
	if len(sms) != 1 || len(letters) != 1 {
		t.Fatalf("queued SMS %v, letters %v", sms, letters)
	}
	// Delivery through real peers: an SMS API on loopback, a PDF on disk.
	var texts []string
	smsAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		texts = append(texts, r.PostForm.Get("To")+": "+r.PostForm.Get("Body"))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SM1"}`))
	}))
	defer smsAPI.Close()
	dir := t.TempDir()
	worker := outbox.New(e.db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Providers: map[string]outbox.Provider{
			"SMS":    outbox.HTTPSMS{BaseURL: smsAPI.URL, Account: "AC1", Token: "t", From: "+61255550000"},
			"LETTER": &outbox.Letters{Dir: dir, Letterhead: "Harbourside Medical Centre"},
		},
		Now: e.clock.Now,
	})
	if _, err := worker.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(texts) != 1 || !strings.Contains(texts[0], "+61411000003: Hi Charlotte, it's time for your annual health check at Harbourside Medical Centre") {
		t.Errorf("SMS API received %v", texts)
	}
	pdfs, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	if len(pdfs) != 1 {
		t.Fatalf("letters written: %v, want one PDF", pdfs)
	}
	pdf, _ := os.ReadFile(pdfs[0])
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf, []byte("Dear Charlotte Nguyen")) {
		t.Errorf("%s is not the recall letter", pdfs[0])
	}
	// A booking made after a cycle's actions have all run answers that
	// cycle: the next one is untouched.
	var bt struct{ BookingTypes []struct{ ID, Name string } }
	e.ok(admin.AccessToken, `{ bookingTypes { id name } }`, nil, &bt)
	var recallType string
	for _, b := range bt.BookingTypes {
		if b.Name == "Recall Review" {
			recallType = b.ID
		}
	}
	book := func(ext string) {
		chen := e.login(demo.ChenEmail)
		e.ok(demo.IntegrationKey, `mutation($in: BookingInput!) { upsertBooking(input: $in) { id } }`, map[string]any{"in": map[string]any{
			"externalID": ext, "patientID": patient, "doctorID": chen.User.ID, "bookingTypeID": recallType,
			"startsAt": e.clock.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)}}, nil)
	}
	book("bk-recall-1")
	if en = e.enrollment(admin.AccessToken, id); en.Cycle != 2 || en.Status != "ACTIVE" {
		t.Errorf("after the first recall booking: cycle %d %s, want cycle 2 ACTIVE", en.Cycle, en.Status)
	}
	// A year on, cycle 2's SMS goes out; the patient books before the
	// letter is due: the booking completes cycle 2 and the letter is
	// skipped.
	e.clock.Advance(365*24*time.Hour - 14*24*time.Hour)
	e.run()
	admin = e.login(demo.AdminEmail)
	book("bk-recall-2")
	e.clock.Advance(20 * 24 * time.Hour)
	e.run()
	admin = e.login(demo.AdminEmail)
	en = e.enrollment(admin.AccessToken, id)
	if en.Cycle != 3 {
		t.Fatalf("after the second recall booking: cycle %d, want 3", en.Cycle)
	}
	var cycle2 []string
	for _, st := range en.Steps {
		if st.Cycle == 2 {
			cycle2 = append(cycle2, st.Status)
		}
	}
	if strings.Join(cycle2, ",") != "SENT,SKIPPED" {
		t.Errorf("cycle 2 steps = %v, want the SMS SENT and the letter SKIPPED by the booking", cycle2)
	}
	if n := len(e.outbox("SMS")); n != 2 {
		t.Errorf("%d recall SMS queued, want 2 (one per cycle)", n)
	}
}

func TestReferralProgramEndsWhenThePatientBooks(t *testing.T) {
	e := newEnv(t)
	admin, chen := e.login(demo.AdminEmail), e.login(demo.ChenEmail)
	sms := e.template(admin.AccessToken, "SMS", "Please book your follow-up, {{patient.firstName}}")
	prog := e.program(admin.AccessToken, map[string]any{"name": "Referral follow-up", "type": "REFERRAL"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 1, "unit": "WEEKS", "relation": "AFTER"})
	patient := e.patientID(admin.AccessToken, "P0004")
	e.fails(admin.AccessToken, `mutation($in: EnrollPatientInput!) { enrollPatient(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"programID": prog, "patientID": patient}}, "BAD_USER_INPUT")
	e.ok(demo.IntegrationKey, `mutation($in: ReferralInput!) { upsertReferral(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"externalID": "rf-1", "patientID": patient, "referralDate": e.clock.Now().UTC().Format(time.RFC3339), "referrer": "Dr Okafor"}}, nil)
	id := e.enroll(admin.AccessToken, prog, patient, nil)
	e.ok(demo.IntegrationKey, `mutation($in: BookingInput!) { upsertBooking(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"externalID": "bk-ref", "patientID": patient, "doctorID": chen.User.ID,
		"startsAt": e.clock.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)}}, nil)
	if en := e.enrollment(admin.AccessToken, id); en.Status != "COMPLETED" {
		t.Errorf("after booking: %s, want COMPLETED", en.Status)
	}
	e.clock.Advance(8 * 24 * time.Hour)
	if n := e.run(); n != 0 || len(e.outbox("SMS")) != 0 {
		t.Errorf("the follow-up SMS went out after the patient had booked")
	}
}

func TestTwoEnginesNeverRunAnActionTwice(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("engines share work only on PostgreSQL")
	}
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}")
	var progs []string
	for i := 0; i < 3; i++ {
		progs = append(progs, e.program(admin.AccessToken, map[string]any{"name": fmt.Sprint("P", i), "type": "GENERAL"},
			map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON"}))
	}
	var ids []string
	for _, prog := range progs {
		for _, num := range []string{"P0001", "P0002", "P0004", "P0006", "P0007", "P0008"} {
			ids = append(ids, e.enroll(admin.AccessToken, prog, e.patientID(admin.AccessToken, num), nil))
		}
	}
	// A second replica: its own engine on its own connection pool.
	var name string
	if err := e.db.SQL.QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(os.Getenv(testdb.EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	other, err := store.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	engines := []*outreach.Engine{e.engine, outreach.NewEngine(other.Client, slog.New(slog.NewTextHandler(io.Discard, nil)),
		outreach.EngineConfig{Dialect: other.Dialect, Now: e.clock.Now})}
	// Someone holds one enrolment's row: neither engine may wait for it.
	held, err := e.db.SQL.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer held.Rollback()
	if _, err := held.Exec(`SELECT id FROM enrollments WHERE id = $1 FOR UPDATE`, ids[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for _, eng := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := eng.RunDue(ctx)
			if err != nil {
				t.Errorf("engine: %v (blocked on the held row?)", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 17 || len(e.outbox("SMS")) != 17 {
		t.Errorf("two engines ran %d actions and queued %d SMS, want 17 each (all but the held enrolment)", total, len(e.outbox("SMS")))
	}
	if en := e.enrollment(admin.AccessToken, ids[0]); en.Status != "ACTIVE" || en.Steps[0].Status != "SCHEDULED" {
		t.Errorf("the held enrolment = %+v, want it untouched", en)
	}
	if err := held.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n, err := engines[1].RunDue(ctx); err != nil || n != 1 {
		t.Errorf("once released: %d, %v; want its action run", n, err)
	}
}

// actionIDs lists a program's actions, in order.
func (e *env) actionIDs(token, prog string) []string {
	e.t.Helper()
	var out struct {
		Node struct{ Actions []struct{ ID string } }
	}
	e.ok(token, `query($id: ID!) { node(id: $id) { ... on Program { actions { id } } } }`, map[string]any{"id": prog}, &out)
	var ids []string
	for _, a := range out.Node.Actions {
		ids = append(ids, a.ID)
	}
	return ids
}

// bookingTypeID finds a booking type by name.
func (e *env) bookingTypeID(token, name string) string {
	e.t.Helper()
	var bt struct{ BookingTypes []struct{ ID, Name string } }
	e.ok(token, `{ bookingTypes { id name } }`, nil, &bt)
	for _, b := range bt.BookingTypes {
		if b.Name == name {
			return b.ID
		}
	}
	e.t.Fatalf("no booking type %q", name)
	return ""
}

// book upserts a booking through the integration surface and returns its id.
func (e *env) book(ext, patient string, fields map[string]any) string {
	e.t.Helper()
	in := map[string]any{"externalID": ext, "patientID": patient, "doctorID": e.login(demo.ChenEmail).User.ID,
		"startsAt": e.clock.Now().Add(20 * 24 * time.Hour).UTC().Format(time.RFC3339)}
	for k, v := range fields {
		in[k] = v
	}
	var out struct{ UpsertBooking struct{ ID string } }
	e.ok(demo.IntegrationKey, `mutation($in: BookingInput!) { upsertBooking(input: $in) { id } }`, map[string]any{"in": in}, &out)
	return out.UpsertBooking.ID
}

func (e *env) recallID(token string) string {
	e.t.Helper()
	var progs struct {
		Programs struct {
			Edges []struct{ Node struct{ ID, Name string } }
		}
	}
	e.ok(token, `{ programs { edges { node { id name } } } }`, nil, &progs)
	for _, p := range progs.Programs.Edges {
		if p.Node.Name == demo.RecallProgramName {
			return p.Node.ID
		}
	}
	e.t.Fatal("no demo recall program")
	return ""
}

func TestABookingBeforeCycleOneBeginsCompletesIt(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	patient := e.patientID(admin.AccessToken, "P0003")
	proposed := e.clock.Now().Add(20 * 24 * time.Hour)
	id := e.enroll(admin.AccessToken, e.recallID(admin.AccessToken), patient, &proposed)
	// The practice books the Recall Review the day the patient is enrolled.
	e.book("bk-early", patient, map[string]any{"bookingTypeID": e.bookingTypeID(admin.AccessToken, "Recall Review"),
		"startsAt": proposed.UTC().Format(time.RFC3339)})
	en := e.enrollment(admin.AccessToken, id)
	if en.Cycle != 2 || en.Status != "ACTIVE" || en.Steps[0].Cycle != 1 || en.Steps[0].Status != "SKIPPED" {
		t.Fatalf("after booking before the first action: %+v, want cycle 1's SMS SKIPPED and cycle 2 ACTIVE", en)
	}
	e.clock.Advance(7 * 24 * time.Hour)
	e.run()
	e.clock.Advance(14 * 24 * time.Hour)
	e.run()
	if sms, letters := e.outbox("SMS"), e.outbox("LETTER"); len(sms) != 0 || len(letters) != 0 {
		t.Errorf("the patient had booked, yet the recall sent SMS %v and letters %v", sms, letters)
	}
}

func TestABookingThatBecomesQualifyingCompletesTheCycle(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	recall, recallType := e.recallID(admin.AccessToken), e.bookingTypeID(admin.AccessToken, "Recall Review")
	proposed := e.clock.Now().Add(20 * 24 * time.Hour)
	byStatus := e.enroll(admin.AccessToken, recall, e.patientID(admin.AccessToken, "P0003"), &proposed)
	byType := e.enroll(admin.AccessToken, recall, e.patientID(admin.AccessToken, "P0001"), &proposed)
	// Proposed, then confirmed by status.
	b := e.book("bk-proposed", e.patientID(admin.AccessToken, "P0003"), map[string]any{"bookingTypeID": recallType, "status": "PROPOSED"})
	if en := e.enrollment(admin.AccessToken, byStatus); en.Cycle != 1 {
		t.Fatalf("a PROPOSED booking completed the cycle: cycle %d", en.Cycle)
	}
	e.ok(demo.IntegrationKey, `mutation($id: ID!) { setBookingStatus(bookingID: $id, status: BOOKED) { id } }`, map[string]any{"id": b}, nil)
	if en := e.enrollment(admin.AccessToken, byStatus); en.Cycle != 2 {
		t.Errorf("after the booking was confirmed: cycle %d, want 2", en.Cycle)
	}
	// Still going ahead: arriving is the same booking and counts no again.
	e.ok(demo.IntegrationKey, `mutation($id: ID!) { setBookingStatus(bookingID: $id, status: ARRIVED) { id } }`, map[string]any{"id": b}, nil)
	if en := e.enrollment(admin.AccessToken, byStatus); en.Cycle != 2 {
		t.Errorf("the same booking arriving moved the enrolment on again: cycle %d, want 2", en.Cycle)
	}
	// Booked without a type, then given the Recall Review type by an upsert.
	e.book("bk-typed-later", e.patientID(admin.AccessToken, "P0001"), nil)
	if en := e.enrollment(admin.AccessToken, byType); en.Cycle != 1 {
		t.Fatalf("a booking of no selected type completed the cycle: cycle %d", en.Cycle)
	}
	e.book("bk-typed-later", e.patientID(admin.AccessToken, "P0001"), map[string]any{"bookingTypeID": recallType})
	if en := e.enrollment(admin.AccessToken, byType); en.Cycle != 2 {
		t.Errorf("after the booking became a Recall Review: cycle %d, want 2", en.Cycle)
	}
}

func TestEditingAProgramWhilePatientsAreEnrolled(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := func(body string) string { return e.template(admin.AccessToken, "SMS", body) }
	three := func(name string) string {
		return e.program(admin.AccessToken, map[string]any{"name": name, "type": "GENERAL"},
			map[string]any{"type": "SMS", "templateID": sms(name + " A"), "offset": 0, "unit": "DAYS", "relation": "ON"},
			map[string]any{"type": "SMS", "templateID": sms(name + " B"), "offset": 1, "unit": "DAYS", "relation": "AFTER"},
			map[string]any{"type": "SMS", "templateID": sms(name + " C"), "offset": 2, "unit": "DAYS", "relation": "AFTER"})
	}
	moved, removed := three("Moved"), three("Removed")
	mv := e.enroll(admin.AccessToken, moved, e.patientID(admin.AccessToken, "P0001"), nil)
	rm := e.enroll(admin.AccessToken, removed, e.patientID(admin.AccessToken, "P0002"), nil)
	if n := e.run(); n != 2 {
		t.Fatalf("%d actions ran, want both first SMS", n)
	}
	// Reorder one program (C first) and remove actions from the other: the
	// one already sent, and the one the enrolment is waiting for.
	ma, ra := e.actionIDs(admin.AccessToken, moved), e.actionIDs(admin.AccessToken, removed)
	e.ok(admin.AccessToken, `mutation($id: ID!) { moveProgramAction(id: $id, position: 0) { id } }`, map[string]any{"id": ma[2]}, nil)
	for _, a := range ra[:2] {
		e.ok(admin.AccessToken, `mutation($id: ID!) { removeProgramAction(id: $id) { id } }`, map[string]any{"id": a}, nil)
	}
	e.fails(admin.AccessToken, `mutation($id: ID!) { removeProgramAction(id: $id) { id } }`, map[string]any{"id": ra[0]}, "BAD_USER_INPUT")
	if left := e.actionIDs(admin.AccessToken, removed); len(left) != 1 || left[0] != ra[2] {
		t.Errorf("actions after removing two = %v, want only %s", left, ra[2])
	}
	for day := 0; day < 3; day++ {
		e.clock.Advance(25 * time.Hour)
		e.run()
	}
	admin = e.login(demo.AdminEmail)
	var bodies []string
	for _, s := range e.outbox("SMS") {
		bodies = append(bodies, s[strings.Index(s, ": ")+2:])
	}
	if got := strings.Join(bodies, ","); got != "Moved A,Removed A,Moved B,Moved C,Removed C" {
		t.Errorf("SMS sent = %s, want every action once, the removed one never", got)
	}
	var got []string
	for _, id := range []string{mv, rm} {
		en := e.enrollment(admin.AccessToken, id)
		var steps []string
		for _, st := range en.Steps {
			steps = append(steps, st.Status)
		}
		got = append(got, en.Status+" "+strings.Join(steps, ","))
	}
	if got[0] != "COMPLETED SENT,SENT,SENT" || got[1] != "COMPLETED SENT,SKIPPED,SENT" {
		t.Errorf("enrolments = %q, want the reordered one COMPLETED with 3 SENT, the other with the removed action SKIPPED", got)
	}
	// The removed actions are still what the steps were.
	var steps struct {
		Node struct {
			Steps []struct{ Action struct{ ID string } }
		}
	}
	e.ok(admin.AccessToken, `query($id: ID!) { node(id: $id) { ... on Enrollment { steps { action { id } } } } }`, map[string]any{"id": rm}, &steps)
	if len(steps.Node.Steps) != 3 || steps.Node.Steps[0].Action.ID != ra[0] {
		t.Errorf("steps = %+v, want the first still pointing at the removed action %s", steps.Node.Steps, ra[0])
	}
}

func TestOneFailingEnrolmentDoesNotBlockTheOthers(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	prog := e.program(admin.AccessToken, map[string]any{"name": "Hello", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": e.template(admin.AccessToken, "SMS", "Hello"), "offset": 0, "unit": "DAYS", "relation": "ON"})
	var ids []string
	for _, num := range []string{"P0001", "P0002", "P0004"} {
		ids = append(ids, e.enroll(admin.AccessToken, prog, e.patientID(admin.AccessToken, num), nil))
	}
	// Poison the second: it points at an action that does not exist, so
	// its step fails with an error rather than a delivery problem.
	ctx := viewer.NewSystemContext(context.Background(), "test")
	e.db.Client.Enrollment.UpdateOneID(pulid.ID(ids[1])).SetNextActionID("pn01JD3F4M5X8Q9R2T6V7W8Y9Z0A").ExecX(ctx)
	n, err := e.engine.RunDue(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("RunDue = %d, %v; want the two healthy enrolments run and no error", n, err)
	}
	if n := e.run(); n != 0 {
		t.Errorf("a second pass ran %d actions", n)
	}
	for i, id := range ids {
		en := e.enrollment(admin.AccessToken, id)
		switch {
		case i == 1 && (en.Status != "PAUSED" || !en.Flagged):
			t.Errorf("the poisoned enrolment = %+v, want PAUSED and flagged for follow-up", en)
		case i != 1 && (en.Status != "COMPLETED" || en.Steps[0].Status != "SENT"):
			t.Errorf("enrolment %d = %+v, want COMPLETED with its SMS SENT", i, en)
		}
	}
}

func TestAProviderRefusalReachesTheEnrolment(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}")
	letter := e.template(admin.AccessToken, "LETTER", "Dear {{patient.fullName}}")
	program := func(name string, pause bool) string {
		return e.program(admin.AccessToken, map[string]any{"name": name, "type": "GENERAL"},
			map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON", "pauseOnError": pause},
			map[string]any{"type": "LETTER_TO_PATIENT", "templateID": letter, "letterOption": "SAVE_FILE", "offset": 1, "unit": "DAYS", "relation": "AFTER"})
	}
	pausing := e.enroll(admin.AccessToken, program("Pausing", true), e.patientID(admin.AccessToken, "P0001"), nil)
	skipping := e.enroll(admin.AccessToken, program("Skipping", false), e.patientID(admin.AccessToken, "P0002"), nil)
	if n := e.run(); n != 2 {
		t.Fatalf("%d actions ran, want the two SMS", n)
	}
	// The SMS API refuses the numbers, as Twilio does an invalid one.
	smsAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"code":21211,"message":"The 'To' number is not a valid phone number.","status":400}`))
	}))
	defer smsAPI.Close()
	worker := outbox.New(e.db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Providers:   map[string]outbox.Provider{"SMS": outbox.HTTPSMS{BaseURL: smsAPI.URL, Account: "AC1", Token: "t", From: "+61255550000"}},
		Undelivered: e.engine.DeliveryFailed,
		Now:         e.clock.Now,
	})
	e.clock.Advance(time.Minute)
	if _, err := worker.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	en := e.enrollment(admin.AccessToken, pausing)
	if en.Status != "PAUSED" || !en.Flagged || en.Steps[0].Status != "FAILED" || en.Steps[0].Error == nil ||
		!strings.Contains(*en.Steps[0].Error, "21211") {
		t.Errorf("pause on error after a refused SMS: %+v, want PAUSED, flagged, the SMS step FAILED with the provider's reason", en)
	}
	en = e.enrollment(admin.AccessToken, skipping)
	if en.Status != "ACTIVE" || en.Flagged || en.Steps[0].Status != "FAILED" {
		t.Errorf("skip on error after a refused SMS: %+v, want ACTIVE and unflagged, the SMS step FAILED", en)
	}
	// Staff review what did not go out.
	const q = `query($s: [DeliveryStatus!]) { deliveries(status: $s, first: 10) { totalCount edges { node { id channel status lastError attempts } } } }`
	var out struct {
		Deliveries struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					ID, Channel, Status, LastError string
					Attempts                       int
				}
			}
		}
	}
	e.ok(admin.AccessToken, q, map[string]any{"s": []string{"FAILED", "UNKNOWN"}}, &out)
	if out.Deliveries.TotalCount != 2 || len(out.Deliveries.Edges) != 2 || out.Deliveries.Edges[0].Node.Status != "FAILED" || out.Deliveries.Edges[0].Node.Channel != "SMS" ||
		!strings.Contains(out.Deliveries.Edges[0].Node.LastError, "21211") {
		t.Fatalf("failed deliveries = %+v, want the two refused SMS with the reason", out.Deliveries)
	}
	failedID := out.Deliveries.Edges[0].Node.ID
	e.ok(admin.AccessToken, q, map[string]any{"s": []string{"SENT"}}, &out)
	if out.Deliveries.TotalCount != 0 {
		t.Errorf("%d SENT deliveries listed, want none", out.Deliveries.TotalCount)
	}
	// Privacy at the data layer: others see neither the list nor a row.
	kim := e.login(demo.KimEmail).AccessToken
	e.fails(kim, q, map[string]any{"s": []string{"FAILED"}}, "FORBIDDEN")
	e.fails(kim, `query($id: ID!) { node(id: $id) { id } }`,
		map[string]any{"id": failedID}, "FORBIDDEN")
}

func TestAPlaceholderWithoutAValueFailsTheAction(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	action := func(body string) map[string]any {
		return map[string]any{"type": "SMS", "templateID": e.template(admin.AccessToken, "SMS", body), "offset": 0, "unit": "DAYS", "relation": "ON", "pauseOnError": true}
	}
	ref := e.clock.Now().Add(time.Hour)
	dated := e.program(admin.AccessToken, map[string]any{"name": "Dated", "type": "GENERAL"}, action("Your check is due {{enrollment.referenceDate}}"))
	address := e.program(admin.AccessToken, map[string]any{"name": "Address", "type": "GENERAL"}, action("Come to {{practice.address}}"))
	booking := e.program(admin.AccessToken, map[string]any{"name": "Booking", "type": "GENERAL"}, action("See you on {{booking.date}}"))
	patient := e.patientID(admin.AccessToken, "P0001") // the practice address is not configured
	ids := []string{e.enroll(admin.AccessToken, dated, patient, &ref), e.enroll(admin.AccessToken, address, patient, nil),
		e.enroll(admin.AccessToken, booking, patient, nil)}
	e.clock.Advance(48 * time.Hour) // past the demo's bookings: the patient has none to come
	e.run()
	admin = e.login(demo.AdminEmail)
	if sms := e.outbox("SMS"); len(sms) != 1 || !strings.HasSuffix(sms[0], "Your check is due "+ref.UTC().Format("Monday 2 January 2006")) {
		t.Errorf("SMS queued = %v, want only the dated one, with the reference date", sms)
	}
	for i, want := range []string{"", "{{practice.address}}", "{{booking.date}}"} {
		en := e.enrollment(admin.AccessToken, ids[i])
		switch {
		case want == "" && en.Steps[0].Status != "SENT":
			t.Errorf("the dated enrolment = %+v, want its SMS SENT", en)
		case want != "" && (en.Status != "PAUSED" || en.Steps[0].Status != "FAILED" || en.Steps[0].Error == nil || !strings.Contains(*en.Steps[0].Error, want)):
			t.Errorf("enrolment using %s = %+v, want PAUSED with the step FAILED naming the placeholder", want, en)
		}
	}
}

func TestEmailAndALetterToTheGPThroughTheEngine(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	var email struct{ CreateTemplate struct{ ID string } }
	e.ok(admin.AccessToken, `mutation { createTemplate(input: {kind: EMAIL, name: "e", subject: "Hello {{patient.firstName}}", body: "Your results are in."}) { id } }`, nil, &email)
	letter := e.template(admin.AccessToken, "LETTER", "Dear {{patient.gpName}}, re {{patient.fullName}}.")
	prog := e.program(admin.AccessToken, map[string]any{"name": "Results", "type": "GENERAL"},
		map[string]any{"type": "EMAIL", "templateID": email.CreateTemplate.ID, "offset": 0, "unit": "DAYS", "relation": "ON"},
		map[string]any{"type": "LETTER_TO_GP", "templateID": letter, "letterOption": "EPOST", "offset": 0, "unit": "DAYS", "relation": "ON"})
	id := e.enroll(admin.AccessToken, prog, e.patientID(admin.AccessToken, "P0001"), nil)
	if n := e.run(); n != 2 {
		t.Fatalf("%d actions ran, want the email and the letter", n)
	}
	if en := e.enrollment(admin.AccessToken, id); en.Status != "COMPLETED" {
		t.Errorf("enrolment = %+v, want COMPLETED", en)
	}
	if got := e.outbox("EMAIL"); len(got) != 1 || got[0] != "olivia.brown@example.com: Your results are in." {
		t.Errorf("emails queued = %q", got)
	}
	ctx := viewer.NewSystemContext(context.Background(), "test")
	l := e.db.Client.OutboxMessage.Query().Where(outboxmessage.ChannelEQ(outboxmessage.ChannelLETTER)).OnlyX(ctx)
	if l.Recipient != "Dr Ruth Okafor\nHarbourside Family Practice\n1 Quay Lane, Sydney NSW 2000" || l.Route == nil || *l.Route != outboxmessage.RouteEPOST ||
		l.Body != "Dear Dr Ruth Okafor, re Olivia Brown." {
		t.Errorf("the GP letter = %q via %v: %q, want the GP's practice address block by e-post", l.Recipient, l.Route, l.Body)
	}
}

func TestCycleCompletionKinds(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}")
	standard, recall := e.bookingTypeID(admin.AccessToken, "Standard Consultation"), e.bookingTypeID(admin.AccessToken, "Recall Review")
	program := func(name, completion string, types ...string) string {
		in := map[string]any{"name": name, "type": "PROGRAM", "cycles": 3, "frequency": map[string]any{"every": 1, "unit": "MONTHS"}, "completion": completion}
		if len(types) > 0 {
			in["bookingTypeIDs"] = types
		}
		return e.program(admin.AccessToken, in, map[string]any{"type": "SMS", "templateID": sms, "offset": 1, "unit": "WEEKS", "relation": "AFTER"})
	}
	patient := e.patientID(admin.AccessToken, "P0002")
	ignore := e.enroll(admin.AccessToken, program("Ignore", "IGNORE"), patient, nil)
	anyType := e.enroll(admin.AccessToken, program("Any", "ANY"), patient, nil)
	selected := e.enroll(admin.AccessToken, program("Selected", "SELECTED", recall), patient, nil)
	e.book("bk-standard", patient, map[string]any{"bookingTypeID": standard})
	cycles := func() []int {
		var out []int
		for _, id := range []string{ignore, anyType, selected} {
			out = append(out, e.enrollment(admin.AccessToken, id).Cycle)
		}
		return out
	}
	if got := fmt.Sprint(cycles()); got != "[1 2 1]" {
		t.Errorf("after a Standard Consultation: cycles %s, want IGNORE 1, ANY 2, SELECTED (Recall Review only) 1", got)
	}
	e.book("bk-recall", patient, map[string]any{"bookingTypeID": recall})
	if got := fmt.Sprint(cycles()); got != "[1 3 2]" {
		t.Errorf("after a Recall Review as well: cycles %s, want 1, 3, 2", got)
	}
}

func TestEnrolmentRulesAndControls(t *testing.T) {
	e := newEnv(t)
	admin, chen := e.login(demo.AdminEmail), e.login(demo.ChenEmail)
	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}")
	const enroll = `mutation($in: EnrollPatientInput!) { enrollPatient(input: $in) { id referenceDate } }`
	step := map[string]any{"type": "SMS", "templateID": sms, "offset": 1, "unit": "DAYS", "relation": "AFTER"}
	bookingProg := e.program(admin.AccessToken, map[string]any{"name": "Before the visit", "type": "BOOKING"}, step)
	startProg := e.program(admin.AccessToken, map[string]any{"name": "Programme", "type": "PROGRAM"}, step)
	p1, p2 := e.patientID(admin.AccessToken, "P0001"), e.patientID(admin.AccessToken, "P0002")
	// A Booking program needs the booking date; a Program one starts today.
	e.fails(admin.AccessToken, enroll, map[string]any{"in": map[string]any{"programID": bookingProg, "patientID": p1}}, "BAD_USER_INPUT")
	var out struct {
		EnrollPatient struct{ ID, ReferenceDate string }
	}
	e.ok(admin.AccessToken, enroll, map[string]any{"in": map[string]any{"programID": startProg, "patientID": p1}}, &out)
	if ref, _ := time.Parse(time.RFC3339, out.EnrollPatient.ReferenceDate); ref.Sub(e.clock.Now()).Abs() > time.Second {
		t.Errorf("a Program enrolment's reference date = %s, want today (%s)", out.EnrollPatient.ReferenceDate, e.clock.Now())
	}
	started := out.EnrollPatient.ID
	// Others may not configure or enrol.
	var actions struct {
		Node struct{ Actions []struct{ ID string } }
	}
	e.ok(admin.AccessToken, `query($id: ID!) { node(id: $id) { ... on Program { actions { id } } } }`, map[string]any{"id": startProg}, &actions)
	a := actions.Node.Actions[0].ID
	for name, op := range map[string][2]string{
		"addProgramAction":    {`mutation($in: ProgramActionInput!) { addProgramAction(input: $in) { id } }`, "in"},
		"setProgramEnabled":   {`mutation($id: ID!) { setProgramEnabled(id: $id, enabled: false) { id } }`, "id"},
		"moveProgramAction":   {`mutation($id: ID!) { moveProgramAction(id: $id, position: 0) { id } }`, "id"},
		"removeProgramAction": {`mutation($id: ID!) { removeProgramAction(id: $id) { id } }`, "id"},
		"enrollPatient":       {enroll, "in"},
	} {
		t.Run(name, func(t *testing.T) {
			vars := map[string]any{"id": a}
			switch name {
			case "addProgramAction":
				vars = map[string]any{"in": map[string]any{"programID": startProg, "type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON"}}
			case "setProgramEnabled":
				vars = map[string]any{"id": startProg}
			case "enrollPatient":
				vars = map[string]any{"in": map[string]any{"programID": startProg, "patientID": p2}}
			}
			e.with(t).fails(chen.AccessToken, op[0], vars, "FORBIDDEN")
		})
	}
	// Disabled: no new enrolments.
	e.ok(admin.AccessToken, `mutation($id: ID!) { setProgramEnabled(id: $id, enabled: false) { enabled } }`, map[string]any{"id": startProg}, nil)
	e.fails(admin.AccessToken, enroll, map[string]any{"in": map[string]any{"programID": startProg, "patientID": p2}}, "BAD_USER_INPUT")
	// Filters.
	other := e.enroll(admin.AccessToken, bookingProg, p2, &[]time.Time{e.clock.Now().Add(72 * time.Hour)}[0])
	var list struct {
		Enrollments struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	for _, c := range []struct {
		vars map[string]any
		want string
	}{{map[string]any{"p": startProg}, started}, {map[string]any{"pt": p2}, other}} {
		e.ok(admin.AccessToken, `query($p: ID, $pt: ID) { enrollments(programID: $p, patientID: $pt) { edges { node { id } } } }`, c.vars, &list)
		if len(list.Enrollments.Edges) != 1 || list.Enrollments.Edges[0].Node.ID != c.want {
			t.Errorf("enrollments(%v) = %+v, want only %s", c.vars, list.Enrollments.Edges, c.want)
		}
	}
	// Pause holds the action; resume lets it run; cancel once only.
	e.ok(admin.AccessToken, `mutation($id: ID!) { pauseEnrollment(id: $id) { status } }`, map[string]any{"id": started}, nil)
	e.clock.Advance(25 * time.Hour)
	admin = e.login(demo.AdminEmail)
	if n := e.run(); n != 0 {
		t.Errorf("%d actions ran while paused", n)
	}
	e.ok(admin.AccessToken, `mutation($id: ID!) { resumeEnrollment(id: $id) { status } }`, map[string]any{"id": started}, nil)
	if n := e.run(); n != 1 {
		t.Errorf("%d actions ran after resuming, want 1", n)
	}
	e.ok(admin.AccessToken, `mutation($id: ID!) { cancelEnrollment(id: $id) { status } }`, map[string]any{"id": other}, nil)
	e.fails(admin.AccessToken, `mutation($id: ID!) { cancelEnrollment(id: $id) { status } }`, map[string]any{"id": other}, "BAD_USER_INPUT")
	// A reply to an SMS sent without "save reply content" is not stored.
	if found, err := e.engine.ReplyReceived(context.Background(), "+61411000001", "thanks", "SM9"); err != nil || found {
		t.Errorf("a reply to an SMS without save reply content: found %v, %v; want it not stored", found, err)
	}
}

func TestABookingProgramNamesItsOwnBooking(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := e.template(admin.AccessToken, "SMS", "How was your {{booking.type}} with {{doctor.name}} on {{booking.date}}?")
	prog := e.program(admin.AccessToken, map[string]any{"name": "Follow-up", "type": "BOOKING"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 1, "unit": "DAYS", "relation": "AFTER"})
	patient := e.patientID(admin.AccessToken, "P0002")
	visit := e.clock.Now().Add(72 * time.Hour).Truncate(time.Minute)
	e.book("bk-visit", patient, map[string]any{"bookingTypeID": e.bookingTypeID(admin.AccessToken, "Recall Review"),
		"startsAt": visit.UTC().Format(time.RFC3339)})
	e.book("bk-later", patient, map[string]any{"startsAt": visit.Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	e.enroll(admin.AccessToken, prog, patient, &visit)
	e.clock.Advance(4*24*time.Hour + time.Hour) // the day after the visit
	if n := e.run(); n != 1 {
		t.Fatalf("%d actions ran, want the follow-up SMS", n)
	}
	want := "How was your Recall Review with Dr Wei Chen on " + visit.UTC().Format("Monday 2 January 2006") + "?"
	if sms := e.outbox("SMS"); len(sms) != 1 || !strings.HasSuffix(sms[0], want) {
		t.Errorf("follow-up SMS = %v, want it about the visit: %q", sms, want)
	}
}

func TestAnEnrolmentWrittenWithoutItsNextActionRunsInOnePass(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	prog := e.program(admin.AccessToken, map[string]any{"name": "Bulk", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": e.template(admin.AccessToken, "SMS", "Hi"), "offset": 0, "unit": "DAYS", "relation": "ON"})
	// A bulk load (or a row from before actions were tracked by id) has
	// only the reference date and when it is due.
	ctx := viewer.NewSystemContext(context.Background(), "test")
	due := e.clock.Now().Add(-time.Minute)
	e.db.Client.Enrollment.Create().SetProgramID(pulid.ID(prog)).SetPatientID(pulid.ID(e.patientID(admin.AccessToken, "P0001"))).
		SetReferenceDate(due).SetNextDueAt(due).ExecX(ctx)
	if n := e.run(); n != 1 || len(e.outbox("SMS")) != 1 {
		t.Errorf("RunDue ran %d actions and queued %d SMS, want the first action run once", n, len(e.outbox("SMS")))
	}
}

// A worker that died mid-send leaves its row "sending"; the next worker
// marks it unknown, and that reaches the enrolment as a refusal does: the
// SMS step FAILED, and with pause on error the enrolment paused and flagged.
func TestAnAbandonedSendReachesTheEnrolment(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}")
	letter := e.template(admin.AccessToken, "LETTER", "Dear {{patient.fullName}}")
	prog := e.program(admin.AccessToken, map[string]any{"name": "Pausing", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON", "pauseOnError": true},
		map[string]any{"type": "LETTER_TO_PATIENT", "templateID": letter, "letterOption": "SAVE_FILE", "offset": 1, "unit": "DAYS", "relation": "AFTER"})
	id := e.enroll(admin.AccessToken, prog, e.patientID(admin.AccessToken, "P0001"), nil)
	if n := e.run(); n != 1 {
		t.Fatalf("%d actions ran, want the SMS", n)
	}
	// A worker claimed the row and died before the provider answered.
	ctx := viewer.NewSystemContext(context.Background(), "test")
	if n := e.db.Client.OutboxMessage.Update().Where(outboxmessage.ChannelEQ(outboxmessage.ChannelSMS)).
		SetStatus(outboxmessage.StatusSENDING).SaveX(ctx); n != 1 {
		t.Fatalf("%d SMS rows queued, want 1", n)
	}
	worker := outbox.New(e.db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Undelivered: e.engine.DeliveryFailed, Now: e.clock.Now,
	})
	e.clock.Advance(6 * time.Minute)
	if _, err := worker.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	en := e.enrollment(admin.AccessToken, id)
	if en.Status != "PAUSED" || !en.Flagged || en.Steps[0].Status != "FAILED" || en.Steps[0].Error == nil ||
		!strings.Contains(*en.Steps[0].Error, "unknown") {
		t.Errorf("after an abandoned send: %+v, want PAUSED, flagged, the SMS step FAILED as unknown", en)
	}
}

// A program manager reviews what Patient Connect queued, not the SMS copies
// of staff messages (which name patients and belong to a conversation):
// neither the deliveries list nor node(id:) reaches them.
func TestProgramManagersSeeOnlyOutreachDeliveries(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	chen := e.login(demo.ChenEmail)
	toRec := e.open(chen.AccessToken, map[string]any{"userIDs": []string{e.userID(chen.AccessToken, demo.ReceptionEmail)}})
	msg := e.send(chen.AccessToken, toRec.ID, "Mrs Brown's results are back #sms", nil)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	copyID := e.db.Client.OutboxMessage.Query().Where(outboxmessage.CauseMessageID(pulidOf(msg.ID))).OnlyIDX(ctx)
	sms := e.template(admin.AccessToken, "SMS", "Hi {{patient.firstName}}")
	prog := e.program(admin.AccessToken, map[string]any{"name": "Recall", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 0, "unit": "DAYS", "relation": "ON"})
	e.enroll(admin.AccessToken, prog, e.patientID(admin.AccessToken, "P0001"), nil)
	if n := e.run(); n != 1 {
		t.Fatalf("%d actions ran, want the SMS", n)
	}
	const q = `{ deliveries(first: 10) { totalCount edges { node { id } } } }`
	var out struct {
		Deliveries struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID string } }
		}
	}
	e.ok(admin.AccessToken, q, nil, &out)
	if out.Deliveries.TotalCount != 1 || len(out.Deliveries.Edges) != 1 || out.Deliveries.Edges[0].Node.ID == string(copyID) {
		t.Errorf("deliveries = %+v, want only the program's SMS (not the message copy %s)", out.Deliveries, copyID)
	}
	e.fails(admin.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": string(copyID)}, "NOT_FOUND")
	var one struct{ Node *struct{ ID string } }
	e.ok(admin.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": out.Deliveries.Edges[0].Node.ID}, &one)
	if one.Node == nil {
		t.Errorf("the program's own delivery is not readable through node(id:)")
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/whisper-health/whisper/internal/testdb"
)

// webhookPost posts a signed (or forged: sig given) form to a webhook.
func webhookPost(t *testing.T, hook string, form url.Values, sig string) (int, string) {
	t.Helper()
	if sig == "" {
		sig = sign("tok", hook, form)
	}
	req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sig)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// gqlErrorCode posts an operation that must fail and returns its code.
func gqlErrorCode(t *testing.T, base, token, query string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Errors []struct{ Extensions map[string]any }
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	if len(out.Errors) == 0 {
		t.Fatalf("%s succeeded, want an error", query)
	}
	code, _ := out.Errors[0].Extensions["code"].(string)
	return code
}

// until polls the API for a state the background workers reach (the
// engine runs every second); it fails after ten seconds.
func until(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		// A bounded poll interval: the state is written by the running
		// server's background workers, which announce nothing a test could
		// wait on through the API.
		time.Sleep(20 * time.Millisecond)
	}
}

// smsAPI is a loopback Twilio-style Messages API that counts its calls.
type smsAPI struct {
	*httptest.Server
	mu    sync.Mutex
	forms []url.Values
	calls chan url.Values
}

func newSMSAPI(t *testing.T, sid string) *smsAPI {
	a := &smsAPI{calls: make(chan url.Values, 16)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		a.mu.Lock()
		a.forms = append(a.forms, r.PostForm)
		a.mu.Unlock()
		a.calls <- r.PostForm
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"` + sid + `"}`))
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *smsAPI) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.forms)
}

// smsProgram creates and enables a one-SMS program and returns its id.
func smsProgram(t *testing.T, base, admin, name string) string {
	tpl := post(t, base, admin, `mutation { createTemplate(input: {kind: SMS, name: "`+name+`", body: "Hello {{patient.firstName}}"}) { id } }`)["createTemplate"].(map[string]any)["id"].(string)
	prog := post(t, base, admin, `mutation { createProgram(input: {name: "`+name+`", type: GENERAL}) { id } }`)["createProgram"].(map[string]any)["id"].(string)
	post(t, base, admin, `mutation { addProgramAction(input: {programID: "`+prog+`", type: SMS, templateID: "`+tpl+`", offset: 0, unit: DAYS, relation: ON, pauseOnError: true}) { id } }`)
	post(t, base, admin, `mutation { setProgramEnabled(id: "`+prog+`", enabled: true) { id } }`)
	return prog
}

func patientByNumber(t *testing.T, base, token, number string) map[string]any {
	pats := post(t, base, token, `{ patients(search: "`+number+`") { edges { node { id mobile email } } } }`)["patients"].(map[string]any)["edges"].([]any)
	return pats[0].(map[string]any)["node"].(map[string]any)
}

func enrolmentSteps(t *testing.T, base, token, id string) []any {
	return post(t, base, token, `{ node(id: "`+id+`") { ... on Enrollment { status flagged steps { status skipReason error } } } }`)["node"].(map[string]any)["steps"].([]any)
}

// STOP through the signed webhook opts the number out: an outreach SMS is
// SKIPPED (OPTED_OUT) with no provider call, a #sms copy to it is refused,
// a new record with the number is opted out too; START restores it; HELP
// is answered; a forged keyword changes nothing.
func TestCarrierKeywords(t *testing.T) {
	api := newSMSAPI(t, "SMkw")
	app, _ := startApp(t, testdb.URL(t), "-demo", "-sms-url", api.URL, "-sms-account", "AC1",
		"-sms-token", "tok", "-sms-from", "+61255550000", "-send-window", "00:00-24:00")
	defer stopApp(t, app)
	base := app.URL()
	hook := base + "/webhooks/sms"
	admin, _ := login(t, base, "admin@demo.clinic")
	olivia := patientByNumber(t, base, admin, "P0001")
	consentOf := func(id string) string {
		return post(t, base, admin, `{ node(id: "`+id+`") { ... on Patient { smsConsent } } }`)["node"].(map[string]any)["smsConsent"].(string)
	}

	stop := url.Values{"From": {"+61 411 000 001"}, "To": {"+61255550000"}, "Body": {" stop "}, "MessageSid": {"SMs1"}}
	if code, _ := webhookPost(t, hook, stop, "forged"); code != http.StatusForbidden {
		t.Fatalf("a forged STOP got %d, want 403", code)
	}
	if got := consentOf(olivia["id"].(string)); got != "UNKNOWN" {
		t.Fatalf("after a forged STOP: %s, want UNKNOWN", got)
	}
	if code, body := webhookPost(t, hook, stop, ""); code != http.StatusOK || strings.Contains(body, "<Message>") {
		t.Fatalf("STOP got %d %q, want 200 and no reply", code, body)
	}
	if got := consentOf(olivia["id"].(string)); got != "OPTED_OUT" {
		t.Fatalf("after STOP: smsConsent %s, want OPTED_OUT", got)
	}
	hist := post(t, base, admin, `{ node(id: "`+olivia["id"].(string)+`") { ... on Patient { consentHistory { channel state source detail by { id } } } } }`)["node"].(map[string]any)["consentHistory"].([]any)
	if len(hist) != 1 || hist[0].(map[string]any)["source"] != "SMS_KEYWORD" || hist[0].(map[string]any)["detail"] != "STOP" || hist[0].(map[string]any)["by"] != nil {
		t.Errorf("consent trail after STOP: %v, want one SMS_KEYWORD change (STOP) by nobody on staff", hist)
	}
	// A new record typed with the same number is opted out too.
	other := post(t, base, "wk_demo_integration", `mutation { upsertPatient(input: {externalID: "kw-1", patientNumber: "KW1", firstName: "Olive", lastName: "Brown", mobile: "0061411000001"}) { id smsConsent } }`)["upsertPatient"].(map[string]any)
	if other["smsConsent"] != "OPTED_OUT" {
		t.Errorf("a new record with an opted-out number: %v, want OPTED_OUT", other["smsConsent"])
	}

	prog := smsProgram(t, base, admin, "Keywords")
	en := post(t, base, admin, `mutation { enrollPatient(input: {programID: "`+prog+`", patientID: "`+olivia["id"].(string)+`"}) { id } }`)["enrollPatient"].(map[string]any)["id"].(string)
	until(t, "the SMS step to run", func() bool {
		return enrolmentSteps(t, base, admin, en)[0].(map[string]any)["status"] != "SCHEDULED"
	})
	if st := enrolmentSteps(t, base, admin, en)[0].(map[string]any); st["status"] != "SKIPPED" || st["skipReason"] != "OPTED_OUT" {
		t.Errorf("the SMS step to an opted-out number: %v, want SKIPPED / OPTED_OUT", st)
	}
	if n := api.count(); n != 0 {
		t.Errorf("the SMS API was called %d times for an opted-out number", n)
	}

	// A #sms copy to a staff member whose number texted STOP is refused,
	// and nothing is written.
	samStop := url.Values{"From": {"+61400000005"}, "To": {"+61255550000"}, "Body": {"QUIT"}}
	if code, _ := webhookPost(t, hook, samStop, ""); code != http.StatusOK {
		t.Fatalf("QUIT got %d", code)
	}
	sam := post(t, base, admin, `{ users(search: "Sam") { edges { node { id } } } }`)["users"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"].(string)
	ch := post(t, base, admin, `mutation { openConversation(input: {userIDs: ["`+sam+`"]}) { id } }`)["openConversation"].(map[string]any)["id"].(string)
	if code := gqlErrorCode(t, base, admin, `mutation { sendMessage(input: {channelID: "`+ch+`", body: "Please call back #sms"}) { id } }`); code != "BAD_USER_INPUT" {
		t.Errorf("a #sms copy to an opted-out number: %s, want BAD_USER_INPUT", code)
	}
	if n := post(t, base, admin, `{ messages(channelID: "`+ch+`") { totalCount } }`)["messages"].(map[string]any)["totalCount"].(float64); n != 0 {
		t.Errorf("%v messages written by a refused #sms send", n)
	}

	// HELP is answered with the practice's name and phone.
	help := url.Values{"From": {"+61411000001"}, "To": {"+61255550000"}, "Body": {"help"}}
	if code, body := webhookPost(t, hook, help, ""); code != http.StatusOK ||
		!strings.Contains(body, "<Message>Harbourside Medical Centre: for help call (02) 9000 0000.") {
		t.Errorf("HELP got %d %q, want the practice's name and phone", code, body)
	}

	// START opts back in: the next outreach SMS leaves.
	start := url.Values{"From": {"+61411000001"}, "To": {"+61255550000"}, "Body": {"Start"}}
	if code, _ := webhookPost(t, hook, start, ""); code != http.StatusOK {
		t.Fatalf("START got %d", code)
	}
	if got := consentOf(olivia["id"].(string)); got != "OPTED_IN" {
		t.Fatalf("after START: smsConsent %s, want OPTED_IN", got)
	}
	prog2 := smsProgram(t, base, admin, "Keywords again")
	en2 := post(t, base, admin, `mutation { enrollPatient(input: {programID: "`+prog2+`", patientID: "`+olivia["id"].(string)+`"}) { id } }`)["enrollPatient"].(map[string]any)["id"].(string)
	select {
	case form := <-api.calls:
		if form.Get("To") != "+61411000001" {
			t.Errorf("SMS sent to %s", form.Get("To"))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the SMS API was never called after START")
	}
	if st := enrolmentSteps(t, base, admin, en2)[0].(map[string]any); st["status"] != "SENT" {
		t.Errorf("after START: %v, want SENT", st)
	}
}

// Delivery receipts: queued → sent → undelivered fails the step and, with
// pause on error, pauses and flags the enrolment; program managers filter
// by provider status; a forged or stale receipt changes nothing; the SMS
// asked the provider for the callbacks.
func TestDeliveryReceipts(t *testing.T) {
	api := newSMSAPI(t, "SMrc1")
	app, _ := startApp(t, testdb.URL(t), "-demo", "-sms-url", api.URL, "-sms-account", "AC1",
		"-sms-token", "tok", "-sms-from", "+61255550000", "-send-window", "00:00-24:00", "-public-url", "https://whisper.example.org")
	defer stopApp(t, app)
	base := app.URL()
	hook := base + "/webhooks/sms/status"
	admin, _ := login(t, base, "admin@demo.clinic")
	liam := patientByNumber(t, base, admin, "P0002")
	prog := smsProgram(t, base, admin, "Receipts")
	// A later action keeps the enrolment going, so pause on error shows.
	post(t, base, admin, `mutation { setProgramEnabled(id: "`+prog+`", enabled: false) { id } }`)
	post(t, base, admin, `mutation { addProgramAction(input: {programID: "`+prog+`", type: PAUSE, offset: 1, unit: WEEKS, relation: AFTER}) { id } }`)
	post(t, base, admin, `mutation { setProgramEnabled(id: "`+prog+`", enabled: true) { id } }`)
	en := post(t, base, admin, `mutation { enrollPatient(input: {programID: "`+prog+`", patientID: "`+liam["id"].(string)+`"}) { id } }`)["enrollPatient"].(map[string]any)["id"].(string)
	select {
	case form := <-api.calls:
		if got := form.Get("StatusCallback"); got != "https://whisper.example.org/webhooks/sms/status" {
			t.Errorf("StatusCallback = %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the SMS API was never called")
	}
	delivery := func() map[string]any {
		edges := post(t, base, admin, `{ deliveries { edges { node { status providerStatus deliveredAt lastError } } } }`)["deliveries"].(map[string]any)["edges"].([]any)
		return edges[0].(map[string]any)["node"].(map[string]any)
	}
	until(t, "the delivery to be recorded sent", func() bool { return delivery()["status"] == "SENT" })

	receipt := func(status, sig string) int {
		form := url.Values{"MessageSid": {"SMrc1"}, "MessageStatus": {status}, "AccountSid": {"AC1"}}
		if status == "undelivered" {
			form.Set("ErrorCode", "30003")
		}
		code, _ := webhookPost(t, hook, form, sig)
		return code
	}
	for _, s := range []string{"queued", "sent"} {
		if code := receipt(s, ""); code != http.StatusNoContent {
			t.Fatalf("receipt %s got %d, want 204", s, code)
		}
		if got := delivery()["providerStatus"]; got != s {
			t.Fatalf("after %s: providerStatus %v", s, got)
		}
	}
	if code := receipt("delivered", "forged"); code != http.StatusForbidden {
		t.Errorf("a forged receipt got %d, want 403", code)
	}
	if d := delivery(); d["providerStatus"] != "sent" || d["deliveredAt"] != nil {
		t.Errorf("after a forged receipt: %v, want it unchanged", d)
	}
	if code := receipt("undelivered", ""); code != http.StatusNoContent {
		t.Fatalf("undelivered got %d", code)
	}
	// Delivered again, and a stale "sent": nothing moves back.
	receipt("undelivered", "")
	receipt("sent", "")
	d := delivery()
	if d["providerStatus"] != "undelivered" || d["status"] != "FAILED" || !strings.Contains(d["lastError"].(string), "30003") {
		t.Errorf("after undelivered: %v, want FAILED / undelivered naming the error", d)
	}
	node := post(t, base, admin, `{ node(id: "`+en+`") { ... on Enrollment { status flagged steps { status error } } } }`)["node"].(map[string]any)
	if node["status"] != "PAUSED" || node["flagged"] != true || node["steps"].([]any)[0].(map[string]any)["status"] != "FAILED" {
		t.Errorf("the enrolment after an undelivered SMS: %v, want PAUSED, flagged, the step FAILED", node)
	}
	n := func(filter string) float64 {
		return post(t, base, admin, `{ deliveries(providerStatus: [`+filter+`]) { totalCount } }`)["deliveries"].(map[string]any)["totalCount"].(float64)
	}
	if n(`"undelivered", "failed"`) != 1 || n(`"delivered"`) != 0 {
		t.Errorf("deliveries by provider status: undelivered/failed %v, delivered %v", n(`"undelivered", "failed"`), n(`"delivered"`))
	}
	if code, _ := webhookPost(t, hook, url.Values{"MessageSid": {"SMrc1"}, "MessageStatus": {"exploded"}}, ""); code != http.StatusBadRequest {
		t.Errorf("an unknown status got %d, want 400", code)
	}
}

// captureSMTP is a real SMTP server (go-smtp) on loopback that hands each
// message it receives to mail.
type captureSMTP struct{ mail chan string }

func (b *captureSMTP) NewSession(*smtp.Conn) (smtp.Session, error) { return &captureSession{b: b}, nil }

type captureSession struct{ b *captureSMTP }

func (s *captureSession) AuthPlain(string, string) error       { return nil }
func (s *captureSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *captureSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *captureSession) Reset()                               {}
func (s *captureSession) Logout() error                        { return nil }
func (s *captureSession) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	s.b.mail <- string(b)
	return nil
}

// An outreach email carries RFC 8058 one-click unsubscribe headers over a
// real SMTP conversation; the one-click POST opts the patient out of email,
// a forged link changes nothing, and the next email step is skipped.
func TestOneClickUnsubscribe(t *testing.T) {
	be := &captureSMTP{mail: make(chan string, 4)}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	app, _ := startApp(t, testdb.URL(t), "-demo", "-smtp-host", "127.0.0.1", "-smtp-port", strconv.Itoa(port), "-smtp-from", "clinic@demo.clinic",
		"-smtp-starttls=false", "-send-window", "00:00-24:00", "-public-url", "https://whisper.example.org")
	defer stopApp(t, app)
	base := app.URL()
	admin, _ := login(t, base, "admin@demo.clinic")
	olivia := patientByNumber(t, base, admin, "P0001")["id"].(string)
	tpl := post(t, base, admin, `mutation { createTemplate(input: {kind: EMAIL, name: "News", subject: "News", body: "Dear {{patient.firstName}}"}) { id } }`)["createTemplate"].(map[string]any)["id"].(string)
	prog := post(t, base, admin, `mutation { createProgram(input: {name: "News", type: GENERAL}) { id } }`)["createProgram"].(map[string]any)["id"].(string)
	post(t, base, admin, `mutation { addProgramAction(input: {programID: "`+prog+`", type: EMAIL, templateID: "`+tpl+`", offset: 0, unit: DAYS, relation: ON}) { id } }`)
	post(t, base, admin, `mutation { setProgramEnabled(id: "`+prog+`", enabled: true) { id } }`)
	post(t, base, admin, `mutation { enrollPatient(input: {programID: "`+prog+`", patientID: "`+olivia+`"}) { id } }`)
	var msg string
	select {
	case msg = <-be.mail:
	case <-time.After(10 * time.Second):
		t.Fatal("no email reached the SMTP server")
	}
	unfolded := strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n ", " "), "\r\n\t", " ")
	m := regexp.MustCompile(`(?m)^List-Unsubscribe: <(https://whisper\.example\.org/unsubscribe\?[^>]+)>\r?$`).FindStringSubmatch(unfolded)
	if m == nil || !strings.Contains(unfolded, "List-Unsubscribe-Post: List-Unsubscribe=One-Click") {
		t.Fatalf("the email lacks RFC 8058 headers:\n%s", msg)
	}
	link, _ := url.Parse(m[1])
	local := base + link.Path + "?" + link.RawQuery
	consent := func() string {
		return post(t, base, admin, `{ node(id: "`+olivia+`") { ... on Patient { emailConsent } } }`)["node"].(map[string]any)["emailConsent"].(string)
	}
	click := func(u string) int {
		res, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	q := link.Query()
	q.Set("t", "forged"+q.Get("t")[6:])
	if code := click(base + link.Path + "?" + q.Encode()); code != http.StatusForbidden {
		t.Errorf("a forged link got %d, want 403", code)
	}
	if code, _ := get(t, local); code != http.StatusOK || consent() != "UNKNOWN" {
		t.Errorf("GET of the link: %d, consent %s: a GET must change nothing", code, consent())
	}
	if code := click(local); code != http.StatusOK {
		t.Fatalf("the one-click POST got %d", code)
	}
	if code := click(local); code != http.StatusOK {
		t.Errorf("a second click got %d, want 200 (idempotent)", code)
	}
	if got := consent(); got != "OPTED_OUT" {
		t.Errorf("after unsubscribing: emailConsent %s, want OPTED_OUT", got)
	}
}

// The send window defaults to 08:00-20:00; a bad one stops start-up with
// one line naming the setting.
func TestSendWindowSetting(t *testing.T) {
	cfg, err := LoadConfig(nil, func(string) string { return "" })
	if err != nil || cfg.SendWindow.String() != "08:00-20:00" {
		t.Fatalf("default send window %v (%v), want 08:00-20:00", cfg.SendWindow, err)
	}
	// Without a public URL, links name this machine and no receipts are
	// asked for (a provider cannot call localhost).
	if cfg.PublicBase() != "http://localhost:8080" || cfg.SMSStatusURL() != "" {
		t.Errorf("defaults: public base %q, status URL %q", cfg.PublicBase(), cfg.SMSStatusURL())
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"WHISPER_SEND_WINDOW": "8am-8pm"}, nil, "WHISPER_SEND_WINDOW"},
		{nil, []string{"-send-window", "09:00-09:00"}, "-send-window"},
		{map[string]string{"WHISPER_SEND_WINDOW": "08:00-20:00\nx"}, nil, "WHISPER_SEND_WINDOW"},
		{map[string]string{"WHISPER_PUBLIC_URL": "whisper.example.org"}, nil, "WHISPER_PUBLIC_URL"},
	} {
		_, err := LoadConfig(c.args, func(k string) string { return c.env[k] })
		if err == nil || !strings.HasPrefix(err.Error(), c.want+":") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v %v: error %v, want one line naming %s", c.env, c.args, err, c.want)
		}
	}
	cfg, _ = LoadConfig([]string{"-send-window", "00:00-24:00", "-sms-webhook-url", "https://hooks.example.org/webhooks/sms/"}, func(string) string { return "" })
	if cfg.SendWindow.String() != "00:00-24:00" || cfg.SMSStatusURL() != "https://hooks.example.org/webhooks/sms/status" {
		t.Errorf("always-open window %v, status URL %q", cfg.SendWindow, cfg.SMSStatusURL())
	}
}

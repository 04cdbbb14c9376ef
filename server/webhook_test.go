package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/testdb"
)

// sign computes X-Twilio-Signature the way the provider does.
func sign(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	data := u
	for _, k := range keys {
		data += k + form.Get(k)
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestInboundSMSRepliesAreStoredAgainstTheEnrolment(t *testing.T) {
	// A loopback SMS API accepts the program's SMS.
	called := make(chan struct{}, 1)
	smsAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case called <- struct{}{}:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SM1"}`))
	}))
	defer smsAPI.Close()
	app, _ := startApp(t, testdb.URL(t), "-demo", "-sms-url", smsAPI.URL, "-sms-account", "AC1",
		"-sms-token", "tok", "-sms-from", "+61255550000", "-send-window", "00:00-24:00")
	defer stopApp(t, app)
	base := app.URL()
	admin, _ := login(t, base, "admin@demo.clinic")
	tpl := post(t, base, admin, `mutation { createTemplate(input: {kind: SMS, name: "Weigh-in", body: "Reply with your weight"}) { id } }`)["createTemplate"].(map[string]any)["id"].(string)
	prog := post(t, base, admin, `mutation { createProgram(input: {name: "Weights", type: GENERAL}) { id } }`)["createProgram"].(map[string]any)["id"].(string)
	post(t, base, admin, `mutation { addProgramAction(input: {programID: "`+prog+`", type: SMS, templateID: "`+tpl+`", saveReplyContent: true, offset: 0, unit: DAYS, relation: ON}) { id } }`)
	post(t, base, admin, `mutation { setProgramEnabled(id: "`+prog+`", enabled: true) { id } }`)
	pats := post(t, base, admin, `{ patients(search: "P0001") { edges { node { id mobile } } } }`)["patients"].(map[string]any)["edges"].([]any)
	patient := pats[0].(map[string]any)["node"].(map[string]any)
	en := post(t, base, admin, `mutation { enrollPatient(input: {programID: "`+prog+`", patientID: "`+patient["id"].(string)+`"}) { id } }`)["enrollPatient"].(map[string]any)["id"].(string)

	// The engine runs every second: the SMS goes out within a few. The
	// loopback API's call is the signal; the step's SENT mark (written as
	// the SMS is queued) is then read back, briefly polled in case it lands
	// a moment after the call.
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("the SMS API was never called")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		steps := post(t, base, admin, `{ node(id: "`+en+`") { ... on Enrollment { steps { status } } } }`)["node"].(map[string]any)["steps"].([]any)
		if len(steps) > 0 && steps[0].(map[string]any)["status"] == "SENT" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SMS was not sent: %v", steps)
		}
		// A poll interval, not a synchronisation guess: the step's SENT
		// status is written by the running server's worker and only the
		// database knows when; the deadline above bounds the wait.
		time.Sleep(10 * time.Millisecond)
	}

	hook := base + "/webhooks/sms"
	form := url.Values{"From": {patient["mobile"].(string)}, "To": {"+61255550000"}, "Body": {"82.5 kg"}, "MessageSid": {"SM1"}}
	send := func(form url.Values, sig string) int {
		req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := send(form, "forged"); code != http.StatusForbidden {
		t.Errorf("a forged signature got %d, want 403", code)
	}
	bad := url.Values{"From": {""}, "Body": {"x"}}
	if code := send(bad, sign("tok", hook, bad)); code != http.StatusBadRequest {
		t.Errorf("a reply without From got %d, want 400", code)
	}
	if code := send(form, sign("tok", hook, form)); code != http.StatusOK {
		t.Fatalf("a signed reply got %d, want 200", code)
	}
	steps := post(t, base, admin, `{ node(id: "`+en+`") { ... on Enrollment { steps { replyContent } } } }`)["node"].(map[string]any)["steps"].([]any)
	if got := steps[0].(map[string]any)["replyContent"]; got != "82.5 kg" {
		t.Errorf("stored reply = %v, want 82.5 kg", got)
	}
	// The provider delivers the same reply again (a retry): stored once. A
	// new reply from the number written with spaces is matched and appended.
	if code := send(form, sign("tok", hook, form)); code != http.StatusOK {
		t.Fatalf("a repeated reply got %d, want 200", code)
	}
	mobile := patient["mobile"].(string)
	spaced := url.Values{"From": {mobile[:3] + " " + mobile[3:6] + " " + mobile[6:]}, "To": {"+61255550000"}, "Body": {"83 kg"}, "MessageSid": {"SM2"}}
	if code := send(spaced, sign("tok", hook, spaced)); code != http.StatusOK {
		t.Fatalf("a second reply got %d, want 200", code)
	}
	steps = post(t, base, admin, `{ node(id: "`+en+`") { ... on Enrollment { steps { replyContent } } } }`)["node"].(map[string]any)["steps"].([]any)
	if got := steps[0].(map[string]any)["replyContent"]; got != "82.5 kg\n83 kg" {
		t.Errorf("stored replies = %q, want the first once and the second appended", got)
	}

	// The provider retries one reply several times at once: stored once.
	// Its sid is longer than the 100 characters kept; a repeat still matches.
	long := url.Values{"From": {mobile}, "To": {"+61255550000"}, "Body": {"84 kg"}, "MessageSid": {"SM" + strings.Repeat("3", 118)}}
	concurrently := func(forms ...url.Values) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		codes := make([]int, len(forms))
		for i, f := range forms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				req, _ := http.NewRequest(http.MethodPost, hook, strings.NewReader(f.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Twilio-Signature", sign("tok", hook, f))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				codes[i] = res.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		for i, c := range codes {
			if c != http.StatusOK {
				t.Errorf("concurrent delivery %d got %d, want 200", i, c)
			}
		}
	}
	concurrently(long, long, long, long, long, long, long, long)
	concurrently(long)
	replies := func() string {
		steps := post(t, base, admin, `{ node(id: "`+en+`") { ... on Enrollment { steps { replyContent } } } }`)["node"].(map[string]any)["steps"].([]any)
		got, _ := steps[0].(map[string]any)["replyContent"].(string)
		return got
	}
	if got := replies(); got != "82.5 kg\n83 kg\n84 kg" {
		t.Errorf("after concurrent retries of one reply: %q, want it stored once", got)
	}
	// Two different replies at the same moment: both are kept.
	a := url.Values{"From": {mobile}, "To": {"+61255550000"}, "Body": {"85 kg"}, "MessageSid": {"SM5"}}
	b := url.Values{"From": {mobile}, "To": {"+61255550000"}, "Body": {"86 kg"}, "MessageSid": {"SM6"}}
	concurrently(a, b)
	if got := replies(); got != "82.5 kg\n83 kg\n84 kg\n85 kg\n86 kg" && got != "82.5 kg\n83 kg\n84 kg\n86 kg\n85 kg" {
		t.Errorf("after two concurrent replies: %q, want both appended once", got)
	}
	// The provider delivers the first reply again, long after: every
	// MessageSid is remembered, not only the last, so it is not stored again.
	before := replies()
	if code := send(form, sign("tok", hook, form)); code != http.StatusOK {
		t.Fatalf("a late repeat got %d, want 200", code)
	}
	if got := replies(); got != before {
		t.Errorf("a late repeat of SM1 changed the replies to %q, want %q", got, before)
	}
}

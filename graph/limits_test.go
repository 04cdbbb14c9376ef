package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/store"
)

// withHandler adjusts the GraphQL endpoint's configuration.
func withHandler(f func(*graph.HandlerConfig)) envOption {
	return func(s *envSetup) { f(&s.cfg.Handler) }
}

// production turns introspection (and with it suggestions) off.
var production = withHandler(func(c *graph.HandlerConfig) { c.Introspection = false })

// newCountingEnvWith is newCountingEnv with options.
func newCountingEnvWith(t *testing.T, opts ...envOption) (*env, *atomic.Int64) {
	n := new(atomic.Int64)
	opts = append(opts, withRequestClient(func(db *store.DB) *ent.Client {
		return ent.NewClient(ent.Driver(countingDriver{Driver: entsql.OpenDB(string(db.Dialect), db.SQL), n: n}))
	}))
	return newEnv(t, opts...), n
}

// fromAddress returns an HTTP client whose connections come from another
// loopback address, a second client identity for the per-address limits.
func fromAddress(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// postFrom posts an operation with client c.
func (e *env) postFrom(c *http.Client, token, query string, vars map[string]any) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("posting query: %v", err)
	}
	defer res.Body.Close()
	var r response
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &r); err != nil {
		e.t.Fatalf("decoding response (status %d): %v: %s", res.StatusCode, err, raw)
	}
	r.Status = res.StatusCode
	return r
}

func aliases(n int, field func(i int) string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: %s\n", i, field(i))
	}
	return b.String()
}

// sameName writes n fields, one a line, without aliases.
func sameName(n int, field func(i int) string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s\n", field(i))
	}
	return b.String()
}

// hostileDocuments are the documents of issue 11 and their kin: each is
// refused with code (and reason, when set) before any resolver runs. The
// fuzz targets start from them.
var hostileDocuments = []struct {
	name, query, code, reason string
}{
	{"1,000 login aliases", "mutation {" + aliases(1000, func(i int) string {
		return fmt.Sprintf(`login(email: "u%d@x.test", password: "x") { __typename }`, i)
	}) + "}", "BAD_USER_INPUT", "DOCUMENT_TOO_LARGE"},
	{"20 login aliases", "mutation {" + aliases(20, func(int) string {
		return `login(email: "nurse.kim@demo.clinic", password: "x") { __typename }`
	}) + "}", "RESOURCE_EXHAUSTED", "PASSWORD_BUDGET"},
	{"login and patientLogin", `mutation { login(email: "a@x.test", password: "x") { __typename }
		patientLogin(email: "b@x.test", password: "x") { __typename } }`, "RESOURCE_EXHAUSTED", "PASSWORD_BUDGET"},
	{"two logins through fragments", `mutation { ...A ...B } fragment A on Mutation { login(email: "a@x.test", password: "x") { __typename } }
		fragment B on Mutation { b: login(email: "b@x.test", password: "x") { __typename } }`, "RESOURCE_EXHAUSTED", "PASSWORD_BUDGET"},
	{"14,000 __typename", "{ u1: __typename " + strings.Repeat("__typename ", 14000) + "}", "BAD_USER_INPUT", "DOCUMENT_TOO_LARGE"},
	{"450 same-name fields with different arguments", "{" + sameName(450, func(i int) string {
		return fmt.Sprintf("users(first: %d) { totalCount }", i)
	}) + "}", "BAD_USER_INPUT", "DOCUMENT_TOO_LARGE"},
	{"same-name different fields under merged parents", "{" + sameName(20, func(int) string {
		return "me { x: id x: email }"
	}) + "}", "BAD_USER_INPUT", "DOCUMENT_TOO_LARGE"},
	{"same-name fields with different arguments through fragments", "{" + sameName(100, func(i int) string { return fmt.Sprintf("...F%d", i) }) + "}" +
		sameName(100, func(i int) string {
			return fmt.Sprintf("fragment F%d on Query { users(first: %d) { totalCount } users(first: %d) { totalCount } }", i, 2*i, 2*i+1)
		}), "BAD_USER_INPUT", "DOCUMENT_TOO_LARGE"},
	{"many fragment spreads", "{ ...F " + strings.Repeat("...F ", 200) + "} fragment F on Query { __typename }", "BAD_USER_INPUT", "DOCUMENT_TOO_LARGE"},
	{"subscription over POST", `subscription { messageAdded { id } }`, "BAD_USER_INPUT", "STREAM_REQUIRED"},
	{"NUL in login email", "mutation { login(email: \"a\\u0000@x.test\", password: \"x\") { __typename } }", "BAD_USER_INPUT", ""},
	{"bidi override in login email", "mutation { login(email: \"a\\u202e@x.test\", password: \"x\") { __typename } }", "BAD_USER_INPUT", ""},
}

func TestHostileDocumentsAreRefusedBeforeTheyRun(t *testing.T) {
	e, n := newCountingEnvWith(t, withHandler(func(c *graph.HandlerConfig) { c.MaxBodyBytes = 1 << 20 }))
	for _, tc := range hostileDocuments {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			// Sent again, a document is refused again (a document the
			// document limits passed is not checked by them again, see
			// TestDocumentLimitsRememberOnlyWhatTheyPassed, but every
			// other check runs on every request).
			for attempt := 1; attempt <= 2; attempt++ {
				before := n.Load()
				start := time.Now()
				got := e.fails("", tc.query, nil, tc.code)
				if tc.reason != "" && got.Extensions["reason"] != tc.reason {
					t.Errorf("attempt %d: reason = %v, want %s (%q)", attempt, got.Extensions["reason"], tc.reason, got.Message)
				}
				if d := n.Load() - before; d != 0 {
					t.Errorf("attempt %d: %d statements reached the database, want none: no resolver may run", attempt, d)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("attempt %d: refusal took %v", attempt, d)
				}
			}
		})
	}
}

// The largest document accepted is cheap: a thousand selections validate
// well within a second even on a loaded test machine (bench/ measures CPU).
func TestLargestAcceptedDocumentIsCheap(t *testing.T) {
	e := newEnv(t)
	q := "{ " + aliases(99, func(int) string { return "__typename" }) + strings.Repeat("__typename ", 1000-100) + "}"
	start := time.Now()
	e.ok("", q, nil, nil)
	if d := time.Since(start); d > time.Second {
		t.Errorf("a 1,000-selection document took %v", d)
	}
}

// Validation reports at most 100 errors: a document within the limits can
// hold thousands of mistakes, each an error to build and encode.
func TestValidationErrorsAreCapped(t *testing.T) {
	e := newEnv(t, withHandler(func(c *graph.HandlerConfig) { c.MaxBodyBytes = 1 << 20 }))
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "a%d: 1 ", i)
	}
	r := e.do("", "{ users("+b.String()+") { totalCount } }", nil)
	if len(r.Errors) != 101 {
		t.Fatalf("got %d errors, want the first 100 and one saying there are more", len(r.Errors))
	}
	for _, err := range r.Errors {
		if err.Code() != "BAD_USER_INPUT" {
			t.Errorf("error %q has code %q", err.Message, err.Code())
		}
	}
	if last := r.Errors[100].Message; !strings.Contains(last, "too many validation errors") {
		t.Errorf("last error = %q", last)
	}
}

func TestTextInputIsCheckedAtTheEdge(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		want        string // "" = accepted
	}{
		{"newline and tab in a body", `mutation($c: ID!, $b: String!) { sendMessage(input: {channelID: $c, body: $b}) { id } }`,
			map[string]any{"b": "line one\n\tline two"}, ""},
		{"NUL in a body", `mutation($c: ID!, $b: String!) { sendMessage(input: {channelID: $c, body: $b}) { id } }`,
			map[string]any{"b": "a\x00b"}, "NUL"},
		{"bell in a body", `mutation($c: ID!, $b: String!) { sendMessage(input: {channelID: $c, body: $b}) { id } }`,
			map[string]any{"b": "ding\x07"}, "control character"},
		{"newline in a label name", `mutation($n: String!) { createLabel(name: $n) { id } }`,
			map[string]any{"n": "two\nlines"}, "control character"},
		{"bidi override in a label name", `mutation($n: String!) { createLabel(name: $n) { id } }`,
			map[string]any{"n": "invoice\u202Efdp.exe"}, "bidirectional"},
		{"NUL in a search", `query($s: String) { users(search: $s) { totalCount } }`,
			map[string]any{"s": "a\x00"}, "NUL"},
		{"201-character search", `query($s: String) { users(search: $s) { totalCount } }`,
			map[string]any{"s": strings.Repeat("é", 201)}, "longer than 200"},
		{"50,000-character patient search", `query($s: String) { patients(search: $s) { totalCount } }`,
			map[string]any{"s": strings.Repeat("%_", 25000)}, "longer than 200"},
		{"200-character search", `query($s: String) { users(search: $s) { totalCount } }`,
			map[string]any{"s": strings.Repeat("é", 200)}, ""},
		{"NUL in an id", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": "ch\x00"}, "NUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			kim := e.login(demo.KimEmail)
			ch := e.open(kim.AccessToken, map[string]any{"userIDs": []string{e.userID(kim.AccessToken, demo.ChenEmail)}})
			vars := map[string]any{"c": ch.ID}
			for k, v := range tc.vars {
				vars[k] = v
			}
			before := len(e.messages(kim.AccessToken, ch.ID))
			var labels struct{ Labels []struct{ ID string } }
			e.ok(kim.AccessToken, `{ labels { id } }`, nil, &labels)
			labelsBefore := len(labels.Labels)
			if tc.want == "" {
				e.ok(kim.AccessToken, tc.query, vars, nil)
				return
			}
			got := e.fails(kim.AccessToken, tc.query, vars, "BAD_USER_INPUT")
			if !strings.Contains(got.Message, tc.want) {
				t.Errorf("message %q, want it to say %q", got.Message, tc.want)
			}
			if after := len(e.messages(kim.AccessToken, ch.ID)); after != before {
				t.Errorf("%d messages after the refusal, want %d: bad input changes nothing", after, before)
			}
			e.ok(kim.AccessToken, `{ labels { id } }`, nil, &labels)
			if len(labels.Labels) != labelsBefore {
				t.Errorf("%d labels after the refusal, want %d", len(labels.Labels), labelsBefore)
			}
		})
	}
}

// rawPost posts body as it is, with a content type.
func rawPost(t *testing.T, url, contentType string, body []byte) (int, response) {
	t.Helper()
	res, err := http.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("status %d: body is not a GraphQL response: %v: %q", res.StatusCode, err, raw)
	}
	return res.StatusCode, r
}

func TestInvalidUTF8IsRefusedNotRewritten(t *testing.T) {
	e := newEnv(t)
	for name, body := range map[string][]byte{
		"raw invalid byte":   []byte("{\"query\":\"mutation { login(email: \\\"a\xff@x.test\\\", password: \\\"x\\\") { __typename } }\"}"),
		"lone surrogate":     []byte(`{"query":"{ __typename }","variables":{"x":"\ud800"}}`),
		"reversed surrogate": []byte(`{"query":"{ __typename }","variables":{"x":"\udc00\ud800"}}`),
	} {
		t.Run(name, func(t *testing.T) {
			status, r := rawPost(t, e.srv.URL+"/graphql", "application/json", body)
			if status != http.StatusBadRequest || len(r.Errors) == 0 || r.Errors[0].Code() != "BAD_USER_INPUT" {
				t.Errorf("status %d errors %+v, want 400 BAD_USER_INPUT", status, r.Errors)
			}
		})
	}
	// A surrogate pair is a valid escape.
	status, r := rawPost(t, e.srv.URL+"/graphql", "application/json", []byte(`{"query":"{ __typename }","variables":{"x":"\ud83d\ude00"}}`))
	if status != http.StatusOK || len(r.Errors) != 0 {
		t.Errorf("surrogate pair: status %d errors %+v, want 200", status, r.Errors)
	}
	// Invalid UTF-8 in GET parameters too.
	res, err := http.Get(e.srv.URL + "/graphql?query=" + url.QueryEscape("{ __typename }") + "&variables=%7B%22x%22%3A%22%FF%22%7D")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("GET with invalid UTF-8: status %d, want 400", res.StatusCode)
	}
}

func TestProductionRefusalsAreShapedAndSayNothing(t *testing.T) {
	e := newEnv(t, production)
	kim := e.login(demo.KimEmail)
	for _, tc := range []struct{ name, query, code string }{
		{"introspection", `{ __schema { types { name } } }`, "FORBIDDEN"},
		{"type introspection", `{ __type(name: "User") { name } }`, "FORBIDDEN"},
		{"unknown field", `{ me { emial } }`, "BAD_USER_INPUT"},
		{"unknown argument", `{ users(serch: "x") { totalCount } }`, "BAD_USER_INPUT"},
		{"unknown enum value", `{ patientConversations(filter: {read: UNRAED}) { totalCount } }`, "BAD_USER_INPUT"},
		{"unknown type", `query($x: Usr) { me { id } }`, "BAD_USER_INPUT"},
		{"unknown input field", `mutation { sendMessage(input: {channelId: "x", body: "y"}) { id } }`, "BAD_USER_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.with(t).do(kim.AccessToken, tc.query, nil)
			if len(r.Errors) == 0 {
				t.Fatalf("got data %s, want %s", r.Data, tc.code)
			}
			for _, er := range r.Errors {
				if er.Code() != tc.code {
					t.Errorf("code %s (%q), want %s", er.Code(), er.Message, tc.code)
				}
				if strings.Contains(er.Message, "Did you mean") {
					t.Errorf("message %q makes a suggestion in production", er.Message)
				}
			}
		})
	}

	// Every HTTP refusal has a GraphQL-shaped body with a code.
	get := func(q string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?query="+url.QueryEscape(q), nil)
		return req
	}
	put, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	put.Header.Set("Content-Type", "application/json")
	text, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{ __typename }`))
	text.Header.Set("Content-Type", "text/plain")
	big, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }","x":"`+strings.Repeat("x", 100<<10)+`"}`))
	big.Header.Set("Content-Type", "application/json")
	badVars := get("{ __typename }")
	badVars.URL.RawQuery += "&variables=%7Bnope"
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"mutation over GET", get(`mutation { logout }`), http.StatusNotAcceptable},
		{"unreadable GET variables", badVars, http.StatusBadRequest},
		{"no transport", put, http.StatusBadRequest},
		{"not JSON", text, http.StatusUnsupportedMediaType},
		{"too large", big, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := http.DefaultClient.Do(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			var r response
			if err := json.Unmarshal(raw, &r); err != nil || len(r.Errors) == 0 {
				t.Fatalf("status %d body %q: want a GraphQL response with errors (%v)", res.StatusCode, raw, err)
			}
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			if r.Errors[0].Code() == "" {
				t.Errorf("error %+v has no extensions.code", r.Errors[0])
			}
		})
	}
}

func TestKnownEmailCannotLockOutItsOwner(t *testing.T) {
	e := newEnv(t)
	attacker := fromAddress("127.0.0.2")
	var last gqlError
	for range 20 {
		r := e.postFrom(attacker, "", loginMutation, map[string]any{"e": demo.KimEmail, "p": "guess"})
		if len(r.Errors) == 0 {
			t.Fatal("a wrong password signed in")
		}
		last = r.Errors[0]
	}
	if !strings.Contains(last.Message, "too many") {
		t.Errorf("after 20 wrong passwords from one address: %q, want that address throttled", last.Message)
	}
	// The owner, on their own device, signs in at once.
	e.login(demo.KimEmail)
	// The guesser stays throttled even with the right password.
	r := e.postFrom(attacker, "", loginMutation, map[string]any{"e": demo.KimEmail, "p": demo.Password})
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "too many") {
		t.Errorf("the guessing address with the right password: %+v, want still throttled", r.Errors)
	}
}

func TestPasswordChecksPerAddressAreBounded(t *testing.T) {
	e := newEnv(t, func(s *envSetup) { s.cfg.PasswordChecksPerMinute = 5 })
	spray := fromAddress("127.0.0.3")
	for i := range 5 {
		r := e.postFrom(spray, "", loginMutation, map[string]any{"e": fmt.Sprintf("u%d@x.test", i), "p": "x"})
		if len(r.Errors) == 0 || r.Errors[0].Code() != "UNAUTHENTICATED" {
			t.Fatalf("attempt %d: %+v, want UNAUTHENTICATED", i+1, r.Errors)
		}
	}
	r := e.postFrom(spray, "", loginMutation, map[string]any{"e": "u9@x.test", "p": "x"})
	if len(r.Errors) == 0 || r.Errors[0].Code() != "RESOURCE_EXHAUSTED" {
		t.Errorf("sixth check in a minute: %+v, want RESOURCE_EXHAUSTED", r.Errors)
	}
	r = e.postFrom(spray, "", `mutation { patientLogin(email: "p@x.test", password: "x") { accessToken } }`, nil)
	if len(r.Errors) == 0 || r.Errors[0].Code() != "RESOURCE_EXHAUSTED" {
		t.Errorf("portal sign-in past the rate: %+v, want RESOURCE_EXHAUSTED", r.Errors)
	}
	// Another address is unaffected, and the rate refills with time.
	e.login(demo.KimEmail)
	e.clock.Advance(time.Minute)
	r = e.postFrom(spray, "", loginMutation, map[string]any{"e": demo.ChenEmail, "p": demo.Password})
	if len(r.Errors) != 0 {
		t.Errorf("after a minute: %+v, want a sign-in", r.Errors)
	}
}

// failingDriver fails every statement while fail is set: a database outage
// on the request path.
type failingDriver struct {
	countingDriver
	fail *atomic.Bool
}

var errOutage = errors.New("database is down")

func (d failingDriver) Query(ctx context.Context, query string, args, v any) error {
	if d.fail.Load() {
		return errOutage
	}
	return d.countingDriver.Query(ctx, query, args, v)
}

func TestFailedInitsNeverRefuseAValidToken(t *testing.T) {
	down := new(atomic.Bool)
	e := newEnv(t, withRequestClient(func(db *store.DB) *ent.Client {
		return ent.NewClient(ent.Driver(failingDriver{countingDriver{Driver: entsql.OpenDB(string(db.Dialect), db.SQL), n: new(atomic.Int64)}, down}))
	}))
	chen := e.login(demo.ChenEmail)
	for i := range 12 {
		_, err := dialWS(t, e, map[string]any{"Authorization": "Bearer nonsense"})
		want := websocket.StatusCode(4403)
		if i >= 10 {
			want = 4429
		}
		if got := websocket.CloseStatus(err); got != want {
			t.Fatalf("bad init %d: close status %d (%v), want %d", i+1, got, err, want)
		}
	}
	// A database error is not the client's failure: 4500, which clients retry.
	patel := e.login(demo.PatelEmail)
	down.Store(true)
	for range 3 {
		_, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + patel.AccessToken})
		if got := websocket.CloseStatus(err); got != 4500 {
			t.Fatalf("init during an outage: close status %d (%v), want 4500", got, err)
		}
	}
	down.Store(false)
	// From the same address, valid tokens connect at once.
	for _, tok := range []string{chen.AccessToken, patel.AccessToken} {
		if _, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + tok}); err != nil {
			t.Errorf("valid token after failed inits: %v, want connection_ack", err)
		}
	}
}

// TestExpiredTokensAreNotFailedInits: a tab reconnecting with an expired
// (or signed-out) token Whisper issued is refused with 4403 every time but
// never counted: after many of them the address still has all its failures
// left, and the first genuinely invalid credentials are refused with 4403,
// not 4429.
func TestExpiredTokensAreNotFailedInits(t *testing.T) {
	e := newEnv(t, withAccessTTL(time.Minute))
	chen := e.login(demo.ChenEmail)
	e.clock.Advance(2 * time.Minute) // Chen's token has expired
	kim := e.login(demo.KimEmail)
	e.do(kim.AccessToken, `mutation { logout }`, nil) // Kim's is signed out
	for i := range 12 {
		tok := chen.AccessToken
		if i%2 == 1 {
			tok = kim.AccessToken
		}
		_, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + tok})
		if got := websocket.CloseStatus(err); got != 4403 {
			t.Fatalf("expired or signed-out token %d: close status %d (%v), want 4403", i+1, got, err)
		}
	}
	for i := range 11 {
		_, err := dialWS(t, e, map[string]any{"Authorization": "Bearer nonsense"})
		want := websocket.StatusCode(4403)
		if i >= 10 {
			want = 4429
		}
		if got := websocket.CloseStatus(err); got != want {
			t.Fatalf("bad init %d after the expired ones: close status %d (%v), want %d (expired tokens counted as failures)", i+1, got, err, want)
		}
	}
}

// TestWebsocketFrameWithInvalidUTF8IsRefused: a frame JSON decoding would
// rewrite (invalid UTF-8, a lone surrogate) ends the socket instead.
func TestWebsocketFrameWithInvalidUTF8IsRefused(t *testing.T) {
	e := newEnv(t)
	kim := e.login(demo.KimEmail)
	for name, frame := range map[string]string{
		"invalid byte":   "{\"id\":\"1\",\"type\":\"subscribe\",\"payload\":{\"query\":\"{ users(search: \\\"\xff\\\") { totalCount } }\"}}",
		"lone surrogate": `{"id":"1","type":"subscribe","payload":{"query":"{ users(search: \"\ud800\") { totalCount } }"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + kim.AccessToken})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
				t.Fatal(err)
			}
			for {
				msg, err := c.read(5 * time.Second)
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatal("the socket stayed open after an invalid frame")
				}
				if err != nil {
					return // closed: refused
				}
				if msg["type"] == "next" {
					t.Fatalf("an invalid frame was answered: %v", msg)
				}
			}
		})
	}
	// A valid frame on a fresh socket still works.
	c, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + kim.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	c.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": `{ users(search: "é") { totalCount } }`}})
	if msg := readFor(t, c, "1"); msg["type"] != "next" {
		t.Errorf("valid frame: %v, want next", msg)
	}
}

// postForwarded posts an operation as a proxy would, with X-Forwarded-For.
func (e *env) postForwarded(forwardedFor, query string, vars map[string]any) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", forwardedFor)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("posting query: %v", err)
	}
	defer res.Body.Close()
	var r response
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &r); err != nil {
		e.t.Fatalf("decoding response (status %d): %v: %s", res.StatusCode, err, raw)
	}
	return r
}

// Behind a trusted proxy each client has its own password budget and its
// own failed sign-ins: the guesser is refused, the owner is not. Entries
// the guesser writes to the left of the proxy's do not help it.
func TestClientsBehindATrustedProxyHaveTheirOwnLimits(t *testing.T) {
	e := newEnv(t, withHandler(func(c *graph.HandlerConfig) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}), func(s *envSetup) { s.cfg.PasswordChecksPerMinute = 5 })
	guesser := func(i int) string { return fmt.Sprintf("198.51.100.%d, 203.0.113.66", i) }
	for i := range 5 {
		r := e.postForwarded(guesser(i), loginMutation, map[string]any{"e": demo.KimEmail, "p": "guess"})
		if len(r.Errors) == 0 || r.Errors[0].Code() != "UNAUTHENTICATED" {
			t.Fatalf("guess %d: %+v, want UNAUTHENTICATED", i+1, r.Errors)
		}
	}
	r := e.postForwarded(guesser(9), loginMutation, map[string]any{"e": demo.KimEmail, "p": demo.Password})
	if len(r.Errors) == 0 {
		t.Fatal("the guesser signed in after five wrong passwords by changing the forged part of X-Forwarded-For")
	}
	// The owner, behind the same proxy, signs in at once.
	r = e.postForwarded("203.0.113.7", loginMutation, map[string]any{"e": demo.KimEmail, "p": demo.Password})
	if len(r.Errors) != 0 {
		t.Errorf("the owner behind the same proxy: %+v, want a sign-in", r.Errors)
	}
}

// A peer that is not a trusted proxy chooses nothing with X-Forwarded-For.
func TestForwardedForFromAnUntrustedPeerIsIgnored(t *testing.T) {
	e := newEnv(t, withHandler(func(c *graph.HandlerConfig) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	}))
	for i := range 5 {
		r := e.postForwarded(fmt.Sprintf("203.0.113.%d", i), loginMutation, map[string]any{"e": demo.KimEmail, "p": "guess"})
		if len(r.Errors) == 0 {
			t.Fatal("a wrong password signed in")
		}
	}
	r := e.postForwarded("203.0.113.99", loginMutation, map[string]any{"e": demo.KimEmail, "p": demo.Password})
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "too many") {
		t.Errorf("after five wrong passwords, a new X-Forwarded-For: %+v, want still throttled", r.Errors)
	}
}

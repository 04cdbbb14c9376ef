package graph_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
)

// post sends a GraphQL request as a client would, with its Accept header
// and extensions, and returns the status, headers and the raw body.
func (e *env) post(accept, token string, req map[string]any) (int, http.Header, map[string]json.RawMessage) {
	e.t.Helper()
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return e.roundTrip(r)
}

func (e *env) roundTrip(r *http.Request) (int, http.Header, map[string]json.RawMessage) {
	e.t.Helper()
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("status %d, body not JSON: %s", res.StatusCode, raw)
	}
	return res.StatusCode, res.Header, out
}

// firstError decodes the first of a body's errors.
func firstError(t *testing.T, body map[string]json.RawMessage) gqlError {
	t.Helper()
	var errs []gqlError
	if err := json.Unmarshal(body["errors"], &errs); err != nil || len(errs) == 0 {
		t.Fatalf("no errors in %s", body)
	}
	return errs[0]
}

const (
	acceptJSON     = "application/json"
	acceptResponse = "application/graphql-response+json"
	acceptApollo   = "application/graphql-response+json,application/json;q=0.9"
)

// TestRequestErrorsFollowGraphQLOverHTTP: a document that does not parse or
// validate, or variables that do not coerce, never run: the answer has no
// data entry; with application/json it is 200 (the spec's recommendation),
// with application/graphql-response+json it is 400. An operation that ran
// keeps its data entry, even null.
func TestRequestErrorsFollowGraphQLOverHTTP(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		req  map[string]any
	}{
		{"parse", map[string]any{"query": "{"}},
		{"validation", map[string]any{"query": "{ noSuchField }"}},
		{"coercion", map[string]any{"query": "query($id: ID!) { node(id: $id) { id } }", "variables": map[string]any{"id": []int{1}}}},
	} {
		for accept, want := range map[string]int{acceptJSON: 200, acceptResponse: 400, acceptApollo: 400} {
			status, h, body := e.post(accept, "", tc.req)
			if status != want {
				t.Errorf("%s failure, Accept %s: status %d, want %d", tc.name, accept, status, want)
			}
			if _, ok := body["data"]; ok {
				t.Errorf("%s failure, Accept %s: a data entry (%s) for an operation that never ran", tc.name, accept, body["data"])
			}
			if wantCT := strings.Split(accept, ",")[0]; !strings.HasPrefix(h.Get("Content-Type"), wantCT) {
				t.Errorf("%s failure, Accept %s: Content-Type %q", tc.name, accept, h.Get("Content-Type"))
			}
			if code := firstError(t, body).Code(); code != "BAD_USER_INPUT" {
				t.Errorf("%s failure: code %s, want BAD_USER_INPUT", tc.name, code)
			}
		}
	}
	// An operation that ran and failed keeps data (null) and 200.
	status, _, body := e.post(acceptResponse, "", map[string]any{"query": "{ me { id } }"})
	if status != 200 || string(body["data"]) != "null" || firstError(t, body).Code() != "UNAUTHENTICATED" {
		t.Errorf("anonymous me: status %d body %s, want 200 with data null and UNAUTHENTICATED", status, body)
	}
}

// TestRefusedCredentialsSayWhy: a token that cannot be used is a GraphQL
// error a client can read (Apollo's error link): UNAUTHENTICATED with the
// reason, in the media type the client asked for, with 401.
func TestRefusedCredentialsSayWhy(t *testing.T) {
	e := newEnv(t, withAccessTTL(time.Minute))
	expired := e.login(demo.ChenEmail)
	e.clock.Advance(2 * time.Minute)
	admin := e.login(demo.AdminEmail)
	revoked := e.login(demo.PatelEmail)
	e.ok(revoked.AccessToken, `mutation { logout }`, nil, nil)
	kim := e.login(demo.KimEmail)
	var kimID struct{ Me struct{ ID string } }
	e.ok(kim.AccessToken, `{ me { id } }`, nil, &kimID)
	e.ok(admin.AccessToken, `mutation($id: ID!) { deactivateUser(id: $id) { id } }`, map[string]any{"id": kimID.Me.ID}, nil)
	fresh := admin

	for _, tc := range []struct {
		name, header, reason string
	}{
		{"expired", "Bearer " + expired.AccessToken, "TOKEN_EXPIRED"},
		{"garbage", "Bearer not-a-token", "TOKEN_INVALID"},
		{"not bearer", "Basic dXNlcjpwYXNz", "TOKEN_INVALID"},
		{"signed out", "Bearer " + revoked.AccessToken, "SESSION_REVOKED"},
		{"deactivated", "Bearer " + kim.AccessToken, "USER_DEACTIVATED"},
	} {
		for _, accept := range []string{acceptApollo, acceptJSON} {
			r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", accept)
			r.Header.Set("Authorization", tc.header)
			status, h, body := e.roundTrip(r)
			got := firstError(t, body)
			if status != 401 || got.Code() != "UNAUTHENTICATED" || got.Extensions["reason"] != tc.reason {
				t.Errorf("%s, Accept %s: status %d error %+v, want 401 UNAUTHENTICATED / %s", tc.name, accept, status, got, tc.reason)
			}
			if _, ok := body["data"]; ok {
				t.Errorf("%s: a data entry for a refused request", tc.name)
			}
			if wantCT := strings.Split(accept, ",")[0]; !strings.HasPrefix(h.Get("Content-Type"), wantCT) {
				t.Errorf("%s, Accept %s: Content-Type %q", tc.name, accept, h.Get("Content-Type"))
			}
		}
	}
	if status, _, body := e.post(acceptApollo, fresh.AccessToken, map[string]any{"query": "{ me { id } }"}); status != 200 || body["errors"] != nil {
		t.Errorf("a valid token: status %d body %s", status, body)
	}

	// A websocket refused at connection_init says the same in its close.
	_, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + expired.AccessToken})
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4403 || ce.Reason != "TOKEN_EXPIRED" {
		t.Errorf("websocket with an expired token: %v, want close 4403 TOKEN_EXPIRED", err)
	}
}

// TestSignInIgnoresAStaleAuthorizationHeader: a client that still sends
// its expired (or any) token — a staff member's or a portal patient's — can
// sign in, refresh (staff and portal alike), redeem a link and ask for a
// reset; an operation that also asks for anything else is refused.
func TestSignInIgnoresAStaleAuthorizationHeader(t *testing.T) {
	e := newEnv(t, withAccessTTL(time.Minute))
	chen := e.login(demo.ChenEmail)
	olivia, _ := e.portalLogin(demo.PortalEmails[0])
	e.clock.Advance(2 * time.Minute)
	for _, tok := range []string{chen.AccessToken, olivia} {
		if err := e.fails(tok, `{ patientConversations { totalCount } }`, nil, "UNAUTHENTICATED"); err.Extensions["reason"] != "TOKEN_EXPIRED" {
			t.Fatalf("a token past its lifetime answers %+v, want TOKEN_EXPIRED", err)
		}
	}
	for _, header := range []string{"Bearer " + chen.AccessToken, "Bearer " + olivia, "Bearer nonsense", "Basic x"} {
		call := func(query string, vars map[string]any) (int, map[string]json.RawMessage) {
			body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
			r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", acceptApollo)
			r.Header.Set("Authorization", header)
			status, _, out := e.roundTrip(r)
			return status, out
		}
		status, body := call(`mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken user { email } } }`,
			map[string]any{"e": demo.PatelEmail, "p": demo.Password})
		var login struct {
			Login struct {
				AccessToken, RefreshToken string
				User                      struct{ Email string }
			}
		}
		_ = json.Unmarshal(body["data"], &login)
		if status != 200 || body["errors"] != nil || login.Login.User.Email != demo.PatelEmail {
			t.Fatalf("login with header %q: status %d body %s", header, status, body)
		}
		status, body = call(`mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }`, map[string]any{"r": login.Login.RefreshToken})
		if status != 200 || body["errors"] != nil {
			t.Errorf("refreshSession with header %q: status %d body %s", header, status, body)
		}
		// The portal's sign-in and refresh alike.
		status, body = call(`mutation($e: String!, $p: String!) { patientLogin(email: $e, password: $p) { refreshToken patient { patientNumber } } }`,
			map[string]any{"e": demo.PortalEmails[0], "p": demo.Password})
		var portal struct {
			PatientLogin struct {
				RefreshToken string
				Patient      struct{ PatientNumber string }
			}
		}
		_ = json.Unmarshal(body["data"], &portal)
		if status != 200 || body["errors"] != nil || portal.PatientLogin.Patient.PatientNumber != "P0001" {
			t.Fatalf("patientLogin with header %q: status %d body %s", header, status, body)
		}
		status, body = call(`mutation($r: String!) { patientRefreshSession(refreshToken: $r) { accessToken patient { patientNumber } } }`,
			map[string]any{"r": portal.PatientLogin.RefreshToken})
		if status != 200 || body["errors"] != nil || !strings.Contains(string(body["data"]), "P0001") {
			t.Errorf("patientRefreshSession with header %q: status %d body %s", header, status, body)
		}
		status, body = call(`mutation { requestPasswordReset(email: "nobody@demo.clinic") }`, nil)
		if status != 200 || body["errors"] != nil {
			t.Errorf("requestPasswordReset with header %q: status %d body %s", header, status, body)
		}
		status, body = call(`mutation { resetPassword(token: "not-a-link", password: "long enough password") { accessToken } }`, nil)
		if status != 200 || firstError(t, body).Code() != "BAD_USER_INPUT" {
			t.Errorf("resetPassword with header %q: status %d body %s, want the link's own BAD_USER_INPUT", header, status, body)
		}
		// Asking for more than signing in: the header counts.
		status, body = call(`mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } logout }`,
			map[string]any{"e": demo.PatelEmail, "p": demo.Password})
		if status != 401 || firstError(t, body).Code() != "UNAUTHENTICATED" {
			t.Errorf("login plus logout with header %q: status %d body %s, want 401", header, status, body)
		}
		status, body = call(`mutation($e: String!, $p: String!) { patientLogin(email: $e, password: $p) { accessToken } logout }`,
			map[string]any{"e": demo.PortalEmails[0], "p": demo.Password})
		if status != 401 || firstError(t, body).Code() != "UNAUTHENTICATED" {
			t.Errorf("patientLogin plus logout with header %q: status %d body %s, want 401", header, status, body)
		}
	}
	// A valid token of someone else: login acts as the person signing in.
	patel := e.login(demo.PatelEmail)
	var out struct {
		Login struct{ User struct{ Email string } }
	}
	e.ok(patel.AccessToken, `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { user { email } } }`,
		map[string]any{"e": demo.KimEmail, "p": demo.Password}, &out)
	if out.Login.User.Email != demo.KimEmail {
		t.Errorf("login as Kim with Patel's token returned %q", out.Login.User.Email)
	}
}

func sha(q string) string {
	s := sha256.Sum256([]byte(q))
	return hex.EncodeToString(s[:])
}

// TestAutomaticPersistedQueries: Apollo's persisted-query link first sends
// the hash alone; a miss is PERSISTED_QUERY_NOT_FOUND, and the query sent
// once with its hash is then found by hash, over POST and GET.
func TestAutomaticPersistedQueries(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	query := `query Me { me { email } }`
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha(query)}}

	status, _, body := e.post(acceptApollo, chen.AccessToken, map[string]any{"extensions": ext})
	if got := firstError(t, body); got.Code() != "PERSISTED_QUERY_NOT_FOUND" || got.Message != "PersistedQueryNotFound" {
		t.Fatalf("unknown hash: status %d error %+v, want PERSISTED_QUERY_NOT_FOUND", status, got)
	}
	status, _, body = e.post(acceptApollo, chen.AccessToken, map[string]any{"query": query, "extensions": ext})
	if status != 200 || !strings.Contains(string(body["data"]), demo.ChenEmail) {
		t.Fatalf("query with its hash: status %d body %s", status, body)
	}
	status, _, body = e.post(acceptApollo, chen.AccessToken, map[string]any{"extensions": ext})
	if status != 200 || !strings.Contains(string(body["data"]), demo.ChenEmail) {
		t.Errorf("hash alone over POST: status %d body %s", status, body)
	}
	extJSON, _ := json.Marshal(ext)
	r, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?operationName=Me&extensions="+url.QueryEscape(string(extJSON)), nil)
	r.Header.Set("Accept", acceptApollo)
	r.Header.Set("Authorization", "Bearer "+chen.AccessToken)
	if status, _, body := e.roundTrip(r); status != 200 || !strings.Contains(string(body["data"]), demo.ChenEmail) {
		t.Errorf("hash alone over GET: status %d body %s", status, body)
	}
	// A hash that does not match the query is refused, not stored.
	bad := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha("{ __typename }")}}
	if _, _, body := e.post(acceptApollo, chen.AccessToken, map[string]any{"query": query, "extensions": bad}); body["errors"] == nil {
		t.Errorf("a hash of another query was accepted: %s", body)
	}
}

// sseStream is one GraphQL subscription over server-sent events, read as
// graphql-sse's distinct connections mode reads it.
type sseStream struct {
	t      *testing.T
	events chan sseEvent
}

type sseEvent struct {
	name string
	data map[string]any
}

// sse subscribes over server-sent events with a bearer token and returns
// once the live stream is registered.
func (e *env) sse(t *testing.T, token, query string, vars map[string]any) *sseStream {
	t.Helper()
	ready := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := live.OnReady(r.Context(), func() {
			select {
			case ready <- struct{}{}:
			default:
			}
		})
		e.gql.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("subscribing over SSE: status %d, Content-Type %q", res.StatusCode, ct)
	}
	s := &sseStream{t: t, events: make(chan sseEvent, 64)}
	go func() {
		defer res.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data)
			case line == "" && ev.name != "":
				s.events <- ev
				ev = sseEvent{}
			}
		}
	}()
	select {
	case <-ready:
	case ev := <-s.events:
		t.Fatalf("the SSE stream was not registered; it said %s %v", ev.name, ev.data)
	case <-time.After(10 * time.Second):
		t.Fatal("the SSE stream was not registered within 10 s")
	}
	return s
}

// next returns the next event, or fails after timeout.
func (s *sseStream) next(timeout time.Duration) sseEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("the SSE stream ended")
		}
		return ev
	case <-time.After(timeout):
		s.t.Fatalf("no SSE event within %v", timeout)
	}
	return sseEvent{}
}

// ending reads the stream's last event (an error) and its complete.
func (s *sseStream) ending(t *testing.T) (code, reason string) {
	t.Helper()
	ev := s.next(10 * time.Second)
	errs, _ := ev.data["errors"].([]any)
	if ev.name != "next" || len(errs) == 0 {
		t.Fatalf("the stream ended with %s %v, want a next event with errors", ev.name, ev.data)
	}
	ext, _ := errs[0].(map[string]any)["extensions"].(map[string]any)
	code, _ = ext["code"].(string)
	reason, _ = ext["reason"].(string)
	if ev := s.next(5 * time.Second); ev.name != "complete" {
		t.Errorf("after the error: %s %v, want complete", ev.name, ev.data)
	}
	return code, reason
}

// TestSubscriptionOverServerSentEvents: graphql-sse's distinct connections
// mode — a POST with Accept: text/event-stream and the Authorization header
// — delivers messageAdded as next events, authorised per event, and ends
// like a websocket: an error with the reason, then complete.
func TestSubscriptionOverServerSentEvents(t *testing.T) {
	e := newEnv(t, withAccessTTL(3*time.Second))
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	patelSub := e.sse(t, patel.AccessToken, messageAdded, nil)
	kimSub := e.sse(t, kim.AccessToken, messageAdded, nil)
	start := time.Now()
	e.send(chen.AccessToken, ch.ID, "over SSE", nil)
	ev := patelSub.next(5 * time.Second)
	if ev.name != "next" || !strings.Contains(mustJSON(ev.data), `"over SSE"`) {
		t.Fatalf("Patel got %s %v, want the message", ev.name, ev.data)
	}
	// The token runs out: the stream ends with TOKEN_EXPIRED, then complete.
	if code, reason := patelSub.ending(t); code != "UNAUTHENTICATED" || reason != "TOKEN_EXPIRED" {
		t.Errorf("the expired stream ended with %s / %s, want UNAUTHENTICATED / TOKEN_EXPIRED", code, reason)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the stream ended %v after a 3 s token", d)
	}
	// Kim is not in the channel: she got nothing but her own ending.
	if code, reason := kimSub.ending(t); reason != "TOKEN_EXPIRED" {
		t.Errorf("Kim's stream ended with %s / %s, want TOKEN_EXPIRED (and no message)", code, reason)
	}
}

// TestServerSentEventsEndOnShutdownRevocationAndCountAsSockets: SSE streams count
// among their principal's sockets; signing out ends a session's streams
// with SESSION_REVOKED, and draining ends them with UNAVAILABLE /
// SERVER_SHUTDOWN (resume with after:).
func TestServerSentEventsEndOnShutdownRevocationAndCountAsSockets(t *testing.T) {
	e := newEnv(t, withHandler(func(c *graph.HandlerConfig) { c.MaxSocketsPerUser = 1 }))
	chen := e.login(demo.ChenEmail)
	first := e.sse(t, chen.AccessToken, messageAdded, nil)

	// A second stream of the same principal is past the limit.
	body, _ := json.Marshal(map[string]any{"query": messageAdded})
	r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "text/event-stream")
	r.Header.Set("Authorization", "Bearer "+chen.AccessToken)
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(raw), "TOO_MANY_SOCKETS") || !strings.Contains(string(raw), "RESOURCE_EXHAUSTED") {
		t.Errorf("a second stream past the limit of 1: %s, want RESOURCE_EXHAUSTED / TOO_MANY_SOCKETS", raw)
	}

	// Signing out ends the session's streams: sign in again.
	patel := e.login(demo.PatelEmail)
	patelSub := e.sse(t, patel.AccessToken, messageAdded, nil)
	e.ok(patel.AccessToken, `mutation { logout }`, nil, nil)
	if code, reason := patelSub.ending(t); code != "UNAUTHENTICATED" || reason != "SESSION_REVOKED" {
		t.Errorf("signing out ended the stream with %s / %s, want UNAUTHENTICATED / SESSION_REVOKED", code, reason)
	}

	go e.gql.Drain(context.Background())
	if code, reason := first.ending(t); code != "UNAVAILABLE" || reason != "SERVER_SHUTDOWN" {
		t.Errorf("draining ended the stream with %s / %s, want UNAVAILABLE / SERVER_SHUTDOWN", code, reason)
	}
}

// A graphql-sse client that subscribes without a token is told to sign in
// (UNAUTHENTICATED), not that subscriptions need a websocket.
func TestServerSentEventsWithoutATokenAskForOne(t *testing.T) {
	e := newEnv(t)
	body, _ := json.Marshal(map[string]any{"query": messageAdded})
	r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(raw), `"UNAUTHENTICATED"`) || strings.Contains(string(raw), "websockets") {
		t.Errorf("an SSE subscription without a token answered %s, want UNAUTHENTICATED", raw)
	}
}

// A query sent over server-sent events (graphql-sse lets any operation use
// them) is bounded by the operation timeout like one over plain HTTP: here
// a timeout that has passed before any resolver runs.
func TestQueriesOverServerSentEventsAreBounded(t *testing.T) {
	e := newEnv(t, withHandler(func(c *graph.HandlerConfig) { c.OperationTimeout = time.Nanosecond }))
	// Signed in directly: the login mutation is bounded too.
	chen, err := e.auth.Login(context.Background(), demo.ChenEmail, demo.Password, auth.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	const query = `{ channels(first: 1) { totalCount } }`
	for _, accept := range []string{"application/json", "text/event-stream"} {
		body, _ := json.Marshal(map[string]any{"query": query})
		r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", accept)
		r.Header.Set("Authorization", "Bearer "+chen.AccessToken)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(raw), "took too long") || strings.Contains(string(raw), `"totalCount"`) {
			t.Errorf("a query past the operation timeout, Accept: %s, answered %s; want an error saying it took too long", accept, raw)
		}
	}
}

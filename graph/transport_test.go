package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/demo"
)

func TestQueryLimits(t *testing.T) {
	e := newEnv(t)
	kim := e.login(demo.KimEmail)
	cases := []struct {
		name, query, want string
	}{
		{"too deep", `{ me { securityGroups { members { securityGroups { members { securityGroups { members { securityGroups { name } } } } } } } } }`, "nested too deeply"},
		{"too costly", `{ users(first: 100) { edges { node { securityGroups { members { email } } } } } }`, "too complex"},
		{"default page counts", `{ a: users { edges { node { securityGroups { members { email securityGroups { name } } } } } } }`, "too complex"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			got := e.fails(kim.AccessToken, tc.query, nil, "BAD_USER_INPUT")
			if !strings.Contains(got.Message, tc.want) {
				t.Errorf("message %q, want it to say %q", got.Message, tc.want)
			}
		})
	}
	// A reasonable page passes.
	e.ok(kim.AccessToken, `{ users(first: 20) { edges { node { email securityGroups { name } } } } }`, nil, nil)
}

func TestBadInputIsBadUserInput(t *testing.T) {
	e := newEnv(t)
	kim := e.login(demo.KimEmail)
	for name, q := range map[string]string{
		"syntax":         `{ me { id `,
		"unknown field":  `{ me { shoeSize } }`,
		"negative first": `{ users(first: -1) { totalCount } }`,
		"bad cursor":     `{ users(after: "!!!") { totalCount } }`,
	} {
		t.Run(name, func(t *testing.T) {
			e.with(t).fails(kim.AccessToken, q, nil, "BAD_USER_INPUT")
		})
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	big := `{"query":"{ me { id } }","variables":{"pad":"` + strings.Repeat("x", 100<<10) + `"}}`
	res, err := http.Post(e.srv.URL+"/graphql", "application/json", bytes.NewBufferString(big))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode < 400 {
		t.Errorf("a 100 KiB body against a 64 KiB limit got status %d, want an error", res.StatusCode)
	}
}

// wsClient speaks graphql-transport-ws over a real websocket. A reader
// goroutine owns the connection's reads (a timed-out read would close a
// coder/websocket connection), so tests can wait for "nothing" safely.
type wsClient struct {
	t     *testing.T
	conn  *websocket.Conn
	inbox chan wsRead
}

type wsRead struct {
	msg []byte
	err error
}

func newWSClient(t *testing.T, conn *websocket.Conn) *wsClient {
	c := &wsClient{t: t, conn: conn, inbox: make(chan wsRead, 1024)}
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			c.inbox <- wsRead{b, err}
			if err != nil {
				return
			}
		}
	}()
	return c
}

func dialWS(t *testing.T, e *env, init map[string]any) (*wsClient, error) {
	t.Helper()
	return dialURL(t, e.srv.URL+"/graphql", init)
}

// dialURL opens a graphql-transport-ws socket to the endpoint at base (an
// http URL) and sends connection_init with init.
func dialURL(t *testing.T, base string, init map[string]any) (*wsClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(base, "http")
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dialing websocket: %v", err)
	}
	c := newWSClient(t, conn)
	t.Cleanup(func() { conn.CloseNow() })
	c.send(map[string]any{"type": "connection_init", "payload": init})
	msg, err := c.read(5 * time.Second)
	if err != nil {
		return c, err
	}
	if msg["type"] != "connection_ack" {
		t.Fatalf("after connection_init got %v, want connection_ack", msg)
	}
	return c, nil
}

func (c *wsClient) send(m map[string]any) {
	b, _ := json.Marshal(m)
	if err := c.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("writing websocket: %v", err)
	}
}

// read returns the next message that is not a ping or keep-alive.
func (c *wsClient) read(timeout time.Duration) (map[string]any, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		var r wsRead
		select {
		case r = <-c.inbox:
		case <-timer.C:
			return nil, context.DeadlineExceeded
		}
		if r.err != nil {
			// Keep reporting the end to later reads.
			c.inbox <- r
			return nil, r.err
		}
		b := r.msg
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		switch m["type"] {
		case "ping":
			c.send(map[string]any{"type": "pong"})
		case "pong", "ka":
		default:
			return m, nil
		}
	}
}

func TestWebsocketAuthenticatesInConnectionInit(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	c, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + chen.AccessToken})
	if err != nil {
		t.Fatalf("connection_init with a good token: %v", err)
	}
	c.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "{ me { email } }"}})
	msg, err := c.read(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msg["type"] != "next" || !strings.Contains(mustJSON(msg["payload"]), demo.ChenEmail) {
		t.Fatalf("got %v, want next with Dr Chen's email", msg)
	}

	for name, init := range map[string]map[string]any{
		"no token":      nil,
		"bad token":     {"Authorization": "Bearer nonsense"},
		"revoked token": {"Authorization": "Bearer " + loggedOut(t, e)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := dialWS(t, e, init)
			if got := websocket.CloseStatus(err); got != 4403 {
				t.Errorf("close status %d (%v), want 4403", got, err)
			}
		})
	}
}

func TestWebsocketClosesOnLogout(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	c, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + chen.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	e.ok(chen.AccessToken, `mutation { logout }`, nil, nil)
	if _, err := c.read(5 * time.Second); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("socket still open after logout (read: %v)", err)
	}
}

func TestWebsocketClosesOnDrain(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	c, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + chen.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	// Shutting down drains sockets (clients reconnect to another replica).
	go e.gql.Drain(context.Background())
	if _, err := c.read(5 * time.Second); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("socket still open after drain (read: %v)", err)
	}
}

func loggedOut(t *testing.T, e *env) string {
	tok := e.login(demo.PatelEmail)
	e.ok(tok.AccessToken, `mutation { logout }`, nil, nil)
	return tok.AccessToken
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestMalformedBodyIsNotEchoed(t *testing.T) {
	e := newEnv(t)
	res, err := http.Post(e.srv.URL+"/graphql", "application/json",
		strings.NewReader(`{"query": "{ me { id } }", "variables": {"note": "Mrs Brown, DOB 1984-03-12"`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(res.Body)
	if strings.Contains(buf.String(), "Brown") {
		t.Errorf("the error echoes the request body: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "BAD_USER_INPUT") {
		t.Errorf("response %s, want a BAD_USER_INPUT error", buf.String())
	}
}

func TestLegacyGraphQLWSProtocol(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	c := newWSClient(t, conn)
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + chen.AccessToken}})
	if msg, err := c.read(5 * time.Second); err != nil || msg["type"] != "connection_ack" {
		t.Fatalf("legacy init: %v %v, want connection_ack", msg, err)
	}
	c.send(map[string]any{"id": "1", "type": "start", "payload": map[string]any{"query": "{ me { email } }"}})
	msg, err := c.read(5 * time.Second)
	if err != nil || msg["type"] != "data" || !strings.Contains(mustJSON(msg["payload"]), demo.ChenEmail) {
		t.Fatalf("legacy query: %v %v, want data with Dr Chen's email", msg, err)
	}
}

func TestGraphQLOverGET(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	get := func(query string) (int, response) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/graphql?query="+url.QueryEscape(query), nil)
		req.Header.Set("Authorization", "Bearer "+chen.AccessToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r response
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
			t.Fatalf("decoding GET response (status %d): %v", res.StatusCode, err)
		}
		return res.StatusCode, r
	}
	status, r := get(`{ me { email } }`)
	if status != http.StatusOK || len(r.Errors) > 0 || !strings.Contains(string(r.Data), demo.ChenEmail) {
		t.Fatalf("GET query: status %d data %s errors %+v, want Dr Chen's email", status, r.Data, r.Errors)
	}
	// A GET (a link, an image tag) never changes anything.
	_, r = get(`mutation { logout }`)
	if len(r.Errors) == 0 {
		t.Errorf("mutation over GET answered %s, want it refused", r.Data)
	}
	e.ok(chen.AccessToken, `{ me { id } }`, nil, nil)
}

func TestResolverPanicIsInternalAndDoesNotLeak(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	// A resolver whose messenger is missing panics on a nil pointer.
	h := graph.NewHandler(&graph.Resolver{Client: e.db.Client, Auth: e.auth, Log: log}, graph.HandlerConfig{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := `{"query":"{ channels { totalCount } }"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+chen.AccessToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	if len(r.Errors) == 0 || r.Errors[0].Code() != "INTERNAL" || r.Errors[0].Message != "internal error" {
		t.Fatalf("panicking resolver answered %s, want one INTERNAL \"internal error\"", raw)
	}
	for _, leak := range []string{"runtime", "nil pointer", "goroutine", ".go:"} {
		if strings.Contains(string(raw), leak) {
			t.Errorf("response leaks %q: %s", leak, raw)
		}
	}
	mu.Lock()
	logged := logs.String()
	mu.Unlock()
	if !strings.Contains(logged, "panic in resolver") || !strings.Contains(logged, "stack=") {
		t.Errorf("panic not logged with its stack: %s", logged)
	}
	// The server lives on.
	e.ok(chen.AccessToken, `{ me { id } }`, nil, nil)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestWebsocketFromAnotherOriginIsRefused(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/graphql"
	dial := func(origin string) (*websocket.Conn, *http.Response, error) {
		return websocket.Dial(ctx, wsURL, &websocket.DialOptions{
			Subprotocols: []string{"graphql-transport-ws"},
			HTTPHeader:   http.Header{"Origin": {origin}},
		})
	}
	conn, res, err := dial("https://evil.example")
	if err == nil {
		conn.CloseNow()
		t.Fatalf("websocket from https://evil.example was accepted, want it refused")
	}
	if res == nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("websocket from another origin: %v, want 403", err)
	}
	// The page's own origin may connect.
	conn, _, err = dial(e.srv.URL)
	if err != nil {
		t.Fatalf("websocket from the same origin: %v", err)
	}
	conn.CloseNow()
}

func TestRepeatedFailedConnectionInitIsThrottled(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	for i := 0; i < 10; i++ {
		_, err := dialWS(t, e, map[string]any{"Authorization": "Bearer nonsense"})
		if got := websocket.CloseStatus(err); got != 4403 {
			t.Fatalf("bad init %d: close status %d (%v), want 4403", i+1, got, err)
		}
	}
	// Further bad inits from the address are refused as throttled; a good
	// token from it still connects (see TestFailedInitsNeverRefuseAValidToken).
	_, err := dialWS(t, e, map[string]any{"Authorization": "Bearer nonsense"})
	if got := websocket.CloseStatus(err); got != 4429 {
		t.Errorf("bad init after 10 failures: close status %d (%v), want 4429", got, err)
	}
	if _, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + chen.AccessToken}); err != nil {
		t.Errorf("good init after 10 failures: %v, want connection_ack", err)
	}
}

// TestWebsocketPingsAndDropsSilentClients: the server pings every
// graphql-transport-ws socket each PingInterval (one goroutine for all the
// handler's sockets, not one per socket); a client that answers stays open
// however many pings pass, one that never answers is closed after two
// intervals of silence.
func TestWebsocketPingsAndDropsSilentClients(t *testing.T) {
	e := newEnv(t, func(s *envSetup) { s.cfg.Handler.PingInterval = 50 * time.Millisecond })
	token := e.login(demo.ChenEmail).AccessToken
	init := map[string]any{"Authorization": "Bearer " + token}

	// nextType reads the next message of c's raw inbox and returns its
	// type ("" once the socket is closed).
	nextType := func(c *wsClient) string {
		t.Helper()
		select {
		case r := <-c.inbox:
			if r.err != nil {
				return ""
			}
			var m map[string]any
			if err := json.Unmarshal(r.msg, &m); err != nil {
				t.Fatal(err)
			}
			typ, _ := m["type"].(string)
			return typ
		case <-time.After(10 * time.Second):
			t.Fatal("no message and no close within 10 s")
			return ""
		}
	}

	answering, err := dialWS(t, e, init)
	if err != nil {
		t.Fatal(err)
	}
	silent, err := dialWS(t, e, init)
	if err != nil {
		t.Fatal(err)
	}
	// The answering client pongs each ping; ten pings are five times the
	// silence the server allows.
	for pings := 0; pings < 10; {
		switch typ := nextType(answering); typ {
		case "ping":
			pings++
			answering.send(map[string]any{"type": "pong"})
		case "":
			t.Fatalf("a client answering every ping was closed after %d pings", pings)
		}
	}
	// The silent one has been closed meanwhile.
	pings := 0
	for typ := nextType(silent); typ != ""; typ = nextType(silent) {
		if typ == "ping" {
			pings++
		}
	}
	if pings == 0 {
		t.Error("the silent client was closed without a ping")
	}
	// And the answering one still serves.
	answering.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "{ me { email } }"}})
	msg, err := answering.read(5 * time.Second)
	if err != nil || msg["type"] != "next" {
		t.Fatalf("after the pings: %v, %v; want next", msg, err)
	}
}

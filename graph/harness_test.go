package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/app"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/directory"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/outreach"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/settings"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a real Whisper GraphQL endpoint over a fresh database holding the
// demo practice, wired by internal/app as the server wires it.
type env struct {
	t      testing.TB
	db     *store.DB
	auth   *auth.Service
	dir    *directory.Service
	clock  *clock
	srv    *httptest.Server
	gql    *graph.Handler
	engine *outreach.Engine
	// nudges is the portal nudge worker, stepped by the tests (RunOnce).
	nudges *messenger.Nudges
	// bus is the event bus: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite.
	bus pubsub.Bus
	// url is the test database's DATABASE_URL.
	url string
}

// envOption adjusts the environment newEnv builds.
type envOption func(*envSetup)

// envSetup is what the options adjust: the app's configuration, and a
// client for the request path built over the test database.
type envSetup struct {
	cfg  app.Config
	wrap func(*store.DB) *ent.Client
}

// withAccessTTL sets the access-token lifetime.
func withAccessTTL(d time.Duration) envOption {
	return func(s *envSetup) { s.cfg.AccessTokenTTL = d }
}

// withRefreshTTL sets the idle session lifetime.
func withRefreshTTL(d time.Duration) envOption {
	return func(s *envSetup) { s.cfg.RefreshTokenTTL = d }
}

// withPoll sets the live hub's safety-net poll interval: a long one proves
// a delivery did not depend on it.
func withPoll(d time.Duration) envOption {
	return func(s *envSetup) { s.cfg.PollInterval = d }
}

// withRequestClient serves the request path (resolvers, auth, messenger)
// with the client wrap returns over the test database.
func withRequestClient(wrap func(*store.DB) *ent.Client) envOption {
	return func(s *envSetup) { s.wrap = wrap }
}

// newEnv builds the environment: the demo practice, the app's services and
// workers over a test clock, and the GraphQL endpoint on a local server.
// The Patient Connect engine and the outbox are not run in the background:
// the tests step them with their clock (e.engine.RunDue, outbox.RunOnce).
func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	url := testdb.MigratedURL(t)
	db := testdb.OpenURL(t, url)
	ctx := context.Background()
	if _, err := demo.Load(ctx, db.Client, time.Now()); err != nil {
		t.Fatalf("loading demo: %v", err)
	}
	clk := &clock{t: time.Now()}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	setup := envSetup{cfg: app.Config{
		TokenSecret:      bytes.Repeat([]byte("k"), 32),
		Practice:         settings.Practice{Name: "Harbourside Medical Centre", Phone: "(02) 9000 0000"},
		PollInterval:     200 * time.Millisecond,
		ReminderInterval: 50 * time.Millisecond,
		EngineInterval:   -1,
		OutboxInterval:   -1,
		NudgeInterval:    -1,
		Now:              clk.Now,
		Handler: graph.HandlerConfig{
			Introspection: true,
			MaxDepth:      8,
			MaxComplexity: 5000,
			MaxBodyBytes:  64 << 10,
			InitTimeout:   2 * time.Second,
		},
	}}
	for _, o := range opts {
		o(&setup)
	}
	if setup.wrap != nil {
		setup.cfg.RequestClient = setup.wrap(db)
	}
	// On PostgreSQL the live tests run over the same LISTEN/NOTIFY bus as
	// the server, so its delivery and reconnect paths are what they prove.
	bus, err := app.OpenBus(db, url, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	a, err := app.New(db, bus, setup.cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	mux := http.NewServeMux()
	mux.Handle("/graphql", a.Handler)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, db: db, auth: a.Auth, dir: a.Directory, clock: clk, srv: srv, gql: a.Handler, engine: a.Engine, nudges: a.Nudges, bus: bus, url: url}
}

// gqlError is one entry of a GraphQL response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) Code() string { s, _ := e.Extensions["code"].(string); return s }

type response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// do posts a GraphQL operation with an optional bearer token.
func (e *env) do(token, query string, vars map[string]any) response {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
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
	r.Status = res.StatusCode
	return r
}

// ok runs an operation that must succeed and decodes its data into out.
func (e *env) ok(token, query string, vars map[string]any, out any) {
	e.t.Helper()
	r := e.do(token, query, vars)
	if len(r.Errors) > 0 {
		e.t.Fatalf("unexpected errors: %+v", r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			e.t.Fatalf("decoding data: %v", err)
		}
	}
}

// fails runs an operation that must fail with code and returns the error.
func (e *env) fails(token, query string, vars map[string]any, code string) gqlError {
	e.t.Helper()
	r := e.do(token, query, vars)
	if len(r.Errors) == 0 {
		e.t.Fatalf("got data %s, want a %s error", r.Data, code)
	}
	if got := r.Errors[0].Code(); got != code {
		e.t.Fatalf("got error code %s (%q), want %s", got, r.Errors[0].Message, code)
	}
	return r.Errors[0]
}

type tokens struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	User         struct {
		ID string `json:"id"`
	} `json:"user"`
}

const loginMutation = `mutation($e: String!, $p: String!) {
  login(email: $e, password: $p) { accessToken refreshToken expiresAt user { id } }
}`

// login signs a demo user in.
func (e *env) login(email string) tokens {
	e.t.Helper()
	var out struct{ Login tokens }
	e.ok("", loginMutation, map[string]any{"e": email, "p": demo.Password}, &out)
	return out.Login
}

// with returns e bound to a subtest's t, so failures are reported there.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// testWriter sends server logs to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	if _, fuzz := w.t.(*testing.F); fuzz {
		// A fuzz target's environment outlives f.Log's reach.
		fmt.Fprintln(os.Stderr, strings.TrimSpace(string(p)))
		return len(p), nil
	}
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

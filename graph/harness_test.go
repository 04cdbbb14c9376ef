package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/directory"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/notify"
	"github.com/whisper-health/whisper/internal/outreach"
	"github.com/whisper-health/whisper/internal/oversight"
	"github.com/whisper-health/whisper/internal/practice"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
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
// demo practice.
type env struct {
	t      *testing.T
	db     *store.DB
	auth   *auth.Service
	dir    *directory.Service
	clock  *clock
	srv    *httptest.Server
	gql    *graph.Handler
	engine *outreach.Engine
	// bus is the event bus: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite.
	bus pubsub.Bus
	// url is the test database's DATABASE_URL.
	url string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, auth.Config{})
}

// newEnvWith is newEnv with auth settings (the secret and clock are set here).
func newEnvWith(t *testing.T, authCfg auth.Config) *env {
	t.Helper()
	return newEnvFull(t, authCfg, nil, 200*time.Millisecond)
}

// newEnvClient is newEnvWith whose request path (resolvers, auth, messenger)
// uses the client wrap returns over the test database, when wrap is set.
func newEnvClient(t *testing.T, authCfg auth.Config, wrap func(*store.DB) *ent.Client) *env {
	t.Helper()
	return newEnvFull(t, authCfg, wrap, 200*time.Millisecond)
}

// newEnvPoll is newEnvWith with the live hub's safety-net poll interval: a
// long one proves a delivery did not depend on it.
func newEnvPoll(t *testing.T, authCfg auth.Config, poll time.Duration) *env {
	t.Helper()
	return newEnvFull(t, authCfg, nil, poll)
}

// newEnvFull builds the environment: auth settings, an optional client
// wrap for the request path, and the hub's poll interval.
func newEnvFull(t *testing.T, authCfg auth.Config, wrap func(*store.DB) *ent.Client, poll time.Duration) *env {
	t.Helper()
	url := testdb.URL(t)
	db := testdb.OpenURL(t, url)
	client := db.Client
	if wrap != nil {
		client = wrap(db)
	}
	ctx := context.Background()
	if _, err := demo.Load(ctx, db.Client, time.Now()); err != nil {
		t.Fatalf("loading demo: %v", err)
	}
	clk := &clock{t: time.Now()}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// On PostgreSQL the live tests run over the same LISTEN/NOTIFY bus as
	// the server, so its delivery and reconnect paths are what they prove.
	var bus pubsub.Bus = pubsub.NewMemory()
	if testdb.Postgres() {
		pg, err := pubsub.NewPostgres(db.SQL, url, log)
		if err != nil {
			t.Fatalf("starting the event bus: %v", err)
		}
		t.Cleanup(func() { _ = pg.Close() })
		bus = pg
	}
	authCfg.Secret = bytes.Repeat([]byte("k"), 32)
	authCfg.Now = clk.Now
	authCfg.Revoked = func(id pulid.ID) {
		bus.Publish(context.Background(), pubsub.Event{Kind: pubsub.SessionRevoked, Session: id})
	}
	a, err := auth.New(client, authCfg, log)
	if err != nil {
		t.Fatal(err)
	}
	msgr := messenger.New(client, bus, log, messenger.Config{Postgres: testdb.Postgres(), Now: clk.Now})
	dir := directory.New(client, bus, a, msgr, log, directory.Config{Now: clk.Now})
	notes := notify.New(db.Client, bus, msgr, log, clk.Now)
	engine := outreach.NewEngine(db.Client, log, outreach.EngineConfig{Postgres: testdb.Postgres(), Now: clk.Now,
		Practice: outreach.Practice{Name: "Harbourside Medical Centre", Phone: "(02) 9000 0000"}})
	records := practice.New(db.Client, bus, notes, engine, testdb.Postgres(), log, clk.Now)
	hub := live.New(db.Client, bus, log, live.Config{Postgres: testdb.Postgres(), OnRevoke: a.SessionRevoked, PollInterval: poll, Now: clk.Now})
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); hub.Run(hubCtx) }()
	go notes.RunReminders(hubCtx, 50*time.Millisecond)
	t.Cleanup(func() { stopHub(); <-hubDone })
	h := graph.NewHandler(&graph.Resolver{Client: client, Auth: a, Messenger: msgr, Directory: dir, Live: hub, Practice: records, Notify: notes, Oversight: oversight.New(db.Client, log), Outreach: outreach.New(db.Client), Engine: engine, Log: log}, graph.HandlerConfig{
		Introspection: true,
		MaxDepth:      8,
		MaxComplexity: 5000,
		MaxBodyBytes:  64 << 10,
		InitTimeout:   2 * time.Second,
	})
	mux := http.NewServeMux()
	mux.Handle("/graphql", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, db: db, auth: a, dir: dir, clock: clk, srv: srv, gql: h, engine: engine, bus: bus, url: url}
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
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

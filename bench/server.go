package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/whisper-health/whisper/internal/settings"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/app"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/store"
)

// server is Whisper wired by internal/app, as server/main.go wires it, on
// PostgreSQL, served over HTTP on a loopback port. The CORS and request-log
// middleware and the metrics extension of the real server are left out, and
// the Patient Connect engine and the outbox are not run in the background
// (the engine scenario runs the engine itself, and a delivering outbox
// would add load the baselines do not have).
type server struct {
	db     *store.DB
	dsn    string
	bus    *app.Bus
	app    *app.App
	http   *http.Server
	served chan error
	stop   context.CancelFunc
	done   chan struct{}
	demo   *demo.Result
	// URL is the GraphQL endpoint, http://127.0.0.1:<port>/graphql.
	URL string
	// client posts GraphQL requests to URL.
	client *http.Client

	// tokens are the storm and idle scenarios' signed-in users.
	tokensMu sync.Mutex
	tokens   []string
}

// startServer opens and migrates the database, loads the demo practice and
// starts serving. The server's log is discarded unless serverLog is set
// (warnings and errors then go to stderr).
func startServer(ctx context.Context, dsn string, serverLog bool) (_ *server, err error) {
	log := slog.New(slog.DiscardHandler)
	if serverLog {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	s := &server{db: db, dsn: dsn, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := db.Migrate(ctx); err != nil {
		return nil, err
	}
	if s.demo, err = demo.Load(ctx, db.Client, time.Now()); err != nil {
		return nil, fmt.Errorf("loading the demo practice: %w", err)
	}
	if !s.demo.Loaded {
		return nil, errors.New("the database already holds data; bench needs an empty database (omit -database-url for a throw-away one)")
	}
	if s.bus, err = app.OpenBus(db, dsn, log); err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	s.app, err = app.New(db, s.bus, app.Config{
		TokenSecret:    secret,
		Practice:       settings.Practice{Name: "Harbourside Medical Centre"},
		EngineInterval: -1,
		// Every client of the bench signs in from 127.0.0.1, so the
		// per-address rate of password checks (meant for one client)
		// would refuse the fanout, storm and idle users' sign-ins.
		PasswordChecksPerMinute: 1 << 20,
		OutboxInterval:          -1,
		Handler:                 graph.HandlerConfig{MaxComplexity: 100000},
	}, log)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	s.stop, s.done = stop, make(chan struct{})
	go func() {
		defer close(s.done)
		s.app.Run(runCtx)
	}()

	mux := http.NewServeMux()
	mux.Handle("/graphql", s.app.Handler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.Background() },
	}
	go func() { s.served <- s.http.Serve(ln) }()
	s.URL = "http://" + ln.Addr().String() + "/graphql"
	s.client = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     time.Minute,
		},
	}
	select {
	case <-s.app.Hub.Started():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s, nil
}

// Close stops serving, closes the websockets, stops the workers and the bus
// and closes the database.
func (s *server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.http != nil {
		errc := make(chan error, 1)
		go func() { errc <- s.http.Shutdown(ctx) }()
		s.app.Handler.Drain(ctx)
		<-errc
		<-s.served
	}
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	if s.bus != nil {
		_ = s.bus.Close()
	}
	_ = s.db.Close()
}

// user returns the demo user with email.
func (s *server) user(email string) (pulid.ID, error) {
	for _, u := range s.demo.Users {
		if u.Email == email {
			return u.ID, nil
		}
	}
	return "", fmt.Errorf("demo user %s not found", email)
}

// gqlError is a GraphQL error answer.
type gqlError struct {
	Status   int
	Messages []string
}

func (e *gqlError) Error() string {
	return fmt.Sprintf("graphql: HTTP %d: %s", e.Status, strings.Join(e.Messages, "; "))
}

// do posts one GraphQL operation with token (if any) and decodes its data
// into out (if not nil).
func (s *server) do(ctx context.Context, token, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var resp struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("graphql: HTTP %d: undecodable answer %q", res.StatusCode, truncate(string(raw), 200))
	}
	if len(resp.Errors) > 0 || res.StatusCode != http.StatusOK {
		e := &gqlError{Status: res.StatusCode}
		for _, x := range resp.Errors {
			e.Messages = append(e.Messages, fmt.Sprintf("%s (%v)", x.Message, x.Extensions["code"]))
		}
		return e
	}
	if out != nil {
		return json.Unmarshal(resp.Data, out)
	}
	return nil
}

const loginMutation = `mutation($email: String!, $password: String!) { login(email: $email, password: $password) { accessToken user { id } } }`

// login signs a user in through the login mutation and returns the access
// token and the user's id.
func (s *server) login(ctx context.Context, email, password string) (token string, id pulid.ID, err error) {
	var out struct {
		Login struct {
			AccessToken string `json:"accessToken"`
			User        struct {
				ID pulid.ID `json:"id"`
			} `json:"user"`
		} `json:"login"`
	}
	if err := s.do(ctx, "", loginMutation, map[string]any{"email": email, "password": password}, &out); err != nil {
		return "", "", fmt.Errorf("signing in %s: %w", email, err)
	}
	return out.Login.AccessToken, out.Login.User.ID, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

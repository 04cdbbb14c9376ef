package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/demo"
)

// The three streams every storm and idle client subscribes to, in the
// order it subscribes: unreadBadge last, because it answers at once (its
// first event is the unread totals now), so its first event also shows
// that the socket has read the two subscriptions before it. It asks for
// the total, as a client showing a badge does: the figures are read when
// the event is delivered, so a selection of only __typename would read
// nothing.
var threeStreams = []string{
	`subscription { messageAdded { id body } }`,
	`subscription { channelUpdated { __typename } }`,
	`subscription { unreadBadge { total } }`,
}

// connectTimeout bounds one client's connection (dial to first event).
const connectTimeout = 30 * time.Second

// clientTokens returns access tokens of n distinct staff users created for
// the storm and idle scenarios (one user per socket, as the per-user socket
// limit expects), signing them in once per run through auth.Service.Login
// (the login mutation's own call, without its per-address rate, which a
// thousand sign-ins from one address would exceed).
func (s *server) clientTokens(ctx context.Context, n int) ([]string, error) {
	s.tokensMu.Lock()
	defer s.tokensMu.Unlock()
	if len(s.tokens) >= n {
		return s.tokens[:n], nil
	}
	t0 := time.Now()
	have := len(s.tokens)
	emails, _, err := createUsers(ctx, s, fmt.Sprintf("client%d", have), n-have, false)
	if err != nil {
		return nil, err
	}
	tokens := make([]string, len(emails))
	_, _, err = loop(ctx, 8, len(emails), func(ctx context.Context, i int) error {
		t, err := s.app.Auth.Login(ctx, emails[i], demo.Password, auth.Meta{UserAgent: "bench"})
		if err != nil {
			return fmt.Errorf("signing in %s: %w", emails[i], err)
		}
		tokens[i] = t.AccessToken
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.tokens = append(s.tokens, tokens...)
	logf("bench: %d more users signed in in %v", len(emails), time.Since(t0).Round(time.Millisecond))
	return s.tokens[:n], nil
}

// connectOurs opens a graphql-transport-ws socket with token, subscribes to
// the three streams and waits for the first event; it returns the open
// socket. Pings are answered; an error message fails the connection.
func connectOurs(ctx context.Context, url, token string) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*websocket.Conn, error) {
		_ = c.CloseNow()
		return nil, err
	}
	if err := writeJSONMsg(ctx, c, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}}); err != nil {
		return fail(err)
	}
	acked := false
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return fail(fmt.Errorf("reading (acknowledged %v): %w", acked, err))
		}
		var m wireMessage
		_ = json.Unmarshal(data, &m)
		switch {
		case m.Type == "ping":
			if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`)); err != nil {
				return fail(err)
			}
		case m.Type == "connection_ack" && !acked:
			acked = true
			for i, q := range threeStreams {
				if err := writeJSONMsg(ctx, c, map[string]any{"id": fmt.Sprint(i + 1), "type": "subscribe", "payload": map[string]any{"query": q}}); err != nil {
					return fail(err)
				}
			}
		case m.Type == "next" && acked:
			return c, nil
		default:
			return fail(fmt.Errorf("unexpected %s", truncate(string(data), 200)))
		}
	}
}

// connectBare opens a plain websocket to the bare server and waits for its
// hello, the bare counterpart of the first event.
func connectBare(ctx context.Context, url string) (*websocket.Conn, error) {
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	if _, _, err := c.Read(ctx); err != nil {
		_ = c.CloseNow()
		return nil, fmt.Errorf("waiting for the hello: %w", err)
	}
	return c, nil
}

// drain reads c until it closes, answering pings, so that the server's
// writes never block on an unread socket.
func drain(c *websocket.Conn, done chan<- struct{}) {
	defer close(done)
	for {
		_, data, err := c.Read(context.Background())
		if err != nil {
			return
		}
		if strings.Contains(string(data), `"ping"`) {
			_ = c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"pong"}`))
		}
	}
}

// stormTurn is one storm: n clients connecting with at most conc in
// flight, each until its first event; the sockets stay open until close
// is called.
type stormTurn struct {
	elapsed time.Duration
	first   []time.Duration // per connected client: start of its dial → first event
	errors  int
	errMsg  string
	conns   []*websocket.Conn
	readers []chan struct{}
}

func storm(ctx context.Context, n, conc int, connect func(ctx context.Context, i int) (*websocket.Conn, error)) *stormTurn {
	t := &stormTurn{conns: make([]*websocket.Conn, n), readers: make([]chan struct{}, n)}
	first := make([]time.Duration, n)
	var errs atomic.Int64
	var errMsg atomic.Pointer[string]
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				cctx, cancel := context.WithTimeout(ctx, connectTimeout)
				c, err := connect(cctx, i)
				cancel()
				if err != nil {
					errs.Add(1)
					msg := err.Error()
					errMsg.CompareAndSwap(nil, &msg)
					continue
				}
				first[i] = time.Since(t0)
				t.conns[i] = c
				t.readers[i] = make(chan struct{})
				go drain(c, t.readers[i])
			}
		}()
	}
	wg.Wait()
	t.elapsed = time.Since(start)
	for _, d := range first {
		if d > 0 {
			t.first = append(t.first, d)
		}
	}
	t.errors = int(errs.Load())
	if p := errMsg.Load(); p != nil {
		t.errMsg = *p
	}
	return t
}

// close closes the turn's sockets and waits for their readers.
func (t *stormTurn) close() {
	for _, c := range t.conns {
		if c != nil {
			_ = c.Close(websocket.StatusNormalClosure, "")
		}
	}
	for _, r := range t.readers {
		if r != nil {
			<-r
		}
	}
}

// waitSocketsClosed waits until the server has let go of every websocket.
func waitSocketsClosed(ctx context.Context, srv *server) error {
	deadline := time.Now().Add(30 * time.Second)
	for srv.app.Handler.OpenSockets() > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d websockets still open after 30 s: %w", srv.app.Handler.OpenSockets(), errTimeout)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// runStorm measures N clients connecting at once (a reconnect storm):
// each opens a graphql-transport-ws socket, sends connection_init,
// subscribes to messageAdded, channelUpdated and unreadBadge and waits for
// its first event, with at most -storm-concurrency in flight; against the
// same number of bare websocket upgrades to a bare coder/websocket server,
// each waiting for the server's hello. Ours and the baseline alternate.
func runStorm(ctx context.Context, srv *server, o Options) (Result, error) {
	n, conc := o.StormClients, o.StormConcurrency
	logf("bench: storm: %d clients, %d in flight, %d turns each", n, conc, o.StormRounds)
	tokens, err := srv.clientTokens(ctx, n)
	if err != nil {
		return Result{}, err
	}
	var bare *echoServer
	pprof.Do(ctx, pprof.Labels("side", "baseline"), func(context.Context) { bare, err = startEchoServer() })
	if err != nil {
		return Result{}, err
	}
	defer bare.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http")
	turn := 0
	ours := func() (*stormTurn, error) {
		gc0, cpu0 := gcCycles(), processCPU()
		t := storm(ctx, n, conc, func(ctx context.Context, i int) (*websocket.Conn, error) {
			return connectOurs(ctx, wsURL, tokens[i])
		})
		turn++
		// The process's CPU (server and clients) and collections per
		// turn: a first turn is slower (the heap and its stacks grow from
		// the warm-up's size, with more collections on the way).
		logf("bench: storm: our turn %d: %v, process CPU %v, %d collections",
			turn, t.elapsed.Round(time.Millisecond), (processCPU() - cpu0).Round(time.Millisecond), gcCycles()-gc0)
		t.close()
		return t, waitSocketsClosed(ctx, srv)
	}
	base := func() (*stormTurn, error) {
		t := storm(ctx, n, conc, func(ctx context.Context, _ int) (*websocket.Conn, error) {
			return connectBare(ctx, bare.url)
		})
		t.close()
		return t, nil
	}
	// A small unmeasured storm each warms the paths up.
	for _, warm := range []func(ctx context.Context, i int) (*websocket.Conn, error){
		func(ctx context.Context, i int) (*websocket.Conn, error) { return connectOurs(ctx, wsURL, tokens[i]) },
		func(ctx context.Context, _ int) (*websocket.Conn, error) { return connectBare(ctx, bare.url) },
	} {
		t := storm(ctx, min(n, 50), min(conc, 50), warm)
		t.close()
		if t.errors > 0 {
			return Result{}, fmt.Errorf("warming up: %d errors (first: %s)", t.errors, t.errMsg)
		}
	}
	if err := waitSocketsClosed(ctx, srv); err != nil {
		return Result{}, err
	}
	stop, err := profile(o, "storm")
	if err != nil {
		return Result{}, err
	}
	defer stop()
	var ourT, baseT []*stormTurn
	for r := range o.StormRounds {
		first, second := func() error {
			t, err := ours()
			ourT = append(ourT, t)
			return err
		}, func() error {
			t, err := base()
			baseT = append(baseT, t)
			return err
		}
		if r%2 == 1 {
			first, second = second, first
		}
		if err := first(); err != nil {
			return Result{}, err
		}
		if err := second(); err != nil {
			return Result{}, err
		}
	}
	stop()
	sum := func(ts []*stormTurn) (ok int, el time.Duration, lat []time.Duration, errs int, msg string) {
		for _, t := range ts {
			ok += len(t.first)
			el += t.elapsed
			lat = append(lat, t.first...)
			errs += t.errors
			if msg == "" {
				msg = t.errMsg
			}
		}
		return
	}
	oOK, oEl, oLat, oErr, oMsg := sum(ourT)
	bOK, bEl, bLat, bErr, bMsg := sum(baseT)
	if oErr > 0 {
		logf("bench: storm: WARNING: %d of our clients failed (first: %s)", oErr, oMsg)
	}
	if bErr > 0 {
		logf("bench: storm: WARNING: %d baseline clients failed (first: %s)", bErr, bMsg)
	}
	r := Result{
		Name:     "storm",
		Unit:     "connections/s",
		Ours:     float64(oOK) / oEl.Seconds(),
		Baseline: float64(bOK) / bEl.Seconds(),
	}
	r.Ratio = ratio(r.Ours, r.Baseline)
	r.P50, r.P99 = percentile(oLat, 50), percentile(oLat, 99)
	r.BaselineP50, r.BaselineP99 = percentile(bLat, 50), percentile(bLat, 99)
	r.Details = map[string]float64{
		"first_event_p99_ms": r.P99,
		"errors":             float64(oErr),
		"baseline_errors":    float64(bErr),
	}
	logf("bench: storm: ours %d subscribed in %v (first event p50 %.0f ms, p99 %.0f ms, %d errors), baseline %d upgrades in %v (p99 %.0f ms)",
		oOK, oEl.Round(time.Millisecond), r.P50, r.P99, oErr, bOK, bEl.Round(time.Millisecond), r.BaselineP99)
	return r, nil
}

// echoServer is the bare coder/websocket server of the storm and idle
// baselines: it accepts a websocket, writes a hello and then echoes every
// message back, one goroutine per socket.
type echoServer struct {
	url  string
	http *http.Server
	open atomic.Int64
}

func startEchoServer() (*echoServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &echoServer{url: "ws://" + ln.Addr().String() + "/"}
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// ServeHTTP serves one socket until the client goes away.
func (s *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	s.open.Add(1)
	defer s.open.Add(-1)
	defer c.CloseNow()
	ctx := context.Background()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"hello"}`)); err != nil {
		return
	}
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

// waitClosed waits until no socket is open.
func (s *echoServer) waitClosed(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for s.open.Load() > 0 {
		if time.Now().After(deadline) {
			return errors.New("bare sockets still open after 30 s")
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func (s *echoServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
}

// gcCycles is how many garbage collections this process has completed.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

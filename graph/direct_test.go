//go:build linux

package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
)

// TestSharedEventsAreWrittenByTheHub: subscribers of a shared selection
// whose goroutines wait for the next event have it written to their
// sockets by the hub's writers — every subscriber still receives every
// message, once, in order.
func TestSharedEventsAreWrittenByTheHub(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}})
	vars := map[string]any{"c": g.ID}
	subs := []*subscription{
		e.listen(t, chen.AccessToken, sharedMessageAdded, vars),
		e.listen(t, chen.AccessToken, sharedMessageAdded, vars),
		e.listen(t, patel.AccessToken, sharedMessageAdded, vars),
		e.listen(t, kim.AccessToken, sharedMessageAdded, vars),
	}
	e.send(chen.AccessToken, g.ID, "warm-up", nil)
	for _, s := range subs {
		if body, _ := s.message(5 * time.Second); body != "warm-up" {
			t.Fatalf("got %q, want the warm-up", body)
		}
	}
	before := graph.DirectWrites(e.gql)
	const n = 5
	for k := range n {
		body := fmt.Sprintf("message %d", k)
		e.send(chen.AccessToken, g.ID, body, nil)
		for i, s := range subs {
			if got, _ := s.message(5 * time.Second); got != body {
				t.Fatalf("subscriber %d got %q, want %q", i, got, body)
			}
		}
	}
	for i, s := range subs {
		if d := s.next(100 * time.Millisecond); d != nil {
			t.Errorf("subscriber %d got %v after the last message", i, d)
		}
	}
	// Each message is encoded by one subscriber's goroutine, which writes
	// it too; a goroutine still finishing the previous event writes its
	// own. The others' events come from the hub's writers.
	if direct := graph.DirectWrites(e.gql) - before; direct < n {
		t.Errorf("the hub wrote %d of %d events to the sockets, want at least %d", direct, n*len(subs), n)
	}

	// An event whose frame is larger than a socket's smallest send buffer
	// once escaped (json.Marshal writes & as \u0026) is left to the
	// subscribers' goroutines, and arrives intact.
	lagging := graph.LaggingWrites(e.gql)
	amps := strings.Repeat("&", 800)
	e.send(chen.AccessToken, g.ID, amps, nil)
	for i, s := range subs {
		if got, _ := s.message(5 * time.Second); got != amps {
			t.Fatalf("subscriber %d got %.20q, want 800 ampersands", i, got)
		}
	}
	if graph.LaggingWrites(e.gql) == lagging {
		t.Error("an event of about 5 KB once escaped was written by the hub")
	}
}

// TestAClientThatStopsReadingIsLeftToItsOwnGoroutine: a client that stops
// reading (its socket's buffers full) does not hold up the hub's writers,
// and is not disconnected for it: its events wait for it, and once it reads
// again it receives every one, in order, while clients that kept reading
// received each at once.
func TestAClientThatStopsReadingIsLeftToItsOwnGoroutine(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}})
	vars := map[string]any{"c": g.ID}
	reading := []*subscription{
		e.listen(t, patel.AccessToken, sharedMessageAdded, vars),
		e.listen(t, kim.AccessToken, sharedMessageAdded, vars),
	}
	paused := e.listenPaused(t, chen.AccessToken, sharedMessageAdded, vars)

	// About 90 KB, several times what the stalled socket's buffers hold.
	const n = 30
	for k := range n {
		body := fmt.Sprintf("%02d %s", k, strings.Repeat("x", 3000))
		e.send(chen.AccessToken, g.ID, body, nil)
		for _, s := range reading {
			if got, _ := s.message(5 * time.Second); got != body {
				t.Fatalf("a reading client got %.10q, want message %d", got, k)
			}
		}
	}
	// The paused client's events stopped going straight to its socket
	// once it lagged.
	if graph.LaggingWrites(e.gql) == 0 {
		t.Error("no event was left to a subscription's goroutine for its lagging client")
	}
	for k := range n {
		if got := paused.body(t); !strings.HasPrefix(got, fmt.Sprintf("%02d ", k)) {
			t.Fatalf("the client that stopped reading got %.10q, want message %d", got, k)
		}
	}
}

// pausedSocket is a graphql-transport-ws subscription whose client reads
// only when the test asks, with small socket buffers on both ends, so
// that a few events fill them.
type pausedSocket struct {
	conn *websocket.Conn
}

// listenPaused subscribes on a socket whose client does not read until
// body is called; it returns once the hub registered the stream.
func (e *env) listenPaused(t *testing.T, token, query string, vars map[string]any) *pausedSocket {
	t.Helper()
	ready := make(chan struct{})
	var once sync.Once
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := live.OnReady(r.Context(), func() { once.Do(func() { close(ready) }) })
		e.gql.ServeHTTP(w, r.WithContext(ctx))
	}))
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPClient:   graph.SmallReceiveBuffers(),
	})
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	s := &pausedSocket{conn: conn}
	s.write(t, map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	if m := s.read(t); m["type"] != "connection_ack" {
		t.Fatalf("after connection_init got %v", m)
	}
	s.write(t, map[string]any{"id": "s", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream was not registered within 10 s")
	}
	return s
}

func (s *pausedSocket) write(t *testing.T, m map[string]any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := s.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatalf("writing: %v", err)
	}
}

// read returns the next message other than a ping, failing after 10 s or
// if the socket closed.
func (s *pausedSocket) read(t *testing.T) map[string]any {
	t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, b, err := s.conn.Read(ctx)
		cancel()
		if err != nil {
			t.Fatalf("reading the socket: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == "ping" {
			s.write(t, map[string]any{"type": "pong"})
			continue
		}
		return m
	}
}

// body reads the next event and returns its message's body.
func (s *pausedSocket) body(t *testing.T) string {
	t.Helper()
	m := s.read(t)
	p, _ := m["payload"].(map[string]any)
	d, _ := p["data"].(map[string]any)
	ma, _ := d["messageAdded"].(map[string]any)
	body, _ := ma["body"].(string)
	if m["type"] != "next" || body == "" {
		t.Fatalf("got %v, want an event", m)
	}
	return body
}

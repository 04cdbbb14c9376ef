package graph_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
)

// idleStreams are the three subscriptions of an idle client (the bench's
// idle scenario): messages, channel events and the unread badge.
var idleStreams = map[string]string{
	"m": `subscription { messageAdded { id body } }`,
	"c": `subscription { channelUpdated { type channel { id } } }`,
	"b": `subscription { unreadBadge { total } }`,
}

// serverSide labels the goroutines of every socket the handler serves (and
// the goroutines they start, which inherit the label), so they are counted
// apart from the test's own clients.
const serverSide = "whisper-idle-socket"

// TestIdleSocketGoroutines: an idle websocket with three live subscriptions
// costs the server at most 1 goroutine plus 1 per subscription (the goal
// is 4 + 1) — the transport's read loop (wstransport.go) and its goroutine
// per subscription; the message stream's forwarder runs only while it has
// releases to deliver (internal/live/messages.go) — and none that only
// waits to cancel something (the ends of a socket, a session or a subscription are
// context.AfterFunc callbacks and timers; the socket's close is one too) or
// to ping (one pinger serves every socket of the handler). Before, each
// socket cost 12: a watcher per subscription for the socket's end and one
// per registered channel or badge stream for its context; then 7, with
// gqlgen's ping loop; then 6, with gqlgen's close loop; then 5, with the
// hub's goroutine per message stream.
func TestIdleSocketGoroutines(t *testing.T) {
	const sockets, perSocketMax = 10, 1 + 1*3
	e := newEnv(t)
	token := e.login(demo.ChenEmail).AccessToken
	ready := make(chan struct{}, sockets*len(idleStreams))
	// A label of this run's own: goroutines of an earlier run's sockets
	// (still closing) are not counted.
	label := fmt.Sprintf("%s-%p", serverSide, e)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := live.OnReady(r.Context(), func() { ready <- struct{}{} })
		ctx = pprof.WithLabels(ctx, pprof.Labels("side", label))
		pprof.SetGoroutineLabels(ctx)
		e.gql.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)

	before := runtime.NumGoroutine()
	var clients []*wsClient
	for range sockets {
		c, err := dialURL(t, srv.URL, map[string]any{"Authorization": "Bearer " + token})
		if err != nil {
			t.Fatalf("connecting: %v", err)
		}
		clients = append(clients, c)
		for id, q := range idleStreams {
			c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": q}})
		}
		for range idleStreams {
			select {
			case <-ready:
			case <-time.After(10 * time.Second):
				msg, err := c.read(time.Second)
				t.Fatalf("a stream was not registered within 10 s (socket: %v, %v)", msg, err)
			}
		}
		// The badge's first value is delivered: the socket is idle.
		msg, err := c.read(10 * time.Second)
		if err != nil || msg["type"] != "next" || msg["id"] != "b" {
			t.Fatalf("first message %v (%v), want the badge's first value", msg, err)
		}
	}
	server, stacks := socketGoroutines(t, label)
	// The last socket's goroutines may still be finishing its first write
	// (the client can read the bytes before the server's write returns):
	// those settle; a goroutine that waits for the socket's end stays and
	// is counted.
	for settle := time.Now().Add(5 * time.Second); server > sockets*perSocketMax && time.Now().Before(settle); {
		runtime.Gosched()
		server, stacks = socketGoroutines(t, label)
	}
	perSocket := float64(server) / sockets
	t.Logf("%d idle sockets × %d subscriptions: %.1f server goroutines per socket (%d in all; %d more in the process with the test's clients)",
		sockets, len(idleStreams), perSocket, server, runtime.NumGoroutine()-before)
	if perSocket > perSocketMax {
		t.Errorf("an idle socket with %d subscriptions costs %.1f goroutines, want at most %d (1 + 1 per subscription); the sockets' goroutines:\n%s",
			len(idleStreams), perSocket, perSocketMax, strings.Join(stacks, "\n\n"))
	}
	// Each read loop waits for its client in a few frames of its own
	// (coderConn.waitReadable), not deep in the websocket reader: the
	// runtime halves an idle goroutine's stack only while under a quarter
	// of it is in use, and in the reader it stayed at 8 KB.
	waiting := func() int {
		n := 0
		for _, g := range stacks {
			if strings.Contains(g, "(*wsConn).runDetached") && strings.Contains(g, "(*coderConn).waitReadable") {
				count, _ := strconv.Atoi(strings.Fields(g)[0])
				n += count
			}
		}
		return n
	}
	// The last socket's read loop may still be on its way back from its
	// last message.
	for settle := time.Now().Add(5 * time.Second); waiting() != sockets && time.Now().Before(settle); {
		runtime.Gosched()
		_, stacks = socketGoroutines(t, label)
	}
	if waiting := waiting(); waiting != sockets {
		t.Errorf("%d of %d idle read loops wait in coderConn.waitReadable; the sockets' goroutines:\n%s",
			waiting, sockets, strings.Join(stacks, "\n\n"))
	}

	// Closed by their clients, the sockets leave nothing behind.
	for _, c := range clients {
		_ = c.conn.Close(websocket.StatusNormalClosure, "")
	}
	server, stacks = socketGoroutines(t, label)
	for settle := time.Now().Add(5 * time.Second); server > 0 && time.Now().Before(settle); {
		runtime.Gosched()
		server, stacks = socketGoroutines(t, label)
	}
	if server > 0 {
		t.Errorf("%d goroutines of closed sockets are left:\n%s", server, strings.Join(stacks, "\n\n"))
	}
}

// socketGoroutines counts the goroutines labelled label and returns their
// stacks (from the goroutine profile, grouped by stack).
func socketGoroutines(t *testing.T, label string) (int, []string) {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	head := regexp.MustCompile(`(?m)^(\d+) @`)
	n := 0
	var groups []string
	for _, g := range strings.Split(b.String(), "\n\n") {
		if !strings.Contains(g, `"`+label+`"`) {
			continue
		}
		at := head.FindStringSubmatchIndex(g)
		if at == nil {
			t.Fatalf("unexpected goroutine profile group:\n%s", g)
		}
		g = g[at[0]:] // without the profile's header
		m := head.FindStringSubmatch(g)
		count, _ := strconv.Atoi(m[1])
		n += count
		groups = append(groups, g)
	}
	return n, groups
}

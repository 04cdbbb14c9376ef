package graph_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
)

// readySocket opens a socket whose every registered live stream is
// signalled on the returned channel (the hub's ready signal).
func readySocket(t *testing.T, e *env, token string) (*wsClient, <-chan struct{}) {
	t.Helper()
	ready := make(chan struct{}, 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := live.OnReady(r.Context(), func() { ready <- struct{}{} })
		e.gql.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	c, err := dialURL(t, srv.URL, map[string]any{"Authorization": "Bearer " + token})
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	return c, ready
}

func waitReady(t *testing.T, ready <-chan struct{}) {
	t.Helper()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream was not registered within 10 s")
	}
}

// readFor reads c until a message for subscription id arrives.
func readFor(t *testing.T, c *wsClient, id string) map[string]any {
	t.Helper()
	for {
		msg, err := c.read(5 * time.Second)
		if err != nil {
			t.Fatalf("waiting for %s: %v", id, err)
		}
		if msg["id"] == id {
			return msg
		}
	}
}

func TestSubscriptionsPerSocketAreCapped(t *testing.T) {
	e := newEnv(t, withHandler(func(c *graph.HandlerConfig) { c.MaxSubscriptions = 3 }))
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	c, ready := readySocket(t, e, patel.AccessToken)
	sub := func(id string) {
		c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": messageAdded, "variables": map[string]any{"c": ch.ID}}})
	}
	for i := range 3 {
		sub(fmt.Sprint(i))
		waitReady(t, ready)
	}
	sub("over")
	msg := readFor(t, c, "over")
	if msg["type"] != "error" || !containsCode(msg, "RESOURCE_EXHAUSTED") {
		t.Fatalf("fourth subscription: %v, want an error with RESOURCE_EXHAUSTED", msg)
	}
	// The three keep working; stopping one makes room for another.
	c.send(map[string]any{"id": "0", "type": "complete"})
	if msg := readFor(t, c, "0"); msg["type"] != "complete" {
		t.Fatalf("stopping a subscription: %v, want complete", msg)
	}
	sub("again")
	waitReady(t, ready)
	e.send(chen.AccessToken, ch.ID, "still live", nil)
	want := map[any]bool{"1": true, "2": true, "again": true}
	for len(want) > 0 {
		msg, err := c.read(5 * time.Second)
		if err != nil {
			t.Fatalf("waiting for %v: %v", want, err)
		}
		if msg["type"] != "next" || !containsCode(msg, "still live") {
			t.Fatalf("got %v, want the message on each live subscription", msg)
		}
		delete(want, msg["id"])
	}
}

func TestSocketsPerPrincipalAreCapped(t *testing.T) {
	e := newEnv(t, withHandler(func(c *graph.HandlerConfig) { c.MaxSocketsPerUser = 2 }))
	patel := e.login(demo.PatelEmail)
	chen := e.login(demo.ChenEmail)
	for range 2 {
		e.listen(t, patel.AccessToken, messageAdded, nil)
	}
	third, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + patel.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	third.send(map[string]any{"id": "x", "type": "subscribe", "payload": map[string]any{"query": messageAdded}})
	if msg := readFor(t, third, "x"); msg["type"] != "error" || !containsCode(msg, "RESOURCE_EXHAUSTED") {
		t.Errorf("subscription on a third socket: %v, want an error with RESOURCE_EXHAUSTED", msg)
	}
	// Another principal is unaffected.
	e.listen(t, chen.AccessToken, messageAdded, nil)
}

// TestClosedSocketsFreeTheirPlace: a socket the client simply closes
// (no expiry, revocation or drain) leaves the registry, so a user who
// reconnects more often than WHISPER_MAX_SOCKETS_PER_USER within a token's
// life is not refused (a detached read loop once kept every closed socket
// registered until its token expired).
func TestClosedSocketsFreeTheirPlace(t *testing.T) {
	e := newEnv(t, withHandler(func(c *graph.HandlerConfig) { c.MaxSocketsPerUser = 1 }))
	released := make(chan struct{}, 16)
	graph.OnSocketReleased(e.gql, func() { released <- struct{}{} })
	patel := e.login(demo.PatelEmail)
	for i := range 3 {
		c, ready := readySocket(t, e, patel.AccessToken)
		c.send(map[string]any{"id": "s", "type": "subscribe", "payload": map[string]any{"query": messageAdded}})
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatalf("socket %d: the subscription was not registered: %v", i+1, readFor(t, c, "s"))
		}
		if err := c.conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("closing socket %d: %v", i+1, err)
		}
		select {
		case <-released:
		case <-time.After(10 * time.Second):
			t.Fatalf("socket %d was not released after the client closed it", i+1)
		}
	}
}

// TestDuplicateOperationIDClosesTheSocket: graphql-transport-ws closes a
// socket with 4409 when a subscribe reuses the id of a running operation
// (which would otherwise be orphaned: neither complete nor the socket's end
// could stop it).
func TestDuplicateOperationIDClosesTheSocket(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	c, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + chen.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	sub := map[string]any{"id": "a", "type": "subscribe", "payload": map[string]any{"query": messageAdded}}
	c.send(sub)
	c.send(sub)
	for {
		msg, err := c.read(5 * time.Second)
		if err != nil {
			if got := websocket.CloseStatus(err); got != 4409 {
				t.Fatalf("after a duplicate id the socket ended with %v (status %d), want close 4409", err, got)
			}
			return
		}
		if msg["id"] == "a" && msg["type"] != "connection_ack" {
			continue // the first operation's replay, or its end as the socket closes
		}
		t.Fatalf("after a duplicate id got %v, want close 4409", msg)
	}
}

package graph_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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

package graph_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/live"
)

// listen is subscribe that returns only once the live hub has registered
// the stream, so whatever the test does next reaches it: the signal
// graphql-transport-ws lacks (a subscribe has no acknowledgement) instead
// of a guessed sleep. The socket goes through its own endpoint over the
// env's handler, which puts a live.OnReady hook in the request's context;
// everything else (auth, transport, hub) is the env's.
func (e *env) listen(t *testing.T, token, query string, vars map[string]any) *subscription {
	t.Helper()
	ready := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := live.OnReady(r.Context(), func() { once.Do(func() { close(ready) }) })
		e.gql.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(srv.Close)
	c, err := dialURL(t, srv.URL, map[string]any{"Authorization": "Bearer " + token})
	if err != nil {
		t.Fatalf("connecting: %v", err)
	}
	c.send(map[string]any{"id": "s", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		msg, err := c.read(time.Second)
		t.Fatalf("the stream was not registered within 10 s (socket: %v, %v)", msg, err)
	}
	return &subscription{t: t, c: c}
}

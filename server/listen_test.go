package main

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/live"
)

// listenWS is subscribeWS that returns only once app's live hub has
// registered the stream, so whatever the test does next reaches it — the
// acknowledgement graphql-transport-ws lacks, instead of a guessed sleep.
// The socket goes through a test endpoint over app's GraphQL handler that
// puts a live.OnReady hook in the request's context; auth, transport, hub
// and bus are the replica's own (only its request log and CORS wrapper are
// not on the path).
func listenWS(t *testing.T, app *App, token, query string) *wsSub {
	t.Helper()
	ready := make(chan struct{})
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("/graphql", func(w http.ResponseWriter, r *http.Request) {
		ctx := live.OnReady(r.Context(), func() { once.Do(func() { close(ready) }) })
		app.core.Handler.ServeHTTP(w, r.WithContext(ctx))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s := subscribeWS(t, srv.URL, token, query)
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream was not registered within 10 s")
	}
	return s
}

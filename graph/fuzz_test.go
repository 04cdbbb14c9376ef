package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/demo"
)

// Fuzz targets over what a client controls: POST bodies, and sequences of
// websocket frames. Each starts from the hostile documents of
// limits_test.go. A crasher found by `go test -fuzz` is kept under
// testdata/fuzz/<target>/ and runs with the suite from then on.
//
//	go test -run '^$' -fuzz FuzzPOST -fuzztime 60s ./graph
//	go test -run '^$' -fuzz FuzzWebsocketFrames -fuzztime 60s ./graph

// checkAnswer fails unless an HTTP answer is a GraphQL response whose
// every error carries a code, and the server blamed no fault of its own.
func checkAnswer(t *testing.T, status int, raw []byte) {
	t.Helper()
	if status >= 500 {
		t.Fatalf("status %d: %s", status, raw)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("status %d: not a GraphQL response: %q", status, raw)
	}
	for _, e := range r.Errors {
		switch e.Code() {
		case "":
			t.Fatalf("status %d: error without extensions.code: %+v", status, e)
		case "INTERNAL":
			t.Fatalf("status %d: INTERNAL for client input: %+v", status, e)
		}
	}
}

func FuzzPOST(f *testing.F) {
	for _, d := range hostileDocuments {
		b, _ := json.Marshal(map[string]any{"query": d.query})
		f.Add(b)
	}
	for _, s := range []string{
		`{"query":"{ __typename }"}`,
		`{"query":"query($s: String) { users(search: $s) { totalCount } }","variables":{"s":"a\u0000b"}}`,
		`{"query":"mutation { login(email: \"a@x.test\", password: \"x\") { accessToken } }"}`,
		`{"query":"{ ...F } fragment F on Query { ...F }"}`,
		`{"query":"{ node(id: \"ch\\u0000\") { id } }"}`,
		`{"query":"{ __schema { types { name } } }"}`,
		"{\"query\":\"{ me { id } }\",\"variables\":{\"x\":\"\xff\"}}",
		`[{"query":"{ __typename }"}]`,
		`{"query":"subscription { messageAdded { id } }"}`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, withHandler(func(c *graph.HandlerConfig) {
		c.Introspection = false
		c.MaxBodyBytes = 1 << 20
	}))
	tok := e.login(demo.KimEmail).AccessToken
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, token := range []string{"", tok} {
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("posting: %v", err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			checkAnswer(t, res.StatusCode, raw)
		}
	})
}

// FuzzWebsocketFrames sends the frames of input (one per line) on a signed-in
// socket; whatever they are, the server answers with codes, never blames
// itself, and keeps serving.
func FuzzWebsocketFrames(f *testing.F) {
	sub := func(id, q string) string {
		b, _ := json.Marshal(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": q}})
		return string(b)
	}
	for _, d := range hostileDocuments {
		f.Add(sub("1", d.query))
	}
	f.Add(strings.Repeat(sub("1", messageAdded)+"\n", 5) + `{"id":"1","type":"complete"}`)
	f.Add(sub("a", `subscription { messageAdded(channelID: "ch\u0000") { id } }`) + "\n" + `{"type":"ping"}`)
	f.Add(`{"type":"connection_init"}` + "\n" + `{"type":"subscribe"}` + "\n" + `not json`)
	e := newEnv(f, withHandler(func(c *graph.HandlerConfig) {
		c.MaxSubscriptions = 4
		c.MaxBodyBytes = 1 << 20
	}))
	tok := e.login(demo.KimEmail).AccessToken
	f.Fuzz(func(t *testing.T, frames string) {
		c, err := dialWS(t, e, map[string]any{"Authorization": "Bearer " + tok})
		if err != nil {
			t.Fatalf("connecting: %v", err)
		}
		for _, frame := range strings.Split(frames, "\n") {
			if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(frame)); err != nil {
				break // the server closed the socket: allowed
			}
		}
		// Read what came back until the server answers a ping sent last
		// (it handles a socket's frames in order, so every refusal of the
		// frames before it is written by then) or closes the socket.
		if err := c.conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`)); err == nil {
			deadline := time.NewTimer(10 * time.Second)
			defer deadline.Stop()
		read:
			for {
				select {
				case r := <-c.inbox:
					if r.err != nil {
						break read // the server closed the socket: allowed
					}
					var msg map[string]any
					_ = json.Unmarshal(r.msg, &msg)
					switch msg["type"] {
					case "pong":
						break read
					case "error", "next":
						if strings.Contains(string(r.msg), `"INTERNAL"`) {
							t.Fatalf("INTERNAL for client frames: %s", r.msg)
						}
					}
				case <-deadline.C:
					t.Fatalf("the server neither answered a ping nor closed the socket within 10 s")
				}
			}
		}
		c.conn.CloseNow()
		// The server still serves.
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("server stopped serving: %v", err)
		}
		res.Body.Close()
	})
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/testdb"
)

// TestServerSentEventsStreamThroughTheServer: through the real listener
// and its middleware (request log, CORS), each server-sent event reaches
// the client when it happens, not when the stream ends.
func TestServerSentEventsStreamThroughTheServer(t *testing.T) {
	app, _ := startApp(t, testdb.URL(t), "-demo")
	defer stopApp(t, app)
	base := app.URL()
	login := func(email string) string {
		data := post(t, base, "", `mutation { login(email: "`+email+`", password: "`+demo.Password+`") { accessToken } }`)
		return data["login"].(map[string]any)["accessToken"].(string)
	}
	chen, patel := login(demo.ChenEmail), login(demo.PatelEmail)
	patelID := post(t, base, patel, `{ me { id } }`)["me"].(map[string]any)["id"].(string)
	ch := post(t, base, chen, `mutation { openConversation(input: {userIDs: ["`+patelID+`"]}) { id } }`)["openConversation"].(map[string]any)["id"].(string)
	send := func(body string) string {
		m := post(t, base, chen, `mutation { sendMessage(input: {channelID: "`+ch+`", body: "`+body+`"}) { cursor } }`)
		return m["sendMessage"].(map[string]any)["cursor"].(string)
	}
	// Subscribing after a first message's cursor: whatever is sent after it
	// is delivered, however soon the stream is registered.
	first := send("before the stream")
	body, _ := json.Marshal(map[string]any{
		"query":     `subscription($c: ID, $after: String) { messageAdded(channelID: $c, after: $after) { body } }`,
		"variables": map[string]any{"c": ch, "after": first},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+patel)
	// Read in the background: without flushing, not even the response
	// headers would arrive.
	events := make(chan string, 8)
	go func() {
		defer close(events)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			events <- "error: " + err.Error()
			return
		}
		defer res.Body.Close()
		events <- "content-type: " + res.Header.Get("Content-Type")
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "data: ") {
				events <- line
			}
		}
	}()
	next := func(what string) string {
		select {
		case ev := <-events:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s within 10 s while the stream is open (not flushed?)", what)
		}
		return ""
	}
	if ct := next("response headers"); !strings.HasPrefix(ct, "content-type: text/event-stream") {
		t.Fatalf("got %q, want a text/event-stream response", ct)
	}
	send("over server-sent events")
	if ev := next("event"); !strings.Contains(ev, "over server-sent events") {
		t.Fatalf("got %q, want the message", ev)
	}
	cancel()
}

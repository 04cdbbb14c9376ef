package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/testdb"
)

// wsSub is a graphql-transport-ws subscription over a real websocket.
type wsSub struct {
	conn *websocket.Conn
	in   chan map[string]any
}

func subscribeWS(t *testing.T, base, token, query string) *wsSub {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	s := &wsSub{conn: conn, in: make(chan map[string]any, 100)}
	go func() {
		defer close(s.in)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			if m["type"] == "ping" {
				_ = conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"pong"}`))
				continue
			}
			s.in <- m
		}
	}()
	write := func(v any) {
		b, _ := json.Marshal(v)
		if err := conn.Write(context.Background(), websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	write(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	if m := <-s.in; m["type"] != "connection_ack" {
		t.Fatalf("init: %v", m)
	}
	write(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query}})
	return s
}

// next returns the next message body, "" on timeout, or "<closed>".
func (s *wsSub) next(timeout time.Duration) string {
	select {
	case m, ok := <-s.in:
		if !ok {
			return "<closed>"
		}
		if m["type"] != "next" {
			return "<" + m["type"].(string) + ">"
		}
		b, _ := json.Marshal(m["payload"])
		var p struct {
			Data struct {
				MessageAdded struct{ Body string }
			}
		}
		_ = json.Unmarshal(b, &p)
		return p.Data.MessageAdded.Body
	case <-time.After(timeout):
		return ""
	}
}

func login(t *testing.T, base, email string) (token, id string) {
	t.Helper()
	data := post(t, base, "", `mutation { login(email: "`+email+`", password: "whisper-demo") { accessToken user { id } } }`)
	l := data["login"].(map[string]any)
	return l["accessToken"].(string), l["user"].(map[string]any)["id"].(string)
}

// TestReplicasShareOneDatabase runs two server processes' worth of wiring
// on one PostgreSQL database: a message sent through one reaches a
// subscriber on the other, also after the listener's connection is killed,
// and signing out on one closes the socket on the other.
func TestReplicasShareOneDatabase(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("replicas share a database only on PostgreSQL")
	}
	url := testdb.URL(t)
	a, _ := startApp(t, url, "-demo")
	defer stopApp(t, a)
	b, _ := startApp(t, url)
	defer stopApp(t, b)

	chenTok, _ := login(t, a.URL(), "dr.chen@demo.clinic")
	patelTok, patelID := login(t, b.URL(), "dr.patel@demo.clinic")
	sub := listenWS(t, b, patelTok, `subscription { messageAdded { body } }`)

	open := post(t, a.URL(), chenTok, `mutation { openConversation(input: {userIDs: ["`+patelID+`"]}) { id } }`)
	ch := open["openConversation"].(map[string]any)["id"].(string)
	send := func(body string) {
		post(t, a.URL(), chenTok, `mutation { sendMessage(input: {channelID: "`+ch+`", body: "`+body+`"}) { id } }`)
	}
	send("across replicas")
	if got := sub.next(5 * time.Second); got != "across replicas" {
		t.Fatalf("replica B's subscriber got %q, want the message sent on A", got)
	}

	// Kill replica B's listener connection: it reconnects, and what was
	// sent meanwhile still arrives (caught up from the database).
	adb, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer adb.Close()
	res, err := adb.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query ILIKE 'listen%' AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatal("found no listener connection to kill")
	}
	send("while the listener was down")
	send("after it came back")
	for _, want := range []string{"while the listener was down", "after it came back"} {
		if got := sub.next(10 * time.Second); got != want {
			t.Fatalf("after a listener restart got %q, want %q", got, want)
		}
	}

	// Logout on A ends Patel's socket on B.
	post(t, a.URL(), patelTok, `mutation { logout }`)
	for {
		got := sub.next(5 * time.Second)
		if got == "<closed>" {
			break
		}
		if got == "" || !strings.HasPrefix(got, "<") {
			t.Fatal("replica B kept the socket of a session revoked on replica A")
		}
	}
}

// nextMessage returns the next message's body and cursor ("" on timeout).
func (s *wsSub) nextMessage(timeout time.Duration) (body, cursor string) {
	select {
	case m, ok := <-s.in:
		if !ok {
			return "<closed>", ""
		}
		if m["type"] != "next" {
			return "<" + m["type"].(string) + ">", ""
		}
		b, _ := json.Marshal(m["payload"])
		var p struct {
			Data struct {
				MessageAdded struct{ Body, Cursor string }
			}
		}
		_ = json.Unmarshal(b, &p)
		return p.Data.MessageAdded.Body, p.Data.MessageAdded.Cursor
	case <-time.After(timeout):
		return "", ""
	}
}

// TestReplicaResumeWithLateCommit: a subscriber on replica B goes away; on
// replica A a slow send begins (held inside its transaction) and a fast one
// commits; the subscriber reconnects to A with its cursor before the slow
// send commits; it then gets both, once each, in stream order, and later
// messages sent through B.
func TestReplicaResumeWithLateCommit(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("replicas share a database only on PostgreSQL")
	}
	url := testdb.URL(t)
	a, _ := startApp(t, url, "-demo")
	defer stopApp(t, a)
	b, _ := startApp(t, url)
	defer stopApp(t, b)

	chenTok, _ := login(t, a.URL(), "dr.chen@demo.clinic")
	kimTok, _ := login(t, a.URL(), "nurse.kim@demo.clinic")
	patelTok, patelID := login(t, b.URL(), "dr.patel@demo.clinic")
	openWith := func(tok, base string, ids ...string) string {
		open := post(t, base, tok, `mutation { openConversation(input: {userIDs: ["`+strings.Join(ids, `","`)+`"]}) { id } }`)
		return open["openConversation"].(map[string]any)["id"].(string)
	}
	chA := openWith(chenTok, a.URL(), patelID)
	chB := openWith(kimTok, a.URL(), patelID)
	sendVia := func(base, tok, ch, body string) {
		post(t, base, tok, `mutation { sendMessage(input: {channelID: "`+ch+`", body: "`+body+`"}) { id } }`)
	}
	const q = `subscription { messageAdded { body cursor } }`
	sub := listenWS(t, b, patelTok, q)
	sendVia(a.URL(), chenTok, chA, "seen")
	body, cursor := sub.nextMessage(5 * time.Second)
	if body != "seen" || cursor == "" {
		t.Fatalf("got %q, want seen with a cursor", body)
	}
	sub.conn.CloseNow()

	// Replica A's next send of "slow" stops inside its transaction.
	inserted, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	a.db.Client.Message.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			v, err := next.Mutate(ctx, m)
			if mm, ok := m.(*ent.MessageMutation); ok && err == nil {
				if b, _ := mm.Body(); b == "slow" {
					close(inserted)
					<-release
				}
			}
			return v, err
		})
	})
	slowDone := make(chan struct{})
	go func() {
		defer close(slowDone)
		sendVia(a.URL(), chenTok, chA, "slow")
	}()
	select {
	case <-inserted:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow send never reached its insert")
	}
	sendVia(a.URL(), kimTok, chB, "fast")

	resumed := subscribeWS(t, a.URL(), patelTok, `subscription { messageAdded(after: "`+cursor+`") { body cursor } }`)
	if got, _ := resumed.nextMessage(600 * time.Millisecond); got != "" {
		t.Fatalf("got %q while an earlier send was still open", got)
	}
	once.Do(func() { close(release) })
	<-slowDone
	var got []string
	for i := 0; i < 2; i++ {
		body, _ := resumed.nextMessage(5 * time.Second)
		got = append(got, body)
	}
	if strings.Join(got, ",") != "slow,fast" {
		t.Fatalf("after reconnecting to the other replica got %v, want [slow fast]", got)
	}
	sendVia(b.URL(), kimTok, chB, "via B")
	if body, _ := resumed.nextMessage(5 * time.Second); body != "via B" {
		t.Errorf("then got %q, want the message sent through B", body)
	}
	if body, _ := resumed.nextMessage(400 * time.Millisecond); body != "" {
		t.Errorf("then got %q: delivered twice", body)
	}
}

// signInCode tries a sign-in without a token and returns the error's
// extensions.code ("" when it succeeded).
func signInCode(t *testing.T, base, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }`,
		"variables": map[string]any{"e": email, "p": password},
	})
	res, err := http.Post(base+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Errors []struct{ Extensions map[string]any }
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) == 0 {
		return ""
	}
	code, _ := out.Errors[0].Extensions["code"].(string)
	return code
}

// TestPasswordRateIsSharedByReplicas: the password checks one client
// address may make per minute are counted in the database, so spreading
// them over two replicas gets no more of them than one replica gives.
func TestPasswordRateIsSharedByReplicas(t *testing.T) {
	url := testdb.URL(t)
	a, _ := startApp(t, url, "-demo", "-password-checks-per-minute", "3")
	defer stopApp(t, a)
	b, _ := startApp(t, url, "-password-checks-per-minute", "3")
	defer stopApp(t, b)

	// Three checks from this address, spread over both replicas (distinct
	// unknown accounts, so no account's failure count is involved).
	for i, base := range []string{a.URL(), b.URL(), a.URL()} {
		if got := signInCode(t, base, fmt.Sprintf("guess%d@x.test", i), "wrong password"); got != "UNAUTHENTICATED" {
			t.Fatalf("check %d: %q, want UNAUTHENTICATED (a checked, wrong password)", i+1, got)
		}
	}
	// The fourth is refused on either replica, before any hashing, even
	// with the right password.
	for _, base := range []string{b.URL(), a.URL()} {
		if got := signInCode(t, base, "dr.chen@demo.clinic", "whisper-demo"); got != "RESOURCE_EXHAUSTED" {
			t.Errorf("a fourth check in the minute on %s: %q, want RESOURCE_EXHAUSTED (the rate is shared)", base, got)
		}
	}
}

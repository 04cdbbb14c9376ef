package graph_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/demo"
)

// sharedMessageAdded selects only fields that are the same for every viewer
// who receives the message, so its events are executed once per kind of
// principal and shared (graph/share.go).
const sharedMessageAdded = `subscription($c: ID) { messageAdded(channelID: $c) { id seq kind body sms createdAt sender { id name jobTitle __typename } ...Pos } }
fragment Pos on Message { cursor __typename }`

// unsharedMessageAdded is the same selection with a directive, which the
// share leaves alone: each subscriber's events are executed for them, as
// every event was before sharing.
const unsharedMessageAdded = `subscription($c: ID) { messageAdded(channelID: $c) { id seq kind body sms createdAt sender { id name jobTitle __typename } ...Pos @include(if: true) } }
fragment Pos on Message { cursor __typename }`

// TestSharedMessageEvents: staff members (two sockets of the sender, a
// care-team nurse) and a portal patient subscribed with the same
// viewer-independent selection receive exactly what each receives
// unshared (the patient sees the staff sender's name and job title); notify
// still differs per viewer; another portal patient with the same
// subscription receives nothing; and the selection ran once per kind of
// principal, not once per subscriber.
func TestSharedMessageEvents(t *testing.T) {
	e := newEnv(t)
	chen, kim := e.login(demo.ChenEmail), e.login(demo.KimEmail)
	conv := e.startPatient(chen.AccessToken, e.patientID(chen.AccessToken, "P0001"), "Blood test results", "Your results are in.")
	olivia, _ := e.portalLogin(demo.PortalEmails[0])
	liam, _ := e.portalLogin(demo.PortalEmails[1])

	type viewerStreams struct {
		name             string
		shared, unshared *subscription
		notify           *subscription
	}
	var vs []viewerStreams
	for _, v := range []struct{ name, token string }{
		{"Dr Chen", chen.AccessToken}, {"Dr Chen's second socket", chen.AccessToken},
		{"Nurse Kim", kim.AccessToken}, {"Olivia", olivia}, {"Olivia's second socket", olivia},
	} {
		vs = append(vs, viewerStreams{
			name:     v.name,
			shared:   e.listen(t, v.token, sharedMessageAdded, nil),
			unshared: e.listen(t, v.token, unsharedMessageAdded, nil),
			notify:   e.listen(t, v.token, `subscription { messageAdded { body notify } }`, nil),
		})
	}
	outsider := e.listen(t, liam, sharedMessageAdded, nil)
	// The same subscription scoped to the conversation (other variables)
	// shares too: the root's arguments choose messages, not their encoding.
	scoped := e.listen(t, kim.AccessToken, sharedMessageAdded, map[string]any{"c": conv.ID})

	// A first message, read by every stream: a stream that started with a
	// replay from the database has finished it (a replayed message is read
	// for that stream alone, so it is not shared), and the next one comes
	// live to everyone.
	e.send(chen.AccessToken, conv.ID, "Warm-up.", nil)
	for _, v := range vs {
		for _, s := range []*subscription{v.shared, v.unshared, v.notify} {
			if d := s.next(5 * time.Second); d == nil {
				t.Fatalf("%s: no first message", v.name)
			}
		}
	}
	if d := scoped.next(5 * time.Second); d == nil {
		t.Fatal("the conversation's own stream: no first message")
	}

	before := graph.SharedExecutions(e.gql)
	e.send(chen.AccessToken, conv.ID, "All normal.", nil)
	var first []byte
	for _, v := range vs {
		shared, unshared := v.shared.next(5*time.Second), v.unshared.next(5*time.Second)
		a, _ := json.Marshal(shared)
		b, _ := json.Marshal(unshared)
		if shared == nil || string(a) != string(b) {
			t.Fatalf("%s: shared event %s, unshared %s: want the same", v.name, a, b)
		}
		if first == nil {
			first = a
		} else if string(a) != string(first) {
			t.Errorf("%s received %s, the others %s", v.name, a, first)
		}
	}
	if d := scoped.next(5 * time.Second); d == nil {
		t.Fatal("the conversation's own stream got nothing")
	} else if a, _ := json.Marshal(d); string(a) != string(first) {
		t.Errorf("the conversation's own stream received %s, the others %s", a, first)
	}
	var got struct {
		MessageAdded struct {
			Body, Cursor string
			Sender       map[string]any
		}
	}
	if err := json.Unmarshal(first, &got); err != nil {
		t.Fatal(err)
	}
	if m := got.MessageAdded; m.Body != "All normal." || m.Cursor == "" || m.Sender["name"] != "Dr Wei Chen" ||
		m.Sender["jobTitle"] != "General Practitioner" || len(m.Sender) != 4 {
		t.Errorf("event = %s, want the body, a cursor and the sender's name and job title", first)
	}
	// Every subscriber above has its event: the shared selection ran once
	// for the staff (four subscriptions, one of them scoped to the
	// conversation) and once for the patient (two).
	if n := graph.SharedExecutions(e.gql) - before; n != 2 {
		t.Errorf("the shared selection ran %d times for one message, want 2 (staff, patient)", n)
	}
	wantNotify := map[string]bool{"Dr Chen": false, "Dr Chen's second socket": false, "Nurse Kim": true, "Olivia": true, "Olivia's second socket": true}
	for _, v := range vs {
		d := v.notify.next(5 * time.Second)
		m, _ := d["messageAdded"].(map[string]any)
		if m["body"] != "All normal." || m["notify"] != wantNotify[v.name] {
			t.Errorf("%s: notify stream got %v, want notify %v", v.name, d, wantNotify[v.name])
		}
	}
	// Liam shares Olivia's subscription key, never her messages.
	e.send(chen.AccessToken, conv.ID, "Second result.", nil)
	for _, v := range vs {
		if d := v.shared.next(5 * time.Second); d == nil {
			t.Fatalf("%s: no second event", v.name)
		}
	}
	if d := outsider.next(300 * time.Millisecond); d != nil {
		t.Errorf("another patient received %v", d)
	}
}

// TestSharedStreamsEndAsBefore: a shared one-channel stream ends the way
// every stream does — a member removed from the channel gets FORBIDDEN and
// nothing after it, while another member with the same subscription keeps
// receiving; logging out ends a shared stream with SESSION_REVOKED.
func TestSharedStreamsEndAsBefore(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}})
	vars := map[string]any{"c": g.ID}
	kimStream := e.listen(t, kim.AccessToken, sharedMessageAdded, vars)
	patelStream := e.listen(t, patel.AccessToken, sharedMessageAdded, vars)

	e.send(chen.AccessToken, g.ID, "before", nil)
	for _, s := range []*subscription{kimStream, patelStream} {
		if body, _ := s.message(5 * time.Second); body != "before" {
			t.Fatalf("got %q, want the first message", body)
		}
	}
	const upd = `mutation($in: UpdateCustomGroupInput!) { updateCustomGroup(input: $in) { id } }`
	e.ok(chen.AccessToken, upd, map[string]any{"in": map[string]any{"channelID": g.ID, "removeUserIDs": []string{kim.User.ID}}}, nil)
	if msg := streamEnd(t, kimStream); msg["type"] != "error" || !containsCode(msg, "FORBIDDEN") {
		t.Errorf("the removed member's shared stream ended with %v, want FORBIDDEN", msg)
	}
	e.send(chen.AccessToken, g.ID, "after Kim left", nil)
	for {
		body, _ := patelStream.message(5 * time.Second)
		if body == "after Kim left" {
			break
		}
		if body == "" || body == "<complete>" {
			t.Fatalf("Patel's shared stream got %q, want the message sent after the removal", body)
		}
	}
	e.ok(patel.AccessToken, `mutation { logout }`, nil, nil)
	if msg := streamEnd(t, patelStream); msg["type"] != "error" || !containsCode(msg, "SESSION_REVOKED") {
		t.Errorf("a shared stream of a revoked session ended with %v, want SESSION_REVOKED", msg)
	}
}

// eventCounter is a response interceptor (as the server's metrics are) that
// counts the subscription events it sees.
type eventCounter struct{ n atomic.Int64 }

func (*eventCounter) ExtensionName() string                   { return "EventCounter" }
func (*eventCounter) Validate(graphql.ExecutableSchema) error { return nil }
func (c *eventCounter) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	r := next(ctx)
	if r != nil && graphql.GetOperationContext(ctx).Operation.Operation == ast.Subscription {
		c.n.Add(1)
	}
	return r
}

// TestSharedEventsPassResponseInterceptors: an event served from the share
// still passes through the configured response interceptors (the server's
// metrics count every event), once per subscriber.
func TestSharedEventsPassResponseInterceptors(t *testing.T) {
	counter := &eventCounter{}
	e := newEnv(t, func(s *envSetup) { s.cfg.Handler.Extensions = append(s.cfg.Handler.Extensions, counter) })
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}})
	subs := []*subscription{
		e.listen(t, chen.AccessToken, sharedMessageAdded, nil),
		e.listen(t, patel.AccessToken, sharedMessageAdded, nil),
		e.listen(t, kim.AccessToken, sharedMessageAdded, nil),
	}
	before, runs := counter.n.Load(), graph.SharedExecutions(e.gql)
	e.send(chen.AccessToken, g.ID, "counted", nil)
	for _, s := range subs {
		if body, _ := s.message(5 * time.Second); body != "counted" {
			t.Fatalf("got %q", body)
		}
	}
	if n := counter.n.Load() - before; n != 3 {
		t.Errorf("the response interceptor saw %d events, want 3 (one per subscriber)", n)
	}
	if n := graph.SharedExecutions(e.gql) - runs; n != 1 {
		t.Errorf("the selection ran %d times, want once", n)
	}
}

package graph_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// withMaxPageSize sets the page-size limit (WHISPER_MAX_PAGE_SIZE).
func withMaxPageSize(n int) envOption {
	return func(s *envSetup) { s.cfg.Handler.MaxPageSize = n }
}

// pageOfMessages is one messages(…) page: each edge's cursor beside the
// node's own, and pageInfo.
type pageOfMessages struct {
	Messages struct {
		Edges []struct {
			Cursor string
			Node   struct{ Body, Cursor string }
		}
		PageInfo struct {
			StartCursor, EndCursor       string
			HasNextPage, HasPreviousPage bool
		}
	}
}

func (p pageOfMessages) bodies() string {
	var b []string
	for _, e := range p.Messages.Edges {
		b = append(b, e.Node.Body)
	}
	return strings.Join(b, " ")
}

// The variables are declared String, as SPEC §7 names the arguments.
const messagesPage = `query($c: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  messages(channelID: $c, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { body cursor } } pageInfo { startCursor endCursor hasNextPage hasPreviousPage } } }`

// TestOneCursorPerMessage: a message has one cursor. Message.cursor (from
// sendMessage, messages or messageAdded) is its edge cursor, and it pages
// messages(after:/before:) and resumes messageAdded(after:); the edge and
// pageInfo cursors resume the stream too.
func TestOneCursorPerMessage(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	sent := map[string]messageInfo{}
	for i := 1; i <= 5; i++ {
		b := fmt.Sprintf("m%d", i)
		sent[b] = e.send(chen.AccessToken, ch.ID, b, nil)
	}

	var all pageOfMessages
	e.ok(patel.AccessToken, messagesPage, map[string]any{"c": ch.ID, "first": 10}, &all)
	if all.bodies() != "m1 m2 m3 m4 m5" {
		t.Fatalf("messages: %q", all.bodies())
	}
	for _, edge := range all.Messages.Edges {
		if edge.Cursor != edge.Node.Cursor || edge.Cursor != sent[edge.Node.Body].Cursor {
			t.Errorf("%s: edge cursor %q, Message.cursor %q, sendMessage's cursor %q: want one cursor",
				edge.Node.Body, edge.Cursor, edge.Node.Cursor, sent[edge.Node.Body].Cursor)
		}
	}
	if pi := all.Messages.PageInfo; pi.StartCursor != sent["m1"].Cursor || pi.EndCursor != sent["m5"].Cursor {
		t.Errorf("pageInfo cursors %q, %q: want m1's and m5's", pi.StartCursor, pi.EndCursor)
	}

	// Message.cursor pages forwards and backwards.
	var fwd, back pageOfMessages
	e.ok(patel.AccessToken, messagesPage, map[string]any{"c": ch.ID, "first": 2, "after": sent["m2"].Cursor}, &fwd)
	if got := fwd.bodies(); got != "m3 m4" || !fwd.Messages.PageInfo.HasNextPage || !fwd.Messages.PageInfo.HasPreviousPage {
		t.Errorf("messages(after: m2.cursor, first: 2) = %q %+v, want m3 m4 with pages either side", got, fwd.Messages.PageInfo)
	}
	e.ok(patel.AccessToken, messagesPage, map[string]any{"c": ch.ID, "last": 2, "before": sent["m4"].Cursor}, &back)
	if got := back.bodies(); got != "m2 m3" || !back.Messages.PageInfo.HasPreviousPage {
		t.Errorf("messages(before: m4.cursor, last: 2) = %q %+v, want m2 m3 with an earlier page", got, back.Messages.PageInfo)
	}
	// The page's own endCursor carries on.
	e.ok(patel.AccessToken, messagesPage, map[string]any{"c": ch.ID, "first": 2, "after": fwd.Messages.PageInfo.EndCursor}, &fwd)
	if got := fwd.bodies(); got != "m5" || fwd.Messages.PageInfo.HasNextPage {
		t.Errorf("the next page after endCursor = %q %+v, want m5 and the end", got, fwd.Messages.PageInfo)
	}

	// An edge cursor resumes the one-channel and the all-channels stream
	// exactly: what was missed, once, then live.
	one := e.listen(t, patel.AccessToken, messageAdded, map[string]any{"c": ch.ID, "after": all.Messages.Edges[2].Cursor})
	every := e.listen(t, patel.AccessToken, messageAdded, map[string]any{"after": all.Messages.PageInfo.StartCursor})
	e.send(chen.AccessToken, ch.ID, "m6", nil)
	if got := one.bodies(3); fmt.Sprint(got) != "[m4 m5 m6]" {
		t.Errorf("one-channel stream resumed from m3's edge cursor got %v, want [m4 m5 m6]", got)
	}
	if got := every.bodies(5); fmt.Sprint(got) != "[m2 m3 m4 m5 m6]" {
		t.Errorf("all-channels stream resumed from pageInfo.startCursor got %v, want [m2 m3 m4 m5 m6]", got)
	}
	// A cursor the stream delivered pages the list.
	var streamed pageOfMessages
	e.ok(patel.AccessToken, messagesPage, map[string]any{"c": ch.ID, "last": 1, "before": sent["m5"].Cursor}, &streamed)
	if got := streamed.bodies(); got != "m4" {
		t.Errorf("messages(before: m5.cursor, last: 1) = %q, want m4", got)
	}
}

// TestMessageCursorsOfEarlierVersionsStillWork: the stream cursor earlier
// versions returned as Message.cursor (a client may have kept one across an
// upgrade) still pages messages and resumes messageAdded.
func TestMessageCursorsOfEarlierVersionsStillWork(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	var m2 messageInfo
	for _, b := range []string{"m1", "m2", "m3"} {
		if m := e.send(chen.AccessToken, ch.ID, b, nil); b == "m2" {
			m2 = m
		}
	}
	row, err := e.db.Client.Message.Query().Where(message.ID(pulid.ID(m2.ID))).
		Only(viewer.NewSystemContext(context.Background(), "test: the stream cursor of an earlier version"))
	if err != nil {
		t.Fatal(err)
	}
	old := messenger.CursorOf(row).String()
	if old == m2.Cursor {
		t.Fatal("the test needs the earlier encoding")
	}
	var p pageOfMessages
	e.ok(patel.AccessToken, messagesPage, map[string]any{"c": ch.ID, "first": 5, "after": old}, &p)
	if got := p.bodies(); got != "m3" {
		t.Errorf("messages(after: an earlier m2 cursor) = %q, want m3", got)
	}
	e.ok(patel.AccessToken, messagesPage, map[string]any{"c": ch.ID, "last": 5, "before": old}, &p)
	if got := p.bodies(); got != "m1" {
		t.Errorf("messages(before: an earlier m2 cursor) = %q, want m1", got)
	}
	s := e.listen(t, patel.AccessToken, messageAdded, map[string]any{"c": ch.ID, "after": old})
	if got := s.bodies(1); fmt.Sprint(got) != "[m3]" {
		t.Errorf("resumed from an earlier m2 cursor got %v, want [m3]", got)
	}
}

// TestCursorArgumentsAreChecked: after/before are Strings holding a cursor
// the list returned; anything else is BAD_USER_INPUT naming the argument,
// and a message's cursor pages only its own channel.
func TestCursorArgumentsAreChecked(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	a := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	b := e.open(chen.AccessToken, map[string]any{"userIDs": []string{e.login(demo.KimEmail).User.ID}})
	inA := e.send(chen.AccessToken, a.ID, "in a", nil)
	e.send(chen.AccessToken, b.ID, "in b", nil)

	for name, vars := range map[string]map[string]any{
		"garbage after":          {"c": b.ID, "first": 5, "after": "not a cursor"},
		"garbage before":         {"c": b.ID, "last": 5, "before": "not a cursor"},
		"another channel's":      {"c": b.ID, "first": 5, "after": inA.Cursor},
		"another list's (users)": {"c": b.ID, "first": 5, "after": e.userCursor(chen.AccessToken)},
	} {
		err := e.fails(chen.AccessToken, messagesPage, vars, "BAD_USER_INPUT")
		want := "after"
		if vars["before"] != nil {
			want = "before"
		}
		if err.Extensions["field"] != want {
			t.Errorf("%s: extensions %v, want field %q", name, err.Extensions, want)
		}
	}
	// Every other list: a String cursor it returned works, garbage is refused.
	var p1, p2 struct {
		Users struct {
			Edges    []struct{ Node struct{ Email string } }
			PageInfo struct{ EndCursor string }
		}
	}
	const users = `query($after: String) { users(first: 2, after: $after) { edges { node { email } } pageInfo { endCursor } } }`
	e.ok(chen.AccessToken, users, nil, &p1)
	e.ok(chen.AccessToken, users, map[string]any{"after": p1.Users.PageInfo.EndCursor}, &p2)
	if len(p2.Users.Edges) == 0 || p2.Users.Edges[0].Node.Email == p1.Users.Edges[0].Node.Email {
		t.Errorf("users after endCursor: %+v after %+v", p2, p1)
	}
	if err := e.fails(chen.AccessToken, users, map[string]any{"after": "###"}, "BAD_USER_INPUT"); err.Extensions["field"] != "after" {
		t.Errorf("users(after: garbage): %v", err.Extensions)
	}
	// A garbage or foreign cursor cannot resume the stream.
	for _, after := range []string{"not a cursor", e.userCursor(chen.AccessToken)} {
		c, _ := dialWS(t, e, map[string]any{"Authorization": "Bearer " + patel.AccessToken})
		c.send(map[string]any{"id": "x", "type": "subscribe", "payload": map[string]any{"query": messageAdded, "variables": map[string]any{"after": after}}})
		if msg, _ := c.read(5 * time.Second); !containsCode(msg, "BAD_USER_INPUT") {
			t.Errorf("messageAdded(after: %q): %v, want BAD_USER_INPUT", after, msg)
		}
	}
}

// userCursor is a cursor of the users list (not a message's).
func (e *env) userCursor(token string) string {
	var p struct {
		Users struct{ PageInfo struct{ EndCursor string } }
	}
	e.ok(token, `{ users(first: 1) { pageInfo { endCursor } } }`, nil, &p)
	return p.Users.PageInfo.EndCursor
}

// TestPageSizeIsCapped: first/last above the limit is refused with
// BAD_USER_INPUT / PAGE_TOO_LARGE before anything runs, on every list,
// nested ones and variables included; at the limit it is served, and a
// list asked for no page returns the default page (or the limit, when
// smaller).
func TestPageSizeIsCapped(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	for _, q := range []struct {
		query string
		vars  map[string]any
		field string
	}{
		{`{ users(first: 1000) { totalCount } }`, nil, "first"},
		{`{ users(first: 101) { totalCount } }`, nil, "first"},
		{`query($n: Int) { channels(last: $n) { totalCount } }`, map[string]any{"n": 1000}, "last"},
		{`{ labels { messages(first: 1000) { totalCount } } }`, nil, "first"},
		{`{ notifications(first: 500) { totalCount } }`, nil, "first"},
		{`query { ...F } fragment F on Query { patients(first: 101) { totalCount } }`, nil, "first"},
	} {
		err := e.fails(chen.AccessToken, q.query, q.vars, "BAD_USER_INPUT")
		if err.Extensions["reason"] != "PAGE_TOO_LARGE" || !strings.Contains(err.Message, "."+q.field+":") || !strings.Contains(err.Message, "100") {
			t.Errorf("%s: %q %v, want PAGE_TOO_LARGE on %s naming the limit", q.query, err.Message, err.Extensions, q.field)
		}
	}
	e.ok(chen.AccessToken, `{ users(first: 100) { totalCount } }`, nil, nil)

	// A smaller limit from the setting, and the default page under it.
	small := newEnv(t, withMaxPageSize(3))
	chen = small.login(demo.ChenEmail)
	small.fails(chen.AccessToken, `{ users(first: 4) { totalCount } }`, nil, "BAD_USER_INPUT")
	var out struct {
		Users struct {
			Edges      []struct{ Node struct{ ID string } }
			TotalCount int
		}
	}
	small.ok(chen.AccessToken, `{ users { totalCount edges { node { id } } } }`, nil, &out)
	if len(out.Users.Edges) != 3 || out.Users.TotalCount <= 3 {
		t.Errorf("users with no page under a limit of 3: %d of %d, want 3", len(out.Users.Edges), out.Users.TotalCount)
	}
}

// TestSchemaHasNoUnusedTypes: every input type and enum of the served
// schema is taken by some argument or field, and every list's after/before
// is a String (SPEC §7).
func TestSchemaHasNoUnusedTypes(t *testing.T) {
	s := graph.NewSchema(&graph.Resolver{}).Schema()
	used := map[string]bool{}
	for _, def := range s.Types {
		for _, f := range def.Fields {
			if f.Type.Name() != def.Name {
				used[f.Type.Name()] = true
			}
			for _, a := range f.Arguments {
				used[a.Type.Name()] = true
				if (a.Name == "after" || a.Name == "before") && a.Type.String() != "String" {
					t.Errorf("%s.%s(%s: %s): want String", def.Name, f.Name, a.Name, a.Type)
				}
			}
		}
	}
	var unused []string
	for name, def := range s.Types {
		if (def.Kind == ast.InputObject || def.Kind == ast.Enum) && !def.BuiltIn && !used[name] {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("types no argument or field takes: %v", unused)
	}
}

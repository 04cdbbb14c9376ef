package graph_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/graph/generated"
	"github.com/whisper-health/whisper/internal/demo"
)

// The field-level sweep of the patient portal (issue 12): the authorization
// matrix decides who may call each root field; this sweep asks, as a portal
// patient, for every field of every object the patient's root fields and
// mutations reach, to a bounded depth, and holds the promise that a
// field the patient may not read resolves to null or an empty list and
// never voids a result with an error.

// sweepDepth is how many object levels below a root field the sweep
// selects; connections, their edges and page info do not count as a level.
const sweepDepth = 4

// selector builds selection sets that name every field of a type.
type selector struct {
	schema *ast.Schema
	// fields counts the fields selected; skipped names those left out.
	fields  int
	skipped map[string]string
}

// wrapper reports whether a type is connection plumbing, which the depth
// does not count.
func wrapper(name string) bool {
	return strings.HasSuffix(name, "Connection") || strings.HasSuffix(name, "Edge") || name == "PageInfo"
}

// of is the selection set of every field of the named type, depth object
// levels deep (at depth 0 an object-valued field is still resolved, and
// answers its __typename).
func (s *selector) of(name string, depth int) string {
	def := s.schema.Types[name]
	switch def.Kind {
	case ast.Scalar, ast.Enum:
		return ""
	case ast.Interface, ast.Union:
		// Only the node root fields answer an interface; their roots name
		// the concrete type (sweepRoot.frag).
		return "{ __typename }"
	}
	var parts []string
	for _, f := range def.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		required := false
		for _, a := range f.Arguments {
			if a.Type.NonNull && a.DefaultValue == nil {
				required = true
			}
		}
		if required {
			s.skipped[name+"."+f.Name] = "a required argument the sweep has no value for"
			continue
		}
		s.fields++
		target := s.schema.Types[f.Type.Name()]
		switch {
		case target.Kind == ast.Scalar || target.Kind == ast.Enum:
			parts = append(parts, f.Name)
		case wrapper(target.Name):
			parts = append(parts, f.Name+" "+s.of(target.Name, depth))
		case depth == 0:
			parts = append(parts, f.Name+" { __typename }")
		default:
			parts = append(parts, f.Name+" "+s.of(target.Name, depth-1))
		}
	}
	if len(parts) == 0 {
		return "{ __typename }"
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

// sweepRoot is one root field the sweep asks for as the patient.
type sweepRoot struct {
	// field is the root field as the matrix names it ("Query.patients").
	field string
	// call is the operation up to the root field's selection, which the
	// sweep appends: "query($c: ID!) { messages(channelID: $c)".
	call string
	// of is the root field's type, whose every field is selected.
	of string
	// frag, for node and nodes, is the concrete type of the ids asked for
	// (fragments on every Node type would conflict with one another).
	frag string
	vars map[string]any
	// mutation: the data must be present and the errors empty even then.
	mutation bool
}

// TestPatientFieldSweep: as a portal patient, every field of every object
// her queries, mutations and streams reach (four object levels deep)
// resolves without an error (FORBIDDEN, NOT_FOUND, INTERNAL or any other) —
// to a value, null or an empty list — each mutation answers with its data,
// and nothing of another patient or of a staff-only conversation shows. Every root field the
// authorization matrix lets a patient call is swept.
func TestPatientFieldSweep(t *testing.T) {
	schema := generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{}}).Schema()
	// The documents are large: the sweep lifts the document limits.
	e := newEnv(t, withHandler(func(c *graph.HandlerConfig) {
		c.MaxDepth, c.MaxComplexity, c.MaxSelections = 1000, 1<<30, 1<<20
		c.MaxBodyBytes, c.ParserTokenLimit = 16<<20, 1<<22
	}))

	// Her world: a conversation Dr Chen started, with a reply, a label and
	// a read mark of his; consent changes by him and by Dr Patel (who has
	// never written to her); one she started herself; another patient's
	// conversation beside hers.
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	oliviaID, liamID := e.patientID(chen.AccessToken, "P0001"), e.patientID(chen.AccessToken, "P0002")
	conv := e.startPatient(chen.AccessToken, oliviaID, "Blood test results", "Your results are in.")
	e.startPatient(chen.AccessToken, liamID, "Flu vaccine", "It is due.")
	e.ok(chen.AccessToken, setConsent, map[string]any{"p": oliviaID, "s": "OPTED_OUT"}, nil)
	e.ok(patel.AccessToken, setConsent, map[string]any{"p": oliviaID, "m": "OPTED_IN"}, nil)
	olivia, refresh := e.portalLogin(demo.PortalEmails[0])
	hers := e.send(olivia, conv.ID, "Thank you", nil)
	staffMsg := e.send(chen.AccessToken, conv.ID, "Any questions?", nil)
	var label struct{ CreateLabel struct{ ID string } }
	e.ok(chen.AccessToken, `mutation { createLabel(name: "Follow up") { id } }`, nil, &label)
	e.ok(chen.AccessToken, `mutation($m: ID!, $l: ID!) { labelMessage(messageID: $m, labelID: $l) { id } }`,
		map[string]any{"m": staffMsg.ID, "l": label.CreateLabel.ID}, nil)
	e.ok(chen.AccessToken, `mutation($m: ID!) { replyToMessage(input: {messageID: $m, body: "See you soon", toAll: true}) { id } }`,
		map[string]any{"m": hers.ID}, nil)
	e.ok(chen.AccessToken, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, map[string]any{"c": conv.ID}, nil)
	// Dr Patel answers Dr Chen's message privately (a staff conversation
	// she may not read).
	e.ok(patel.AccessToken, `mutation($m: ID!) { replyToMessage(input: {messageID: $m, body: "Shall I take this one?", toAll: false}) { id } }`,
		map[string]any{"m": staffMsg.ID}, nil)
	// Dr Chen links her and another patient to a message in her
	// conversation and replies to it; Nurse Kim writes to her and is then
	// deactivated.
	linked := e.send(chen.AccessToken, conv.ID, "About your and your husband's bookings", map[string]any{"patientIDs": []string{oliviaID, liamID}})
	e.send(olivia, conv.ID, "Which booking?", nil)
	e.ok(chen.AccessToken, `mutation($m: ID!) { replyToMessage(input: {messageID: $m, body: "The blood test", toAll: true}) { id } }`,
		map[string]any{"m": linked.ID}, nil)
	kim, admin := e.login(demo.KimEmail), e.login(demo.AdminEmail)
	e.send(kim.AccessToken, conv.ID, "The nurse clinic is on Tuesdays.", nil)
	e.ok(admin.AccessToken, `mutation($id: ID!) { deactivateUser(id: $id) { id } }`, map[string]any{"id": kim.User.ID}, nil)
	var started struct{ StartPatientConversation struct{ ID string } }
	e.ok(olivia, `mutation { startPatientConversation(input: {topic: "Repeat prescription", body: "Could I have a repeat?"}) { id } }`, nil, &started)

	// Amelia is invited to the portal and accepts below.
	invite := e.invitePatient(admin.AccessToken, e.patientByName("Amelia"), "EMAIL")

	sel := &selector{schema: schema, skipped: map[string]string{}}
	roots := []sweepRoot{
		{field: "Query.patients", call: `query { patients(first: 5)`, of: "PatientConnection"},
		{field: "Query.patientConversations", call: `query { patientConversations(first: 10)`, of: "ChannelConnection"},
		{field: "Query.patientConversations", call: `query($p: ID!) { patientConversations(patientID: $p, first: 10)`, of: "ChannelConnection",
			vars: map[string]any{"p": oliviaID}},
		{field: "Query.messages", call: `query($c: ID!) { messages(channelID: $c, first: 10)`, of: "MessageConnection",
			vars: map[string]any{"c": conv.ID}},
		{field: "Query.node", call: `query($id: ID!) { node(id: $id)`, frag: "Channel", vars: map[string]any{"id": conv.ID}},
		{field: "Query.node", call: `query($id: ID!) { node(id: $id)`, frag: "Message", vars: map[string]any{"id": staffMsg.ID}},
		{field: "Query.node", call: `query($id: ID!) { node(id: $id)`, frag: "Patient", vars: map[string]any{"id": oliviaID}},
		{field: "Query.node", call: `query($id: ID!) { node(id: $id)`, frag: "User", vars: map[string]any{"id": chen.User.ID}},
		{field: "Query.nodes", call: `query($ids: [ID!]!) { nodes(ids: $ids)`, frag: "Message",
			vars: map[string]any{"ids": []string{hers.ID, staffMsg.ID}}},
		{field: "Mutation.sendMessage", call: `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "One more thing"})`, of: "Message",
			vars: map[string]any{"c": conv.ID}, mutation: true},
		{field: "Mutation.markChannelRead", call: `mutation($c: ID!) { markChannelRead(channelID: $c)`, of: "Channel",
			vars: map[string]any{"c": conv.ID}, mutation: true},
		{field: "Mutation.startPatientConversation", call: `mutation { startPatientConversation(input: {topic: "Travel vaccines", body: "Which do I need?"})`,
			of: "Channel", mutation: true},
		{field: "Mutation.patientRefreshSession", call: `mutation($r: String!) { patientRefreshSession(refreshToken: $r)`, of: "PatientAuthPayload",
			vars: map[string]any{"r": refresh}, mutation: true},
		{field: "Mutation.acceptPatientInvitation", call: `mutation($t: String!, $p: String!) { acceptPatientInvitation(token: $t, password: $p)`,
			of: "PatientAuthPayload", vars: map[string]any{"t": invite.Token, "p": portalPassword}, mutation: true},
		{field: "Mutation.patientLogin", call: `mutation($e: String!, $p: String!) { patientLogin(email: $e, password: $p)`, of: "PatientAuthPayload",
			vars: map[string]any{"e": demo.PortalEmails[0], "p": demo.Password}, mutation: true},
	}

	// Every root field the matrix lets a patient call is swept (logout and
	// requestPasswordReset answer a Boolean; the streams are swept below).
	swept := map[string]bool{"Mutation.logout": true, "Mutation.requestPasswordReset": true}
	for _, r := range roots {
		swept[r.field] = true
	}
	for _, row := range matrixTable {
		field, _, _ := strings.Cut(row.field, "/")
		want, err := parseWant(row.want)
		if err != nil {
			t.Fatal(err)
		}
		if want[pPatient] == ok && !strings.HasPrefix(field, "Subscription.") && !swept[field] {
			t.Errorf("the matrix lets a patient call %s, which the sweep does not ask for", field)
		}
	}

	failed, answered := 0, 0
	check := func(name string, data json.RawMessage, errs []gqlError, mutation bool) {
		t.Helper()
		answered += len(data)
		for _, theirs := range []string{"P0002", "Flu vaccine", liamID, "Shall I take this one?"} {
			if strings.Contains(string(data), theirs) {
				t.Errorf("%s: the answer shows %q, which is not hers to read", name, theirs)
			}
		}
		for _, er := range errs {
			failed++
			t.Errorf("%s: %s at %v: %s", name, er.Code(), er.Path, er.Message)
		}
		var root map[string]json.RawMessage
		_ = json.Unmarshal(data, &root)
		for field, v := range root {
			if string(v) == "null" || (mutation && len(errs) > 0) {
				t.Errorf("%s: %s answered %s with errors %v, want its data", name, field, v, errs)
			}
		}
		if len(root) != 1 {
			t.Errorf("%s: answered %s", name, data)
		}
	}
	for _, r := range roots {
		var doc string
		if r.frag != "" {
			doc = r.call + " { __typename ... on " + r.frag + " " + sel.of(r.frag, sweepDepth) + " } }"
		} else {
			doc = r.call + " " + sel.of(r.of, sweepDepth) + " }"
		}
		token := olivia
		if strings.HasPrefix(r.field, "Mutation.patient") || r.field == "Mutation.acceptPatientInvitation" {
			token = ""
		}
		res := e.do(token, doc, r.vars)
		check(fmt.Sprintf("%s %v", r.field, r.vars), res.Data, res.Errors, r.mutation)
	}

	// The streams: the first event of each, selected in full.
	streams := []struct{ name, doc string }{
		{"Subscription.messageAdded", `subscription { messageAdded ` + sel.of("Message", sweepDepth) + ` }`},
		{"Subscription.unreadBadge", `subscription { unreadBadge ` + sel.of("UnreadBadge", sweepDepth) + ` }`},
		{"Subscription.channelUpdated", `subscription { channelUpdated ` + sel.of("ChannelEvent", sweepDepth) + ` }`},
	}
	for _, s := range streams {
		sub := e.listen(t, olivia, s.doc, nil)
		switch s.name {
		case "Subscription.messageAdded":
			e.send(chen.AccessToken, conv.ID, "Live for "+s.name, nil)
		case "Subscription.channelUpdated":
			e.startPatient(chen.AccessToken, oliviaID, "Referral", "Your referral is sent.")
		}
		msg, err := sub.c.read(10 * time.Second)
		sub.c.send(map[string]any{"id": "s", "type": "complete"})
		if err != nil {
			t.Errorf("%s: no event: %v", s.name, err)
			continue
		}
		p, _ := msg["payload"].(map[string]any)
		raw, _ := json.Marshal(p["errors"])
		var errs []gqlError
		_ = json.Unmarshal(raw, &errs)
		data, _ := json.Marshal(p["data"])
		if msg["type"] != "next" {
			t.Errorf("%s: got %v, want an event", s.name, msg)
			continue
		}
		check(s.name, data, errs, false)
	}

	var skipped []string
	for k, why := range sel.skipped {
		skipped = append(skipped, k+" ("+why+")")
	}
	sort.Strings(skipped)
	t.Logf("patient field sweep: %d roots and %d streams, %d fields selected, %d bytes answered, %d errors; skipped: %s",
		len(roots), len(streams), sel.fields, answered, failed, strings.Join(skipped, ", "))
}

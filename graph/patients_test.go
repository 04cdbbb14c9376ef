package graph_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
)

const startPatientMutation = `mutation($in: StartPatientConversationInput!) {
  startPatientConversation(input: $in) { id kind topic messageCount unreadCount patient { patientNumber } } }`

type patientConv struct {
	ID, Kind, Topic string
	MessageCount    int
	UnreadCount     int
	Patient         struct{ FirstName, LastName, Initials, PatientNumber string }
	LastMessage     *struct {
		Body   string
		Sender *struct{ Email string }
	}
}

const patientListQuery = `query($f: PatientConversationFilter) { patientConversations(filter: $f) {
  totalCount edges { node { id kind topic messageCount unreadCount
    patient { firstName lastName initials patientNumber } lastMessage { body sender { email } } } } } }`

type statsOut struct {
	TotalConversations, UnreadMessages, UniquePatients, TotalMessages int
}

const statsQuery = `{ conversationStats { totalConversations unreadMessages uniquePatients totalMessages } }`

func (e *env) startPatient(token, patientID, topic, body string) patientConv {
	e.t.Helper()
	var out struct{ StartPatientConversation patientConv }
	e.ok(token, startPatientMutation, map[string]any{"in": map[string]any{"patientID": patientID, "topic": topic, "body": body}}, &out)
	return out.StartPatientConversation
}

func (e *env) patientList(token string, filter map[string]any) []patientConv {
	e.t.Helper()
	var out struct {
		PatientConversations struct {
			TotalCount int
			Edges      []struct{ Node patientConv }
		}
	}
	e.ok(token, patientListQuery, map[string]any{"f": filter}, &out)
	var list []patientConv
	for _, edge := range out.PatientConversations.Edges {
		list = append(list, edge.Node)
	}
	if out.PatientConversations.TotalCount != len(list) {
		e.t.Fatalf("totalCount %d, %d edges", out.PatientConversations.TotalCount, len(list))
	}
	return list
}

func (e *env) stats(token string) statsOut {
	e.t.Helper()
	var out struct{ ConversationStats statsOut }
	e.ok(token, statsQuery, nil, &out)
	return out.ConversationStats
}

func topics(list []patientConv) string {
	var ts []string
	for _, c := range list {
		ts = append(ts, c.Topic)
	}
	return strings.Join(ts, ",")
}

// TestPatientConversations: a staff member starts a patient conversation,
// the whole care team sees it and may answer it, each with their own read
// state; the list filters and searches; the statistics follow; bad input and
// viewers outside the care team are refused.
func TestPatientConversations(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim, admin := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail), e.login(demo.AdminEmail)
	olivia := e.patientID(chen.AccessToken, "P0001")
	liam := e.patientID(chen.AccessToken, "P0002")

	// Bad input writes nothing.
	for name, in := range map[string]map[string]any{
		"unknown patient": {"patientID": chen.User.ID, "topic": "Results", "body": "hello"},
		"empty topic":     {"patientID": olivia, "topic": "  ", "body": "hello"},
		"long topic":      {"patientID": olivia, "topic": strings.Repeat("x", 201), "body": "hello"},
		"empty body":      {"patientID": olivia, "topic": "Results", "body": " "},
	} {
		t.Run(name, func(t *testing.T) {
			e.with(t).fails(chen.AccessToken, startPatientMutation, map[string]any{"in": in}, "BAD_USER_INPUT")
		})
	}
	if st := e.stats(chen.AccessToken); st != (statsOut{}) {
		t.Fatalf("stats after refused starts = %+v, want all zero", st)
	}
	// Outside the care team.
	in := map[string]any{"in": map[string]any{"patientID": olivia, "topic": "Results", "body": "hello"}}
	e.fails(demo.IntegrationKey, startPatientMutation, in, "FORBIDDEN")
	e.fails("", startPatientMutation, in, "UNAUTHENTICATED")
	e.fails(demo.IntegrationKey, patientListQuery, nil, "FORBIDDEN")
	e.fails(demo.IntegrationKey, statsQuery, nil, "FORBIDDEN")
	e.fails("", statsQuery, nil, "UNAUTHENTICATED")

	bloods := e.startPatient(chen.AccessToken, olivia, "Blood test results", "Your results are in; all normal.")
	if bloods.Kind != "PATIENT" || bloods.Topic != "Blood test results" || bloods.MessageCount != 1 ||
		bloods.UnreadCount != 0 || bloods.Patient.PatientNumber != "P0001" {
		t.Fatalf("started conversation = %+v", bloods)
	}
	// Patel never joined, yet shares it as care team: one unread message.
	list := e.patientList(patel.AccessToken, nil)
	if len(list) != 1 {
		t.Fatalf("patel's list = %+v", list)
	}
	got := list[0]
	if got.ID != bloods.ID || got.UnreadCount != 1 || got.MessageCount != 1 || got.Patient.FirstName != "Olivia" ||
		got.Patient.LastName != "Brown" || got.Patient.Initials != "OB" || got.Patient.PatientNumber != "P0001" ||
		got.LastMessage == nil || got.LastMessage.Body != "Your results are in; all normal." ||
		got.LastMessage.Sender == nil || got.LastMessage.Sender.Email != demo.ChenEmail {
		t.Fatalf("patel's list item = %+v", got)
	}
	if st := e.stats(patel.AccessToken); st != (statsOut{TotalConversations: 1, UnreadMessages: 1, UniquePatients: 1, TotalMessages: 1}) {
		t.Fatalf("patel's stats = %+v", st)
	}
	if st := e.stats(chen.AccessToken); st.UnreadMessages != 0 {
		t.Fatalf("chen's stats = %+v, want nothing unread", st)
	}

	// Patel answers without being added; now Chen has one unread.
	e.send(patel.AccessToken, bloods.ID, "I can go through them on Friday.", nil)
	if l := e.patientList(chen.AccessToken, nil); len(l) != 1 || l[0].UnreadCount != 1 || l[0].MessageCount != 2 {
		t.Fatalf("chen's list after patel's reply = %+v", l)
	}
	if l := e.patientList(patel.AccessToken, nil); len(l) != 1 || l[0].UnreadCount != 0 {
		t.Fatalf("patel's list after replying = %+v", l)
	}

	flu := e.startPatient(kim.AccessToken, liam, "Flu vaccine", "Your flu vaccine is due.")
	// Newest activity first; read filters per viewer.
	if l := e.patientList(chen.AccessToken, nil); topics(l) != "Flu vaccine,Blood test results" {
		t.Fatalf("chen's list order = %s", topics(l))
	}
	if l := e.patientList(chen.AccessToken, map[string]any{"read": "UNREAD"}); topics(l) != "Flu vaccine,Blood test results" {
		t.Fatalf("chen's unread = %s", topics(l))
	}
	var read struct{ MarkChannelRead struct{ UnreadCount int } }
	e.ok(chen.AccessToken, `mutation($c: ID!) { markChannelRead(channelID: $c) { unreadCount } }`, map[string]any{"c": bloods.ID}, &read)
	if read.MarkChannelRead.UnreadCount != 0 {
		t.Fatalf("after markChannelRead unreadCount = %d", read.MarkChannelRead.UnreadCount)
	}
	if l := e.patientList(chen.AccessToken, map[string]any{"read": "UNREAD"}); topics(l) != "Flu vaccine" {
		t.Fatalf("chen's unread after reading = %s", topics(l))
	}
	if l := e.patientList(chen.AccessToken, map[string]any{"read": "READ"}); topics(l) != "Blood test results" {
		t.Fatalf("chen's read = %s", topics(l))
	}
	if l := e.patientList(chen.AccessToken, map[string]any{"read": "ALL"}); len(l) != 2 {
		t.Fatalf("chen's all = %s", topics(l))
	}
	// Patel never opened the flu conversation: reading it joins him.
	e.ok(patel.AccessToken, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, map[string]any{"c": flu.ID}, nil)
	if l := e.patientList(patel.AccessToken, map[string]any{"read": "UNREAD"}); len(l) != 0 {
		t.Fatalf("patel's unread after reading both = %s", topics(l))
	}

	// Search by topic, patient name, patient number; every word must match.
	for term, want := range map[string]string{
		"vaccine":      "Flu vaccine",
		"olivia":       "Blood test results",
		"WILSON":       "Flu vaccine",
		"P0001":        "Blood test results",
		"olivia blood": "Blood test results",
		"olivia flu":   "",
		"nobody":       "",
	} {
		if l := e.patientList(chen.AccessToken, map[string]any{"search": term}); topics(l) != want {
			t.Errorf("search %q = %q, want %q", term, topics(l), want)
		}
	}

	if st := e.stats(chen.AccessToken); st != (statsOut{TotalConversations: 2, UnreadMessages: 1, UniquePatients: 2, TotalMessages: 3}) {
		t.Fatalf("chen's stats = %+v", st)
	}
	e.startPatient(patel.AccessToken, olivia, "Referral", "Referral letter sent.")
	if st := e.stats(admin.AccessToken); st != (statsOut{TotalConversations: 3, UnreadMessages: 4, UniquePatients: 2, TotalMessages: 4}) {
		t.Fatalf("admin's stats = %+v", st)
	}

	// Opening a patient conversation's messages is in the access log.
	e.messages(admin.AccessToken, bloods.ID)
	var log struct {
		AccessLog struct {
			Edges []struct {
				Node struct {
					Action string
					Actor  struct{ Email string }
				}
			}
		}
	}
	e.ok(admin.AccessToken, `query($p: ID) { accessLog(filter: {patientID: $p}) { edges { node { action actor { email } } } } }`,
		map[string]any{"p": olivia}, &log)
	found := false
	for _, edge := range log.AccessLog.Edges {
		found = found || (edge.Node.Action == "OPEN_PATIENT_CONVERSATION" && edge.Node.Actor.Email == demo.AdminEmail)
	}
	if !found {
		t.Errorf("access log for the patient = %+v, want the admin opening the conversation", log.AccessLog.Edges)
	}
	// The integration account sees no patient conversation by id either.
	e.fails(demo.IntegrationKey, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": bloods.ID}, "NOT_FOUND")
}

// TestConversationStatsUpdated: the subscription gives the current figures,
// then new ones after a patient-conversation message (sent by anyone) and
// after the viewer reads; viewers outside the care team are refused.
func TestConversationStatsUpdated(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	olivia := e.patientID(chen.AccessToken, "P0001")
	first := e.startPatient(chen.AccessToken, olivia, "Blood test results", "All normal.")

	sub := e.subscribe(t, patel.AccessToken, `subscription { conversationStatsUpdated { totalConversations unreadMessages uniquePatients totalMessages } }`, nil)
	// Figures are a state: wait until they show want (a repeat may come first).
	await := func(want statsOut) statsOut {
		t.Helper()
		var got statsOut
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			d := sub.next(time.Until(deadline))
			if d == nil {
				break
			}
			raw, _ := json.Marshal(d["conversationStatsUpdated"])
			got = statsOut{}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if got == want {
				return got
			}
		}
		return got
	}
	if want, got := (statsOut{1, 1, 1, 1}), await(statsOut{1, 1, 1, 1}); got != want {
		t.Fatalf("initial stats %+v, want %+v", got, want)
	}
	e.send(chen.AccessToken, first.ID, "Any questions, call us.", nil)
	if want, got := (statsOut{1, 2, 1, 2}), await(statsOut{1, 2, 1, 2}); got != want {
		t.Fatalf("after a message %+v, want %+v", got, want)
	}
	liam := e.patientID(chen.AccessToken, "P0002")
	e.startPatient(chen.AccessToken, liam, "Flu vaccine", "It is due.")
	if want, got := (statsOut{2, 3, 2, 3}), await(statsOut{2, 3, 2, 3}); got != want {
		t.Fatalf("after a new conversation %+v, want %+v", got, want)
	}
	e.ok(patel.AccessToken, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, map[string]any{"c": first.ID}, nil)
	if want, got := (statsOut{2, 1, 2, 3}), await(statsOut{2, 1, 2, 3}); got != want {
		t.Fatalf("after reading %+v, want %+v", got, want)
	}

	c, _ := dialWS(t, e, map[string]any{"Authorization": "Bearer " + demo.IntegrationKey})
	c.send(map[string]any{"id": "x", "type": "subscribe", "payload": map[string]any{"query": `subscription { conversationStatsUpdated { totalConversations } }`}})
	if msg, _ := c.read(5 * time.Second); !containsCode(msg, "FORBIDDEN") {
		t.Errorf("integration subscription got %v, want FORBIDDEN", msg)
	}
}

const patientLoginMutation = `mutation($e: String!, $p: String!) {
  patientLogin(email: $e, password: $p) { accessToken expiresAt patient { patientNumber } } }`

// TestPatientPortal: a demo patient with a portal password signs in with
// patientLogin (staff login refuses them), sees only their own patient
// conversations, answers in them as themself, and cannot reach another
// patient's conversation, staff channels, staff users or staff mutations.
func TestPatientPortal(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	oliviaID, liamID, charlotteID := e.patientID(chen.AccessToken, "P0001"), e.patientID(chen.AccessToken, "P0002"), e.patientID(chen.AccessToken, "P0003")
	mine := e.startPatient(chen.AccessToken, oliviaID, "Blood test results", "Your results are in.")
	theirs := e.startPatient(chen.AccessToken, liamID, "Flu vaccine", "It is due.")
	staffOnly := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})

	// Wrong password, unknown email, a patient without portal access, and
	// staff login with a patient's address all fail alike.
	for name, cred := range map[string][2]string{
		"wrong password":   {demo.PortalEmails[0], "nope"},
		"unknown email":    {"nobody@example.com", demo.Password},
		"no portal access": {"noah.smith@example.com", demo.Password},
	} {
		t.Run(name, func(t *testing.T) {
			e.with(t).fails("", patientLoginMutation, map[string]any{"e": cred[0], "p": cred[1]}, "UNAUTHENTICATED")
		})
	}
	e.fails("", loginMutation, map[string]any{"e": demo.PortalEmails[0], "p": demo.Password}, "UNAUTHENTICATED")
	e.fails("", patientLoginMutation, map[string]any{"e": demo.ChenEmail, "p": demo.Password}, "UNAUTHENTICATED")

	var out struct {
		PatientLogin struct {
			AccessToken string
			Patient     struct{ PatientNumber string }
		}
	}
	e.ok("", patientLoginMutation, map[string]any{"e": " Olivia.Brown@example.com", "p": demo.Password}, &out)
	if out.PatientLogin.Patient.PatientNumber != "P0001" || out.PatientLogin.AccessToken == "" {
		t.Fatalf("patientLogin = %+v", out.PatientLogin)
	}
	olivia := out.PatientLogin.AccessToken

	var list struct {
		PatientConversations struct {
			Edges []struct {
				Node struct {
					ID, Topic   string
					LastMessage struct{ Body string }
				}
			}
		}
	}
	e.ok(olivia, `{ patientConversations { edges { node { id topic lastMessage { body } } } } }`, nil, &list)
	if len(list.PatientConversations.Edges) != 1 || list.PatientConversations.Edges[0].Node.ID != mine.ID ||
		list.PatientConversations.Edges[0].Node.LastMessage.Body != "Your results are in." {
		t.Fatalf("olivia's conversations = %+v", list.PatientConversations.Edges)
	}
	var msgs struct {
		Messages struct {
			Edges []struct{ Node struct{ Body string } }
		}
	}
	e.ok(olivia, `query($c: ID!) { messages(channelID: $c) { edges { node { body } } } }`, map[string]any{"c": mine.ID}, &msgs)
	if len(msgs.Messages.Edges) != 1 || msgs.Messages.Edges[0].Node.Body != "Your results are in." {
		t.Fatalf("olivia's messages = %+v", msgs.Messages.Edges)
	}

	// She answers as herself; the care team sees it unread.
	var sent struct {
		SendMessage struct {
			Sender        *struct{ ID string }
			SenderPatient *struct{ PatientNumber string }
		}
	}
	e.ok(olivia, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { senderPatient { patientNumber } } }`,
		map[string]any{"in": map[string]any{"channelID": mine.ID, "body": "Thank you, doctor."}}, &sent)
	if sent.SendMessage.SenderPatient == nil || sent.SendMessage.SenderPatient.PatientNumber != "P0001" {
		t.Fatalf("olivia's message = %+v", sent.SendMessage)
	}
	if l := e.patientList(chen.AccessToken, map[string]any{"search": "olivia"}); len(l) != 1 || l[0].UnreadCount != 1 ||
		l[0].LastMessage == nil || l[0].LastMessage.Body != "Thank you, doctor." || l[0].LastMessage.Sender != nil {
		t.Fatalf("chen's view after olivia's answer = %+v", l)
	}

	// Denials: other patients' and staff channels, staff users, other
	// patients' records, staff operations; and nothing written.
	node := `query($id: ID!) { node(id: $id) { id } }`
	for name, id := range map[string]string{
		"another patient's conversation":         theirs.ID,
		"a staff channel":                        staffOnly.ID,
		"a staff user outside her conversations": patel.User.ID,
		"another patient":                        charlotteID,
	} {
		t.Run(name, func(t *testing.T) {
			r := e.with(t).do(olivia, node, map[string]any{"id": id})
			if len(r.Errors) == 0 {
				t.Fatalf("node(%s) = %s, want an error", name, r.Data)
			}
			if c := r.Errors[0].Code(); c != "NOT_FOUND" && c != "FORBIDDEN" {
				t.Fatalf("node(%s) code %s", name, c)
			}
		})
	}
	e.fails(olivia, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"channelID": theirs.ID, "body": "hello"}}, "NOT_FOUND")
	e.fails(olivia, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"channelID": staffOnly.ID, "body": "hello"}}, "NOT_FOUND")
	e.fails(olivia, `query($c: ID!) { messages(channelID: $c) { edges { node { body } } } }`, map[string]any{"c": theirs.ID}, "NOT_FOUND")
	e.fails(olivia, startPatientMutation, map[string]any{"in": map[string]any{"patientID": liamID, "topic": "x", "body": "y"}}, "BAD_USER_INPUT")
	e.fails(olivia, statsQuery, nil, "FORBIDDEN")
	e.fails(olivia, `{ channels { totalCount } }`, nil, "FORBIDDEN")
	if st := e.stats(chen.AccessToken); st.TotalMessages != 3 {
		t.Fatalf("messages after refused patient sends = %d, want 3", st.TotalMessages)
	}

	// Guessing is throttled: after repeated failures even the right
	// password is refused, with the same code.
	liam := map[string]any{"e": demo.PortalEmails[1], "p": "guess"}
	for i := 0; i < 10; i++ {
		e.fails("", patientLoginMutation, liam, "UNAUTHENTICATED")
	}
	liam["p"] = demo.Password
	if err := e.fails("", patientLoginMutation, liam, "UNAUTHENTICATED"); !strings.Contains(err.Message, "too many") {
		t.Errorf("sign-in after repeated failures: %q, want the throttle", err.Message)
	}
}

// TestPatientAutoReply: the patient auto-reply of the staff member who
// started a patient conversation answers the patient's messages there at
// most once per conversation per day, and not after its end date; it never
// answers staff messages.
func TestPatientAutoReply(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	conv := e.startPatient(chen.AccessToken, e.patientID(chen.AccessToken, "P0001"), "Blood test results", "Your results are in.")
	until := e.clock.Now().Add(36 * time.Hour).Format(time.RFC3339)
	e.ok(chen.AccessToken, `mutation($u: Time) { updatePreferences(input: {patientAutoReply: {text: "Dr Chen is away; the nurse will call you.", until: $u}}) { id } }`,
		map[string]any{"u": until}, nil)
	signIn := func() string {
		var out struct{ PatientLogin struct{ AccessToken string } }
		e.ok("", patientLoginMutation, map[string]any{"e": demo.PortalEmails[0], "p": demo.Password}, &out)
		return out.PatientLogin.AccessToken
	}
	autoReplies := func() int {
		var out struct {
			Messages struct {
				Edges []struct {
					Node struct {
						Kind, Body string
						Sender     *struct{ Email string }
					}
				}
			}
		}
		e.ok(chen.AccessToken, `query($c: ID!) { messages(channelID: $c, first: 100) { edges { node { kind body sender { email } } } } }`,
			map[string]any{"c": conv.ID}, &out)
		n := 0
		for _, edge := range out.Messages.Edges {
			if m := edge.Node; m.Kind == "AUTO_REPLY" {
				if m.Sender == nil || m.Sender.Email != demo.ChenEmail || m.Body != "Dr Chen is away; the nurse will call you." {
					t.Fatalf("auto-reply = %+v", m)
				}
				n++
			}
		}
		return n
	}
	send := func(token, body string) {
		t.Helper()
		e.ok(token, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"channelID": conv.ID, "body": body}}, nil)
	}
	send(patel.AccessToken, "Staff note")
	if n := autoReplies(); n != 0 {
		t.Fatalf("auto-replies to a staff message = %d", n)
	}
	olivia := signIn()
	send(olivia, "Thank you")
	send(olivia, "One more question")
	if n := autoReplies(); n != 1 {
		t.Fatalf("auto-replies on day one = %d, want 1", n)
	}
	// The auto-reply is not Dr Chen reading: the conversation stays one
	// open PATIENT_PORTAL notification (his read mark, which names it, did
	// not move), and everything since his first message is unread for him:
	// Dr Patel's note, the patient's two messages and the auto-reply.
	if n := e.portalNotifications(chen.AccessToken); n != 1 {
		t.Errorf("Dr Chen's PATIENT_PORTAL notifications after his auto-reply = %d, want 1 for the conversation", n)
	}
	if c := e.channel(chen.AccessToken, conv.ID); c.UnreadCount != 4 {
		t.Errorf("Dr Chen's unread after his auto-reply = %d, want 4", c.UnreadCount)
	}
	e.clock.Advance(25 * time.Hour)
	chen, olivia = e.login(demo.ChenEmail), signIn()
	send(olivia, "Next day")
	if n := autoReplies(); n != 2 {
		t.Fatalf("auto-replies after a day = %d, want 2", n)
	}
	e.clock.Advance(25 * time.Hour) // past its end date
	chen, olivia = e.login(demo.ChenEmail), signIn()
	send(olivia, "Are you back?")
	if n := autoReplies(); n != 2 {
		t.Fatalf("auto-replies after the end date = %d, want 2", n)
	}
}

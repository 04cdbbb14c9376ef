package graph_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
)

// The patient side of patient conversations (issue 12, SPEC §12), through
// the real handler and websockets.

// portalLogin signs a demo portal patient in and returns their tokens.
func (e *env) portalLogin(email string) (access, refresh string) {
	e.t.Helper()
	var out struct {
		PatientLogin struct{ AccessToken, RefreshToken string }
	}
	e.ok("", `mutation($e: String!, $p: String!) { patientLogin(email: $e, password: $p) { accessToken refreshToken } }`,
		map[string]any{"e": email, "p": demo.Password}, &out)
	if out.PatientLogin.AccessToken == "" || !strings.HasPrefix(out.PatientLogin.RefreshToken, "wr_") {
		e.t.Fatalf("patientLogin = %+v, want an access and a refresh token", out.PatientLogin)
	}
	return out.PatientLogin.AccessToken, out.PatientLogin.RefreshToken
}

// TestPatientSeesStaffByNameOnly: asking for staff fields a patient may not
// read never voids the result: the staff who write to them show their name
// and job title; email, mobile, groups, permissions and preferences are
// null or empty; a patient's own send answers with its sender; staff still
// read everything; staff outside the patient's conversations are not found.
func TestPatientSeesStaffByNameOnly(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	conv := e.startPatient(chen.AccessToken, e.patientID(chen.AccessToken, "P0001"), "Blood test results", "Your results are in.")
	olivia, _ := e.portalLogin(demo.PortalEmails[0])

	const staffFields = `name jobTitle email mobile securityGroups { id } permissions preferences { keepHidden }`
	type staff struct {
		Name           string
		JobTitle       *string
		Email, Mobile  *string
		SecurityGroups []struct{ ID string }
		Permissions    []string
		Preferences    *struct{ KeepHidden bool }
	}
	hidden := func(who string, s staff) {
		t.Helper()
		if s.Name == "" || s.Email != nil || s.Mobile != nil || len(s.SecurityGroups) != 0 || len(s.Permissions) != 0 || s.Preferences != nil {
			t.Errorf("%s as the patient reads it = %+v, want a name and nothing private", who, s)
		}
	}
	var msgs struct {
		Messages struct {
			Edges []struct {
				Node struct {
					Body    string
					Notify  bool
					Sender  *staff
					Channel struct{ Members []staff }
				}
			}
		}
	}
	r := e.do(olivia, `query($c: ID!) { messages(channelID: $c, first: 5) { edges { node { body notify sender { `+staffFields+` }
		channel { members { `+staffFields+` } } } } } }`, map[string]any{"c": conv.ID})
	if len(r.Errors) > 0 {
		t.Fatalf("messages with staff fields as the patient: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, &msgs); err != nil {
		t.Fatal(err)
	}
	if len(msgs.Messages.Edges) != 1 || msgs.Messages.Edges[0].Node.Sender == nil {
		t.Fatalf("messages = %+v, want Dr Chen's message with its sender", msgs.Messages.Edges)
	}
	node := msgs.Messages.Edges[0].Node
	hidden("the sender", *node.Sender)
	if !node.Notify {
		t.Errorf("Dr Chen's message does not notify the patient")
	}
	if len(node.Channel.Members) != 1 {
		t.Fatalf("members = %+v, want Dr Chen", node.Channel.Members)
	}
	hidden("a member", node.Channel.Members[0])

	// Her own message answers with the staff it is among, not FORBIDDEN.
	var sent struct {
		SendMessage struct {
			Notify        bool
			Sender        *staff
			SenderPatient *struct{ PatientNumber string }
			Channel       struct{ Members []staff }
		}
	}
	e.ok(olivia, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { notify sender { name } senderPatient { patientNumber }
		channel { members { `+staffFields+` } } } }`,
		map[string]any{"in": map[string]any{"channelID": conv.ID, "body": "Thank you"}}, &sent)
	if sent.SendMessage.Sender != nil || sent.SendMessage.SenderPatient == nil || len(sent.SendMessage.Channel.Members) != 1 || sent.SendMessage.Notify {
		t.Fatalf("the patient's send = %+v", sent.SendMessage)
	}

	// Staff read every field.
	var staffView struct {
		Messages struct {
			Edges []struct{ Node struct{ Sender *staff } }
		}
	}
	e.ok(patel.AccessToken, `query($c: ID!) { messages(channelID: $c, first: 1) { edges { node { sender { `+staffFields+` } } } } }`,
		map[string]any{"c": conv.ID}, &staffView)
	if s := staffView.Messages.Edges[0].Node.Sender; s == nil || s.Email == nil || *s.Email != demo.ChenEmail ||
		len(s.SecurityGroups) == 0 || len(s.Permissions) == 0 || s.Preferences == nil {
		t.Fatalf("Dr Chen as staff read him = %+v", s)
	}

	// Staff outside her conversations are as missing as nobody; the
	// directory stays closed.
	e.fails(olivia, `query($id: ID!) { node(id: $id) { ... on User { name } } }`, map[string]any{"id": patel.User.ID}, "NOT_FOUND")
	e.fails(olivia, `{ users { totalCount } }`, nil, "FORBIDDEN")
}

// TestPatientReadStateAndLive: a patient keeps a read mark in their own
// conversations (their own messages are read), filters and searches their
// list by it, and follows their conversations live — messageAdded (all,
// one, resumed with after:), unreadBadge and channelUpdated — and nothing
// of another patient's.
func TestPatientReadStateAndLive(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	oliviaID, liamID := e.patientID(chen.AccessToken, "P0001"), e.patientID(chen.AccessToken, "P0002")
	bloods := e.startPatient(chen.AccessToken, oliviaID, "Blood test results", "Your results are in.")
	theirs := e.startPatient(chen.AccessToken, liamID, "Flu vaccine", "It is due.")
	olivia, _ := e.portalLogin(demo.PortalEmails[0])

	if l := e.patientList(olivia, map[string]any{"read": "UNREAD"}); topics(l) != "Blood test results" || l[0].UnreadCount != 1 {
		t.Fatalf("unread list = %+v", l)
	}
	var read struct{ MarkChannelRead struct{ UnreadCount int } }
	e.ok(olivia, `mutation($c: ID!) { markChannelRead(channelID: $c) { unreadCount } }`, map[string]any{"c": bloods.ID}, &read)
	if read.MarkChannelRead.UnreadCount != 0 {
		t.Fatalf("unreadCount after markChannelRead = %d", read.MarkChannelRead.UnreadCount)
	}
	if l := e.patientList(olivia, map[string]any{"read": "UNREAD"}); len(l) != 0 {
		t.Fatalf("unread after reading = %s", topics(l))
	}
	if l := e.patientList(olivia, map[string]any{"read": "READ", "search": "blood"}); topics(l) != "Blood test results" {
		t.Fatalf("read + search = %s", topics(l))
	}
	if l := e.patientList(olivia, map[string]any{"search": "vaccine"}); len(l) != 0 {
		t.Fatalf("search finds another patient's conversation: %s", topics(l))
	}
	e.fails(olivia, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, map[string]any{"c": theirs.ID}, "NOT_FOUND")

	// Live: her stream has her conversation's messages only.
	all := e.listen(t, olivia, messageAdded, nil)
	one := e.listen(t, olivia, messageAdded, map[string]any{"c": bloods.ID})
	badge := e.listen(t, olivia, `subscription { unreadBadge { total channels { channel { id unreadCount } unread } } }`, nil)
	changes := e.listen(t, olivia, `subscription { channelUpdated { type channel { id topic } } }`, nil)
	if d := badge.next(5 * time.Second); badgeTotal(t, d) != 0 {
		t.Fatalf("first badge = %v, want 0", d)
	}
	e.send(chen.AccessToken, theirs.ID, "For Liam only", nil)
	e.send(chen.AccessToken, bloods.ID, "Any questions?", nil)
	body, cursor := all.message(5 * time.Second)
	if body != "Any questions?" {
		t.Fatalf("her stream got %q, want Dr Chen's answer (and never Liam's)", body)
	}
	if body, _ := one.message(5 * time.Second); body != "Any questions?" {
		t.Fatalf("her one-channel stream got %q", body)
	}
	if d := awaitBadge(t, badge, 1); badgeTotal(t, d) != 1 {
		t.Fatalf("badge after a staff message = %v, want 1", d)
	}
	// Her own message is read; reading moves the badge.
	e.send(olivia, bloods.ID, "Yes, one", nil)
	if d := awaitBadge(t, badge, 0); badgeTotal(t, d) != 0 {
		t.Fatalf("badge after her own message = %v, want 0", d)
	}
	if body, _ := all.message(5 * time.Second); body != "Yes, one" {
		t.Fatalf("her stream got %q, want her own message", body)
	}
	e.send(chen.AccessToken, bloods.ID, "Go ahead", nil)
	awaitBadge(t, badge, 1)
	e.ok(olivia, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, map[string]any{"c": bloods.ID}, nil)
	if d := awaitBadge(t, badge, 0); badgeTotal(t, d) != 0 {
		t.Fatalf("badge after reading = %v, want 0", d)
	}

	// Resume from the cursor she saw: what she missed, once, in order.
	resumed := e.listen(t, olivia, messageAdded, map[string]any{"after": cursor})
	if got := resumed.bodies(2); strings.Join(got, "|") != "Yes, one|Go ahead" {
		t.Fatalf("resumed = %v", got)
	}

	// A new conversation about her reaches channelUpdated; one about
	// someone else does not.
	e.startPatient(chen.AccessToken, liamID, "Not hers", "x")
	e.startPatient(chen.AccessToken, oliviaID, "Referral", "Your referral is sent.")
	d := changes.next(5 * time.Second)
	raw, _ := json.Marshal(d)
	if !strings.Contains(string(raw), `"CREATED"`) || !strings.Contains(string(raw), "Referral") {
		t.Fatalf("channelUpdated = %s, want the new conversation about her", raw)
	}
}

// badgeTotal reads unreadBadge.total from an event.
func badgeTotal(t *testing.T, d map[string]any) int {
	t.Helper()
	b, ok := d["unreadBadge"].(map[string]any)
	if !ok {
		t.Fatalf("not a badge: %v", d)
	}
	return int(b["total"].(float64))
}

// awaitBadge reads badges until one has total want (a badge is a state:
// intermediate values may come first).
func awaitBadge(t *testing.T, s *subscription, want int) map[string]any {
	t.Helper()
	var d map[string]any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if d = s.next(time.Until(deadline)); d == nil {
			break
		}
		if badgeTotal(t, d) == want {
			return d
		}
	}
	t.Fatalf("no badge with total %d (last %v)", want, d)
	return nil
}

// TestPatientStartsConversation: a portal patient starts a conversation
// about themself (patientID optional, and only their own); the care team
// sees it at once, live; the first staff member who answers owns it and
// gets one PATIENT_PORTAL notification per conversation until they read
// it; the staff badge counts patient-conversation messages as the
// dashboard's unreadMessages does; patientConversations(patientID:) lists
// one patient's conversations.
func TestPatientStartsConversation(t *testing.T) {
	e := newEnv(t)
	patel, kim := e.login(demo.PatelEmail), e.login(demo.KimEmail)
	oliviaID, liamID := e.patientID(patel.AccessToken, "P0001"), e.patientID(patel.AccessToken, "P0002")
	olivia, _ := e.portalLogin(demo.PortalEmails[0])

	start := `mutation($in: StartPatientConversationInput!) { startPatientConversation(input: $in) { id topic unreadCount messageCount patient { patientNumber } } }`
	e.fails(olivia, start, map[string]any{"in": map[string]any{"patientID": liamID, "topic": "x", "body": "y"}}, "BAD_USER_INPUT")
	e.fails(patel.AccessToken, start, map[string]any{"in": map[string]any{"topic": "x", "body": "y"}}, "BAD_USER_INPUT")

	stream := e.listen(t, kim.AccessToken, messageAdded, nil)
	changes := e.listen(t, kim.AccessToken, `subscription { channelUpdated { type channel { id topic } } }`, nil)
	kimBadge := e.listen(t, kim.AccessToken, `subscription { unreadBadge { total channels { channel { id kind } unread } } }`, nil)
	first := kimBadge.next(5 * time.Second)

	var out struct {
		StartPatientConversation struct {
			ID, Topic                 string
			UnreadCount, MessageCount int
			Patient                   struct{ PatientNumber string }
		}
	}
	e.ok(olivia, start, map[string]any{"in": map[string]any{"topic": "Repeat prescription", "body": "Could I have a repeat?"}}, &out)
	conv := out.StartPatientConversation
	if conv.Topic != "Repeat prescription" || conv.UnreadCount != 0 || conv.MessageCount != 1 || conv.Patient.PatientNumber != "P0001" {
		t.Fatalf("started = %+v", conv)
	}
	if body, _ := stream.message(5 * time.Second); body != "Could I have a repeat?" {
		t.Fatalf("the care team's stream got %q", body)
	}
	raw, _ := json.Marshal(changes.next(5 * time.Second))
	if !strings.Contains(string(raw), `"CREATED"`) || !strings.Contains(string(raw), conv.ID) {
		t.Fatalf("the care team's channelUpdated = %s", raw)
	}
	if d := awaitBadge(t, kimBadge, badgeTotal(t, first)+1); !strings.Contains(asJSON(d), conv.ID) {
		t.Fatalf("kim's badge = %v, want the new conversation in it", d)
	}
	if l := e.patientList(kim.AccessToken, map[string]any{"read": "UNREAD", "search": "repeat"}); len(l) != 1 || l[0].UnreadCount != 1 {
		t.Fatalf("kim's unread list = %+v", l)
	}
	// No staff member has answered: nobody owns it, nobody is notified.
	e.send(olivia, conv.ID, "Please", nil)
	if n := e.portalNotifications(patel.AccessToken); n != 0 {
		t.Fatalf("notifications before anyone answered = %d", n)
	}

	// Patel answers and owns it; the patient's messages notify him once
	// until he reads, then again.
	e.send(patel.AccessToken, conv.ID, "Of course.", nil)
	e.send(olivia, conv.ID, "Thanks!", nil)
	e.send(olivia, conv.ID, "And another thing", nil)
	if n := e.portalNotifications(patel.AccessToken); n != 1 {
		t.Fatalf("PATIENT_PORTAL notifications = %d, want 1 per conversation until read", n)
	}
	if n := e.portalNotifications(kim.AccessToken); n != 0 {
		t.Fatalf("kim, who does not own it, has %d", n)
	}
	e.ok(patel.AccessToken, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, map[string]any{"c": conv.ID}, nil)
	if n := e.portalNotifications(patel.AccessToken); n != 0 {
		t.Fatalf("notifications after reading = %d, want it acknowledged", n)
	}
	e.send(olivia, conv.ID, "One more", nil)
	if n := e.portalNotifications(patel.AccessToken); n != 1 {
		t.Fatalf("notifications after a new message = %d, want 1", n)
	}
	// Answering is reading too.
	e.send(patel.AccessToken, conv.ID, "Ready at the front desk.", nil)
	if n := e.portalNotifications(patel.AccessToken); n != 0 {
		t.Fatalf("notifications after answering = %d, want it acknowledged", n)
	}
	e.send(olivia, conv.ID, "Thank you!", nil)
	if n := e.portalNotifications(patel.AccessToken); n != 1 {
		t.Fatalf("notifications after the next message = %d, want 1", n)
	}

	// The navigation badge and the dashboard agree for every care-team member.
	for name, tok := range map[string]string{"kim": kim.AccessToken, "patel": patel.AccessToken} {
		sub := e.listen(t, tok, `subscription { unreadBadge { channels { channel { kind } unread } } }`, nil)
		d := sub.next(5 * time.Second)
		inBadge := 0
		for _, c := range d["unreadBadge"].(map[string]any)["channels"].([]any) {
			c := c.(map[string]any)
			if c["channel"].(map[string]any)["kind"] == "PATIENT" {
				inBadge += int(c["unread"].(float64))
			}
		}
		if st := e.stats(tok); st.UnreadMessages != inBadge {
			t.Errorf("%s: badge counts %d patient-conversation messages, the dashboard %d", name, inBadge, st.UnreadMessages)
		}
	}

	// The patient dashboard: one patient's conversations.
	e.startPatient(patel.AccessToken, liamID, "Flu vaccine", "It is due.")
	var byPatient struct {
		PatientConversations struct {
			Edges []struct{ Node struct{ Topic string } }
		}
	}
	e.ok(patel.AccessToken, `query($p: ID!) { patientConversations(patientID: $p) { edges { node { topic } } } }`, map[string]any{"p": oliviaID}, &byPatient)
	if len(byPatient.PatientConversations.Edges) != 1 || byPatient.PatientConversations.Edges[0].Node.Topic != "Repeat prescription" {
		t.Fatalf("olivia's conversations = %+v", byPatient.PatientConversations.Edges)
	}
	e.fails(olivia, `query($p: ID!) { patientConversations(patientID: $p) { totalCount } }`, map[string]any{"p": liamID}, "NOT_FOUND")
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// portalNotifications counts the viewer's open PATIENT_PORTAL notifications.
func (e *env) portalNotifications(token string) int {
	e.t.Helper()
	var out struct{ Notifications struct{ TotalCount int } }
	e.ok(token, `{ notifications(kinds: [PATIENT_PORTAL]) { totalCount } }`, nil, &out)
	return out.Notifications.TotalCount
}

// TestPatientSessions: portal sessions work like staff ones: the refresh
// token rotates, a reused one revokes the session, logout ends the tokens
// and closes the patient's sockets.
func TestPatientSessions(t *testing.T) {
	e := newEnv(t)
	access, refresh := e.portalLogin(demo.PortalEmails[0])
	const refreshMutation = `mutation($r: String!) { patientRefreshSession(refreshToken: $r) { accessToken refreshToken patient { patientNumber } } }`
	type payload struct {
		AccessToken, RefreshToken string
		Patient                   struct{ PatientNumber string }
	}
	var out struct{ PatientRefreshSession payload }
	e.ok("", refreshMutation, map[string]any{"r": refresh}, &out)
	next := out.PatientRefreshSession
	if next.RefreshToken == refresh || next.AccessToken == "" || next.Patient.PatientNumber != "P0001" {
		t.Fatalf("refresh = %+v", next)
	}
	e.ok(next.AccessToken, `{ patientConversations { totalCount } }`, nil, nil)
	// A staff refresh token is no portal one.
	e.fails("", refreshMutation, map[string]any{"r": e.login(demo.ChenEmail).RefreshToken}, "UNAUTHENTICATED")
	// Reuse revokes the session: the rotated tokens stop too.
	e.fails("", refreshMutation, map[string]any{"r": refresh}, "UNAUTHENTICATED")
	e.fails(next.AccessToken, `{ patientConversations { totalCount } }`, nil, "UNAUTHENTICATED")
	e.fails("", refreshMutation, map[string]any{"r": next.RefreshToken}, "UNAUTHENTICATED")
	e.fails(access, `{ patientConversations { totalCount } }`, nil, "UNAUTHENTICATED")

	// Logout ends the session and its sockets.
	access, refresh = e.portalLogin(demo.PortalEmails[0])
	sub := e.listen(t, access, messageAdded, nil)
	e.ok(access, `mutation { logout }`, nil, nil)
	if reason := closeReason(t, sub.c, 5*time.Second); !strings.Contains(reason, "SESSION_REVOKED") {
		t.Errorf("the patient's stream ended with %s, want SESSION_REVOKED", reason)
	}
	e.fails(access, `{ patientConversations { totalCount } }`, nil, "UNAUTHENTICATED")
	e.fails("", refreshMutation, map[string]any{"r": refresh}, "UNAUTHENTICATED")
}

// TestPatientNudge: a staff message the patient has not read within the
// nudge delay (15 minutes) queues one SMS without clinical content, at most
// once per conversation per practice day; nothing once the patient has
// read, for the patient's own messages, or for a patient without portal
// access.
func TestPatientNudge(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	oliviaID, charlotteID := e.patientID(chen.AccessToken, "P0001"), e.patientID(chen.AccessToken, "P0003")
	conv := e.startPatient(chen.AccessToken, oliviaID, "HIV test results", "Your results are in.")
	e.startPatient(chen.AccessToken, charlotteID, "No portal", "Charlotte has no portal access.")
	olivia, _ := e.portalLogin(demo.PortalEmails[0])
	run := func() int {
		t.Helper()
		n, err := e.nudges.RunOnce(context.Background())
		if err != nil {
			t.Fatalf("running nudges: %v", err)
		}
		return n
	}
	if n := run(); n != 0 {
		t.Fatalf("nudges before the delay = %d", n)
	}
	e.clock.Advance(16 * time.Minute)
	if n := run(); n != 1 {
		t.Fatalf("nudges after the delay = %d, want 1 (Olivia; Charlotte has no portal)", n)
	}
	sms := e.outbox("SMS")
	if len(sms) != 1 || !strings.HasSuffix(sms[0], ": You have a new message from Harbourside Medical Centre; sign in to read it.") ||
		strings.Contains(sms[0], "HIV") {
		t.Fatalf("nudge = %q, want the practice's name and nothing clinical", sms)
	}
	if n := run(); n != 0 {
		t.Fatalf("a second nudge the same day: %d", n)
	}
	// Still unread the next day: one more.
	e.clock.Advance(24 * time.Hour)
	if n := run(); n != 1 {
		t.Fatalf("nudges the next day = %d, want 1", n)
	}
	// Read: no nudge, and her own message never nudges her.
	olivia, _ = e.portalLogin(demo.PortalEmails[0])
	e.ok(olivia, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, map[string]any{"c": conv.ID}, nil)
	e.send(olivia, conv.ID, "Thanks", nil)
	e.clock.Advance(24 * time.Hour)
	if n := run(); n != 0 {
		t.Fatalf("nudges after she read = %d", n)
	}
}

// TestPatientNudgeHonoursConsent: the nudge asks the one contact policy —
// a patient who opted out of SMS is nudged by email instead, and one who
// opted out of both is not nudged at all.
func TestPatientNudgeHonoursConsent(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	oliviaID := e.patientID(chen.AccessToken, "P0001")
	e.startPatient(chen.AccessToken, oliviaID, "Results", "Your results are in.")
	consent := `mutation($p: ID!, $s: ConsentState, $m: ConsentState) { setPatientConsent(patientID: $p, sms: $s, email: $m) { id } }`
	e.ok(chen.AccessToken, consent, map[string]any{"p": oliviaID, "s": "OPTED_OUT"}, nil)
	e.clock.Advance(16 * time.Minute)
	if n, err := e.nudges.RunOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("nudges with SMS opted out = %d, %v; want 1 (by email)", n, err)
	}
	if sms, email := e.outbox("SMS"), e.outbox("EMAIL"); len(sms) != 0 || len(email) != 1 {
		t.Fatalf("SMS %q, email %q: want no SMS and one email", sms, email)
	}
	chen = e.login(demo.ChenEmail) // the first token expired with the delay
	e.ok(chen.AccessToken, consent, map[string]any{"p": oliviaID, "m": "OPTED_OUT"}, nil)
	e.clock.Advance(24 * time.Hour)
	if n, err := e.nudges.RunOnce(context.Background()); err != nil || n != 0 {
		t.Fatalf("nudges with both opted out = %d, %v; want 0", n, err)
	}
}

// TestPatientReadsOwnConsent: a portal patient reads the consent of their
// own record (SPEC §13) instead of voiding it with FORBIDDEN: their own
// record shows both choices and the trail, a change by staff they have
// never written to shows no name, and a message they send answers with
// their consent when asked for it.
func TestPatientReadsOwnConsent(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	pid := e.patientID(chen.AccessToken, "P0001")
	conv := e.startPatient(chen.AccessToken, pid, "Reminders", "Shall we text you reminders?")
	e.ok(chen.AccessToken, setConsent, map[string]any{"p": pid, "s": "OPTED_OUT"}, nil)
	e.ok(patel.AccessToken, setConsent, map[string]any{"p": pid, "m": "OPTED_OUT"}, nil)
	olivia, _ := e.portalLogin(demo.PortalEmails[0])

	var own struct {
		Patients struct {
			Edges []struct {
				Node struct {
					ID                       string
					SmsConsent, EmailConsent string
					ConsentHistory           []struct {
						Channel, State, Source string
						By                     *struct{ Name string }
					}
				}
			}
		}
	}
	r := e.do(olivia, `{ patients(first: 5) { edges { node { id smsConsent emailConsent consentHistory { channel state source by { name } } } } } }`, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("the patient's own consent: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, &own); err != nil {
		t.Fatal(err)
	}
	if len(own.Patients.Edges) != 1 || own.Patients.Edges[0].Node.ID != pid {
		t.Fatalf("patients as Olivia = %+v, want her own record only", own.Patients.Edges)
	}
	me := own.Patients.Edges[0].Node
	if me.SmsConsent != "OPTED_OUT" || me.EmailConsent != "OPTED_OUT" {
		t.Errorf("her consent reads sms=%s email=%s, want both OPTED_OUT", me.SmsConsent, me.EmailConsent)
	}
	if len(me.ConsentHistory) != 2 {
		t.Fatalf("her consent trail = %+v, want the two staff changes", me.ConsentHistory)
	}
	for _, c := range me.ConsentHistory {
		switch {
		case c.Source != "STAFF" || c.State != "OPTED_OUT":
			t.Errorf("trail entry %+v, want a staff opt-out", c)
		case c.Channel == "SMS" && (c.By == nil || c.By.Name == ""):
			t.Errorf("the SMS change shows by=%+v, want Dr Chen, who writes to her, by name", c.By)
		case c.Channel == "EMAIL" && c.By != nil:
			t.Errorf("the email change shows by=%+v, want no name: she has never been written to by its author", c.By)
		}
	}

	r = e.do(olivia, `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "No texts, thanks"}) { body senderPatient { smsConsent emailConsent } } }`,
		map[string]any{"c": conv.ID})
	if len(r.Errors) > 0 {
		t.Fatalf("her message was stored, but the answer carries errors: %+v", r.Errors)
	}
	if !strings.Contains(string(r.Data), `"smsConsent":"OPTED_OUT"`) {
		t.Errorf("sendMessage answered %s, want her consent", r.Data)
	}
}

// TestPatientRetryIsSafe: a portal patient's app that lost the answer to
// sendMessage retries with the same clientMessageID and gets the first
// message back instead of posting it twice; the same id in another of
// her conversations is a CONFLICT that posts nothing.
func TestPatientRetryIsSafe(t *testing.T) {
	e := newEnv(t)
	olivia, _ := e.portalLogin(demo.PortalEmails[0])
	start := func(topic string) string {
		var out struct{ StartPatientConversation struct{ ID string } }
		e.ok(olivia, `mutation($t: String!) { startPatientConversation(input: {topic: $t, body: "Hello"}) { id } }`, map[string]any{"t": topic}, &out)
		return out.StartPatientConversation.ID
	}
	first, second := start("Repeat prescription"), start("Travel vaccines")
	const send = `mutation($c: ID!, $k: String) { sendMessage(input: {channelID: $c, body: "Is it ready?", clientMessageID: $k}) { id body } }`
	type sent struct{ SendMessage struct{ ID, Body string } }
	var a, b sent
	e.ok(olivia, send, map[string]any{"c": first, "k": "phone-7f3a"}, &a)
	e.ok(olivia, send, map[string]any{"c": first, "k": "phone-7f3a"}, &b)
	if a.SendMessage.ID == "" || a.SendMessage.ID != b.SendMessage.ID {
		t.Fatalf("retry answered %q, want the first message %q", b.SendMessage.ID, a.SendMessage.ID)
	}
	e.fails(olivia, send, map[string]any{"c": second, "k": "phone-7f3a"}, "CONFLICT")
	count := func(c string) int {
		var out struct{ Messages struct{ TotalCount int } }
		e.ok(olivia, `query($c: ID!) { messages(channelID: $c, first: 1) { totalCount } }`, map[string]any{"c": c}, &out)
		return out.Messages.TotalCount
	}
	if n := count(first); n != 2 {
		t.Errorf("the conversation holds %d messages, want the opening one and one reply", n)
	}
	if n := count(second); n != 1 {
		t.Errorf("the other conversation holds %d messages, want only its opening one", n)
	}
}

package graph_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/viewer"
)

// ids of demo rows, looked up through the API.
func (e *env) userID(token, email string) string {
	e.t.Helper()
	var out struct {
		Users struct {
			Edges []struct{ Node struct{ ID, Email string } }
		}
	}
	e.ok(token, `query($s: String) { users(search: $s) { edges { node { id email } } } }`, map[string]any{"s": email}, &out)
	for _, edge := range out.Users.Edges {
		if edge.Node.Email == email {
			return edge.Node.ID
		}
	}
	e.t.Fatalf("no user %s", email)
	return ""
}

func (e *env) groupID(token, name string) string {
	e.t.Helper()
	var out struct{ SecurityGroups []struct{ ID, Name string } }
	e.ok(token, `{ securityGroups { id name } }`, nil, &out)
	for _, g := range out.SecurityGroups {
		if g.Name == name {
			return g.ID
		}
	}
	e.t.Fatalf("no group %s", name)
	return ""
}

type channelInfo struct {
	ID          string
	Kind        string
	Name        string
	UnreadCount int
	Members     []struct{ Email string }
}

const channelFields = `id kind name unreadCount members { email }`

func (e *env) open(token string, input map[string]any) channelInfo {
	e.t.Helper()
	var out struct{ OpenConversation channelInfo }
	e.ok(token, `mutation($in: OpenConversationInput!) { openConversation(input: $in) { `+channelFields+` } }`,
		map[string]any{"in": input}, &out)
	return out.OpenConversation
}

type messageInfo struct {
	ID, Body, Cursor string
	Seq              int
	Sms              bool
	Sender           *struct{ Email string }
	Patients         []struct{ PatientNumber string }
	ReplyTo          *struct{ ID string }
	Channel          struct{ ID string }
}

const messageFields = `id body cursor seq sms sender { email } patients { patientNumber } replyTo { id } channel { id }`

func (e *env) send(token, channel, body string, extra map[string]any) messageInfo {
	e.t.Helper()
	in := map[string]any{"channelID": channel, "body": body}
	for k, v := range extra {
		in[k] = v
	}
	var out struct{ SendMessage messageInfo }
	e.ok(token, `mutation($in: SendMessageInput!) { sendMessage(input: $in) { `+messageFields+` } }`,
		map[string]any{"in": in}, &out)
	return out.SendMessage
}

func (e *env) messages(token, channel string) []messageInfo {
	e.t.Helper()
	var out struct {
		Messages struct{ Edges []struct{ Node messageInfo } }
	}
	e.ok(token, `query($c: ID!) { messages(channelID: $c, first: 100) { edges { node { `+messageFields+` } } } }`,
		map[string]any{"c": channel}, &out)
	var ms []messageInfo
	for _, edge := range out.Messages.Edges {
		ms = append(ms, edge.Node)
	}
	return ms
}

func (e *env) channel(token, id string) channelInfo {
	e.t.Helper()
	var out struct{ Node channelInfo }
	e.ok(token, `query($id: ID!) { node(id: $id) { ... on Channel { `+channelFields+` } } }`, map[string]any{"id": id}, &out)
	return out.Node
}

func emails(c channelInfo) string {
	var out []string
	for _, m := range c.Members {
		out = append(out, strings.Split(m.Email, "@")[0])
	}
	return strings.Join(sortStrings(out), ",")
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestIndividualChannelIsOneChannelPerPairForever(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	patelID := e.userID(chen.AccessToken, demo.PatelEmail)

	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patelID}})
	if ch.Kind != "INDIVIDUAL" || ch.Name != "Dr Priya Patel" || emails(ch) != "dr.chen,dr.patel" {
		t.Fatalf("opened %+v, want an individual channel with Dr Patel named after her", ch)
	}
	e.send(chen.AccessToken, ch.ID, "Morning — can you cover my 11:00?", nil)
	again := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patelID, chen.User.ID}})
	fromPatel := e.open(patel.AccessToken, map[string]any{"userIDs": []string{chen.User.ID}})
	if again.ID != ch.ID || fromPatel.ID != ch.ID {
		t.Fatalf("reopening gave %s and %s, want the same channel %s", again.ID, fromPatel.ID, ch.ID)
	}
	if fromPatel.Name != "Dr Wei Chen" {
		t.Errorf("Patel sees the channel named %q, want Dr Wei Chen", fromPatel.Name)
	}
	if ms := e.messages(patel.AccessToken, ch.ID); len(ms) != 1 || ms[0].Sender.Email != demo.ChenEmail {
		t.Errorf("history = %+v, want Chen's message", ms)
	}
	// The ? button: the other party's contact details. In the demo only
	// reception has a mobile number (SPEC §8).
	type contact struct {
		Node struct {
			Counterpart struct {
				Email  string
				Mobile *string
			}
		}
	}
	const counterpart = `query($id: ID!) { node(id: $id) { ... on Channel { counterpart { email mobile } } } }`
	var info contact
	e.ok(chen.AccessToken, counterpart, map[string]any{"id": ch.ID}, &info)
	if c := info.Node.Counterpart; c.Email != demo.PatelEmail || c.Mobile != nil {
		t.Errorf("counterpart = %+v, want Dr Patel's email and no mobile", c)
	}
	reception := e.login(demo.ReceptionEmail)
	toReception := e.open(chen.AccessToken, map[string]any{"userIDs": []string{reception.User.ID}})
	info = contact{}
	e.ok(chen.AccessToken, counterpart, map[string]any{"id": toReception.ID}, &info)
	if c := info.Node.Counterpart; c.Email != demo.ReceptionEmail || c.Mobile == nil || *c.Mobile != "+61400000005" {
		t.Errorf("counterpart = %+v, want reception's email and mobile +61400000005", c)
	}
}

func TestOpenConversationRefusals(t *testing.T) {
	e := newEnv(t)
	_, _, _, loner := seedPrivate(t, e)
	chen, kim := e.login(demo.ChenEmail), e.login(demo.KimEmail)
	patelID := e.userID(chen.AccessToken, demo.PatelEmail)
	e.ok(kim.AccessToken, `mutation { updatePreferences(input: {neverReceiveDirect: true}) { id } }`, nil, nil)

	e.fails(chen.AccessToken, `mutation($u: [ID!]) { openConversation(input: {userIDs: $u}) { id } }`,
		map[string]any{"u": []string{kim.User.ID}}, "FORBIDDEN")
	e.fails(chen.AccessToken, `mutation($u: [ID!]) { openConversation(input: {userIDs: $u}) { id } }`,
		map[string]any{"u": []string{loner}}, "FORBIDDEN")
	e.fails(chen.AccessToken, `mutation { openConversation(input: {}) { id } }`, nil, "BAD_USER_INPUT")
	locum := e.login("locum@demo.clinic")
	e.fails(locum.AccessToken, `mutation($u: [ID!]) { openConversation(input: {userIDs: $u}) { id } }`,
		map[string]any{"u": []string{patelID}}, "FORBIDDEN")
	e.fails(demo.IntegrationKey, `mutation($u: [ID!]) { openConversation(input: {userIDs: $u}) { id } }`,
		map[string]any{"u": []string{patelID}}, "FORBIDDEN")
	// Kim can still write to others; they cannot reply in that channel.
	ch := e.open(kim.AccessToken, map[string]any{"userIDs": []string{chen.User.ID}})
	if ch.Kind != "INDIVIDUAL" {
		t.Fatalf("Kim opening a conversation with Chen = %+v, want their individual channel", ch)
	}
	sent := e.send(kim.AccessToken, ch.ID, "Results are in", nil)
	e.fails(chen.AccessToken, `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "thanks"}) { id } }`,
		map[string]any{"c": ch.ID}, "FORBIDDEN")
	e.fails(chen.AccessToken, `mutation($m: ID!) { replyToMessage(input: {messageID: $m, body: "thanks"}) { id } }`,
		map[string]any{"m": sent.ID}, "FORBIDDEN")
	if ms := e.messages(chen.AccessToken, ch.ID); len(ms) != 1 || ms[0].Body != "Results are in" {
		t.Errorf("after the refused replies Chen sees %+v, want only Kim's message", ms)
	}
}

func TestNeverReceiveBlocksReplies(t *testing.T) {
	e := newEnv(t)
	chen, kim := e.login(demo.ChenEmail), e.login(demo.KimEmail)
	ch := e.open(kim.AccessToken, map[string]any{"userIDs": []string{chen.User.ID}})
	e.send(chen.AccessToken, ch.ID, "before", nil)
	e.ok(kim.AccessToken, `mutation { updatePreferences(input: {neverReceiveDirect: true}) { id } }`, nil, nil)
	e.fails(chen.AccessToken, `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "hello?"}) { id } }`,
		map[string]any{"c": ch.ID}, "FORBIDDEN")
	e.send(kim.AccessToken, ch.ID, "I can still write to you", nil)
}

func TestGroupChannels(t *testing.T) {
	e := newEnv(t)
	chen, kim, admin := e.login(demo.ChenEmail), e.login(demo.KimEmail), e.login(demo.AdminEmail)
	doctors := e.groupID(chen.AccessToken, "Doctors")
	ch := e.open(chen.AccessToken, map[string]any{"securityGroupIDs": []string{doctors}})
	if ch.Kind != "GROUP" || ch.Name != "Doctors" || emails(ch) != "dr.chen,dr.patel" {
		t.Fatalf("doctors channel = %+v, want GROUP of the two doctors", ch)
	}
	e.send(chen.AccessToken, ch.ID, "Doctors' meeting at 1", nil)
	// Someone outside the group gets a custom group of themself and the group.
	kimCh := e.open(kim.AccessToken, map[string]any{"securityGroupIDs": []string{doctors}})
	if kimCh.Kind != "CUSTOM_GROUP" || emails(kimCh) != "dr.chen,dr.patel,nurse.kim" {
		t.Errorf("Kim opening Doctors = %+v, want a custom group with Kim and the doctors", kimCh)
	}
	e.fails(kim.AccessToken, `query($c: ID!) { messages(channelID: $c) { totalCount } }`, map[string]any{"c": ch.ID}, "NOT_FOUND")

	// Membership follows the security group, both ways, for the group
	// channel and for the custom group built on it.
	const update = `mutation($g: ID!, $add: [ID!], $rm: [ID!]) {
		updateSecurityGroupMembers(input: {securityGroupID: $g, addUserIDs: $add, removeUserIDs: $rm}) { id } }`
	e.fails(chen.AccessToken, update, map[string]any{"g": doctors, "add": []string{kim.User.ID}}, "FORBIDDEN")
	e.ok(admin.AccessToken, update, map[string]any{"g": doctors, "add": []string{kim.User.ID}}, nil)
	if got := emails(e.channel(chen.AccessToken, ch.ID)); got != "dr.chen,dr.patel,nurse.kim" {
		t.Errorf("after adding Kim to Doctors, the channel has %s", got)
	}
	// The new member sees the whole history, and the channel says who
	// joined.
	if ms := e.messages(kim.AccessToken, ch.ID); len(ms) != 2 || ms[0].Body != "Doctors' meeting at 1" ||
		ms[1].Sender != nil || !strings.Contains(ms[1].Body, "added Jordan Kim") {
		t.Errorf("a new member sees %+v, want the history and a system message naming them", ms)
	}
	e.ok(admin.AccessToken, update, map[string]any{"g": doctors, "rm": []string{chen.User.ID}}, nil)
	e.fails(chen.AccessToken, `query($c: ID!) { messages(channelID: $c) { totalCount } }`, map[string]any{"c": ch.ID}, "NOT_FOUND")
	if got := emails(e.channel(kim.AccessToken, kimCh.ID)); got != "dr.patel,nurse.kim" {
		t.Errorf("custom group on Doctors after Chen left the group has %s, want patel and kim", got)
	}
	// The custom group that follows Doctors says who actually left: Chen,
	// not Kim (who left nothing: she is in the group by herself too).
	ms := e.messages(kim.AccessToken, kimCh.ID)
	if len(ms) == 0 || ms[len(ms)-1].Sender != nil || !strings.Contains(ms[len(ms)-1].Body, "removed Dr Wei Chen") ||
		strings.Contains(ms[len(ms)-1].Body, "Kim") {
		t.Errorf("the custom group on Doctors shows %+v, want a system message that Dr Wei Chen was removed", ms)
	}
}

func TestCustomGroups(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim, reception := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail), e.login(demo.ReceptionEmail)
	recID := e.userID(chen.AccessToken, demo.ReceptionEmail)
	pick := map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}}
	g := e.open(chen.AccessToken, pick)
	if g.Kind != "CUSTOM_GROUP" || emails(g) != "dr.chen,dr.patel,nurse.kim" {
		t.Fatalf("custom group = %+v", g)
	}
	if again := e.open(chen.AccessToken, pick); again.ID != g.ID {
		t.Errorf("the same picks opened a new group %s, want %s reused", again.ID, g.ID)
	}
	e.send(chen.AccessToken, g.ID, "Flu clinic roster is up", nil)

	const upd = `mutation($in: UpdateCustomGroupInput!) { updateCustomGroup(input: $in) { ` + channelFields + ` } }`
	var out struct{ UpdateCustomGroup channelInfo }
	e.ok(patel.AccessToken, upd, map[string]any{"in": map[string]any{
		"channelID": g.ID, "name": "Flu clinic", "addUserIDs": []string{recID}, "removeUserIDs": []string{kim.User.ID},
	}}, &out)
	if out.UpdateCustomGroup.Name != "Flu clinic" || emails(out.UpdateCustomGroup) != "dr.chen,dr.patel,reception" {
		t.Errorf("after update: %+v", out.UpdateCustomGroup)
	}
	// The removed member loses the history at once; the added one gets it.
	e.fails(kim.AccessToken, `query($c: ID!) { messages(channelID: $c) { totalCount } }`, map[string]any{"c": g.ID}, "NOT_FOUND")
	ms := e.messages(reception.AccessToken, g.ID)
	if len(ms) != 2 || ms[1].Sender != nil || !strings.Contains(ms[1].Body, "removed Jordan Kim") {
		t.Errorf("reception sees %+v, want the history and a system message about the change", ms)
	}
	// A non-member cannot edit.
	e.fails(kim.AccessToken, upd, map[string]any{"in": map[string]any{"channelID": g.ID, "name": "Mine"}}, "NOT_FOUND")
	// Only custom groups are editable.
	ind := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	e.fails(chen.AccessToken, upd, map[string]any{"in": map[string]any{"channelID": ind.ID, "name": "x"}}, "BAD_USER_INPUT")

	// Groups that include groups, in a cycle: membership expands transitively.
	h := e.open(kim.AccessToken, map[string]any{"userIDs": []string{recID}, "securityGroupIDs": []string{e.groupID(kim.AccessToken, "Reception")}, "name": "Front desk"})
	if h.Name != "Front desk" || h.Kind != "CUSTOM_GROUP" {
		t.Fatalf("named custom group = %+v", h)
	}
	e.ok(reception.AccessToken, upd, map[string]any{"in": map[string]any{"channelID": h.ID, "addChannelIDs": []string{g.ID}}}, nil)
	e.ok(reception.AccessToken, upd, map[string]any{"in": map[string]any{"channelID": g.ID, "addChannelIDs": []string{h.ID}}}, nil)
	if got := emails(e.channel(kim.AccessToken, h.ID)); got != "dr.chen,dr.patel,nurse.kim,reception" {
		t.Errorf("Front desk (kim, reception + Flu clinic) has %s", got)
	}
	if got := emails(e.channel(kim.AccessToken, g.ID)); got != "dr.chen,dr.patel,nurse.kim,reception" {
		t.Errorf("Flu clinic including Front desk has %s, want Kim back through it", got)
	}
}

func TestSendMessageRules(t *testing.T) {
	e := newEnv(t)
	chen, kim := e.login(demo.ChenEmail), e.login(demo.KimEmail)
	recID := e.userID(chen.AccessToken, demo.ReceptionEmail)
	toRec := e.open(chen.AccessToken, map[string]any{"userIDs": []string{recID}})
	toKim := e.open(chen.AccessToken, map[string]any{"userIDs": []string{kim.User.ID}})
	group := e.open(chen.AccessToken, map[string]any{"userIDs": []string{kim.User.ID, recID}})
	var pats struct {
		Patients struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.ok(chen.AccessToken, `{ patients(first: 4) { edges { node { id } } } }`, nil, &pats)
	var pids []string
	for _, p := range pats.Patients.Edges {
		pids = append(pids, p.Node.ID)
	}
	const send = `mutation($in: SendMessageInput!) { sendMessage(input: $in) { id } }`
	cases := []struct {
		name string
		in   map[string]any
		code string
	}{
		{"empty", map[string]any{"channelID": toKim.ID, "body": "   "}, "BAD_USER_INPUT"},
		{"too long", map[string]any{"channelID": toKim.ID, "body": strings.Repeat("x", 4001)}, "BAD_USER_INPUT"},
		{"four patients", map[string]any{"channelID": toKim.ID, "body": "x", "patientIDs": pids}, "BAD_USER_INPUT"},
		{"unknown patient", map[string]any{"channelID": toKim.ID, "body": "x", "patientIDs": []string{"pa01JD3F4M5X8Q9R2T6V7W8Y9Z0A"}}, "BAD_USER_INPUT"},
		{"sms in a group", map[string]any{"channelID": group.ID, "body": "x", "sms": true}, "BAD_USER_INPUT"},
		{"#sms in a group", map[string]any{"channelID": group.ID, "body": "call me #SMS"}, "BAD_USER_INPUT"},
		{"sms without mobile", map[string]any{"channelID": toKim.ID, "body": "x #sms"}, "BAD_USER_INPUT"},
		{"unknown channel", map[string]any{"channelID": "ch01JD3F4M5X8Q9R2T6V7W8Y9Z0A", "body": "x"}, "NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.with(t).fails(chen.AccessToken, send, map[string]any{"in": tc.in}, tc.code)
		})
	}
	if ms := e.messages(chen.AccessToken, toKim.ID); len(ms) != 0 {
		t.Fatalf("failed sends wrote %d messages", len(ms))
	}
	// A non-member cannot post; an integration cannot chat.
	e.fails(kim.AccessToken, send, map[string]any{"in": map[string]any{"channelID": toRec.ID, "body": "x"}}, "NOT_FOUND")
	e.fails(demo.IntegrationKey, send, map[string]any{"in": map[string]any{"channelID": toRec.ID, "body": "x"}}, "FORBIDDEN")

	m := e.send(chen.AccessToken, toKim.ID, strings.Repeat("é", 4000), map[string]any{"patientIDs": pids[:3]})
	if len(m.Patients) != 3 {
		t.Errorf("linked patients = %v, want 3", m.Patients)
	}
	sms := e.send(chen.AccessToken, toRec.ID, "Mrs Brown is here early #sms", nil)
	if !sms.Sms {
		t.Errorf("#sms did not flag the message")
	}
	ctx := viewer.NewSystemContext(context.Background(), "test")
	ob := e.db.Client.OutboxMessage.Query().Where(outboxmessage.CauseMessageID(pulidOf(sms.ID))).OnlyX(ctx)
	if ob.Recipient != "+61400000005" || ob.Channel != "SMS" || ob.Status != "PENDING" || strings.Contains(ob.Body, "#sms") ||
		!strings.Contains(ob.Body, "Dr Wei Chen") {
		t.Errorf("outbox row = %+v, want a pending SMS to reception's mobile from Dr Chen without the tag", ob)
	}
}

func TestClientMessageIDMakesSendIdempotent(t *testing.T) {
	e := newEnv(t)
	chen, kim := e.login(demo.ChenEmail), e.login(demo.KimEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{kim.User.ID}})
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ids[i] = e.send(chen.AccessToken, ch.ID, "only once", map[string]any{"clientMessageID": "c-1"}).ID
		}(i)
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("retries returned different messages: %v", ids)
		}
	}
	if ms := e.messages(kim.AccessToken, ch.ID); len(ms) != 1 {
		t.Errorf("%d messages after 8 retries, want 1", len(ms))
	}
	other := e.open(chen.AccessToken, map[string]any{"userIDs": []string{e.userID(chen.AccessToken, demo.PatelEmail)}})
	e.fails(chen.AccessToken, `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "x", clientMessageID: "c-1"}) { id } }`,
		map[string]any{"c": other.ID}, "CONFLICT")
}

func TestConcurrentSendsKeepOneOrder(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tok := chen.AccessToken
			if i%2 == 1 {
				tok = patel.AccessToken
			}
			e.send(tok, ch.ID, fmt.Sprintf("m%d", i), nil)
		}(i)
	}
	wg.Wait()
	ms := e.messages(chen.AccessToken, ch.ID)
	if len(ms) != 20 {
		t.Fatalf("%d messages, want 20", len(ms))
	}
	for i, m := range ms {
		if m.Seq != i+1 {
			t.Fatalf("message %d has seq %d: the order has gaps or repeats", i, m.Seq)
		}
	}
	var count struct{ Node struct{ MessageCount int } }
	e.ok(chen.AccessToken, `query($id: ID!) { node(id: $id) { ... on Channel { messageCount } } }`, map[string]any{"id": ch.ID}, &count)
	if count.Node.MessageCount != 20 {
		t.Errorf("messageCount = %d, want 20", count.Node.MessageCount)
	}
	// Paging forwards with after covers every message once, in order.
	var seqs []int
	var after any
	for page := 0; page < 10; page++ {
		var fwd struct {
			Messages struct {
				Edges    []struct{ Node struct{ Seq int } }
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		e.ok(chen.AccessToken, `query($c: ID!, $a: String) { messages(channelID: $c, first: 7, after: $a) { edges { node { seq } } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"c": ch.ID, "a": after}, &fwd)
		for _, edge := range fwd.Messages.Edges {
			seqs = append(seqs, edge.Node.Seq)
		}
		if !fwd.Messages.PageInfo.HasNextPage {
			break
		}
		after = fwd.Messages.PageInfo.EndCursor
	}
	if len(seqs) != 20 || seqs[0] != 1 || seqs[19] != 20 || !slices.IsSorted(seqs) {
		t.Errorf("forward pages of 7 gave seqs %v, want 1..20 once each", seqs)
	}
	// Paging backwards from the end gives the same order.
	var last struct {
		Messages struct {
			Edges    []struct{ Node struct{ Seq int } }
			PageInfo struct {
				HasPreviousPage bool
				StartCursor     string
			}
		}
	}
	e.ok(chen.AccessToken, `query($c: ID!) { messages(channelID: $c, last: 5) { edges { node { seq } } pageInfo { hasPreviousPage startCursor } } }`,
		map[string]any{"c": ch.ID}, &last)
	if len(last.Messages.Edges) != 5 || last.Messages.Edges[0].Node.Seq != 16 || !last.Messages.PageInfo.HasPreviousPage {
		t.Errorf("last 5 = %+v", last.Messages)
	}
	e.ok(chen.AccessToken, `query($c: ID!, $b: String) { messages(channelID: $c, last: 5, before: $b) { edges { node { seq } } pageInfo { hasPreviousPage startCursor } } }`,
		map[string]any{"c": ch.ID, "b": last.Messages.PageInfo.StartCursor}, &last)
	if len(last.Messages.Edges) != 5 || last.Messages.Edges[0].Node.Seq != 11 {
		t.Errorf("previous 5 = %+v, want 11..15", last.Messages.Edges)
	}
}

func TestRepliesAndReadState(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	group := e.open(kim.AccessToken, map[string]any{"userIDs": []string{chen.User.ID, patel.User.ID}})
	q := e.send(kim.AccessToken, group.ID, "Who has the spare otoscope?", nil)
	e.send(kim.AccessToken, group.ID, "second", nil)
	e.send(kim.AccessToken, group.ID, "third", nil)
	if c := e.channel(chen.AccessToken, group.ID); c.UnreadCount != 3 {
		t.Errorf("Chen's unread = %d, want 3", c.UnreadCount)
	}
	if c := e.channel(kim.AccessToken, group.ID); c.UnreadCount != 0 {
		t.Errorf("the sender's unread = %d, want 0", c.UnreadCount)
	}

	var reply struct{ ReplyToMessage messageInfo }
	const rep = `mutation($m: ID!, $all: Boolean) { replyToMessage(input: {messageID: $m, body: "I do", toAll: $all}) { ` + messageFields + ` } }`
	e.ok(chen.AccessToken, rep, map[string]any{"m": q.ID}, &reply)
	private := e.open(chen.AccessToken, map[string]any{"userIDs": []string{kim.User.ID}})
	if reply.ReplyToMessage.Channel.ID != private.ID || reply.ReplyToMessage.ReplyTo == nil || reply.ReplyToMessage.ReplyTo.ID != q.ID {
		t.Errorf("reply went to %+v, want Kim's individual channel quoting the question", reply.ReplyToMessage)
	}
	e.ok(chen.AccessToken, rep, map[string]any{"m": q.ID, "all": true}, &reply)
	if reply.ReplyToMessage.Channel.ID != group.ID {
		t.Errorf("reply-all went to %s, want the group", reply.ReplyToMessage.Channel.ID)
	}
	e.fails(kim.AccessToken, rep, map[string]any{"m": q.ID}, "BAD_USER_INPUT") // own message

	// Chen's own reply-all moved his read mark to the end.
	if c := e.channel(chen.AccessToken, group.ID); c.UnreadCount != 0 {
		t.Errorf("after replying to all, Chen's unread = %d, want 0", c.UnreadCount)
	}
	if c := e.channel(patel.AccessToken, group.ID); c.UnreadCount != 4 {
		t.Errorf("Patel's unread = %d, want 4", c.UnreadCount)
	}
	var unread struct{ MarkMessageUnread channelInfo }
	ms := e.messages(patel.AccessToken, group.ID)
	e.ok(patel.AccessToken, `mutation($c: ID!) { markChannelRead(channelID: $c) { unreadCount } }`, map[string]any{"c": group.ID}, nil)
	e.ok(patel.AccessToken, `mutation($m: ID!) { markMessageUnread(messageID: $m) { unreadCount } }`, map[string]any{"m": ms[1].ID}, &unread)
	if unread.MarkMessageUnread.UnreadCount != 3 {
		t.Errorf("unread from the 2nd of 4 = %d, want 3", unread.MarkMessageUnread.UnreadCount)
	}
	e.fails(e.login(demo.ReceptionEmail).AccessToken, `mutation($c: ID!) { markChannelRead(channelID: $c) { id } }`, map[string]any{"c": group.ID}, "NOT_FOUND")
}

func TestChannelListAndTheThreeDayRule(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	a := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	b := e.open(chen.AccessToken, map[string]any{"userIDs": []string{kim.User.ID}})
	e.send(patel.AccessToken, a.ID, "unread for Chen", nil)
	e.send(chen.AccessToken, b.ID, "read for Chen", nil)
	e.clock.Advance(time.Minute)
	tok := chen.AccessToken
	list := func(filter map[string]any) []string {
		var out struct {
			Channels struct {
				Edges []struct{ Node struct{ ID, Name string } }
			}
		}
		e.ok(tok, `query($f: ChannelFilter) { channels(filter: $f) { edges { node { id name } } } }`, map[string]any{"f": filter}, &out)
		var ids []string
		for _, edge := range out.Channels.Edges {
			ids = append(ids, edge.Node.ID)
		}
		return ids
	}
	if got := list(nil); len(got) != 2 || got[0] != b.ID {
		t.Errorf("list = %v, want both, newest activity first (%s)", got, b.ID)
	}
	if got := list(map[string]any{"search": "patel"}); len(got) != 1 || got[0] != a.ID {
		t.Errorf("search patel = %v, want %s", got, a.ID)
	}
	if got := list(map[string]any{"unreadOnly": true}); len(got) != 1 || got[0] != a.ID {
		t.Errorf("unread only = %v, want %s", got, a.ID)
	}
	if got := list(map[string]any{"kinds": []string{"GROUP"}}); len(got) != 0 {
		t.Errorf("kind GROUP = %v, want none", got)
	}
	if got := list(map[string]any{"kinds": []string{"INDIVIDUAL"}}); len(got) != 2 {
		t.Errorf("kind INDIVIDUAL = %v, want both individual channels", got)
	}
	e.clock.Advance(3*24*time.Hour + time.Minute)
	chen, kim = e.login(demo.ChenEmail), e.login(demo.KimEmail)
	tok = chen.AccessToken
	if got := list(nil); len(got) != 1 || got[0] != a.ID {
		t.Errorf("after 3 idle days = %v, want only the unread channel %s", got, a.ID)
	}
	if got := list(map[string]any{"includeHidden": true}); len(got) != 2 {
		t.Errorf("include hidden = %v, want both", got)
	}
	// Reopening brings the history back and new activity lists it again.
	if again := e.open(chen.AccessToken, map[string]any{"userIDs": []string{kim.User.ID}}); again.ID != b.ID {
		t.Errorf("reopened %s, want %s", again.ID, b.ID)
	}
	e.send(kim.AccessToken, b.ID, "back again", nil)
	if got := list(nil); len(got) != 2 {
		t.Errorf("after new activity = %v, want both listed", got)
	}
}

func TestLabels(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	m := e.send(patel.AccessToken, ch.ID, "Results for P0003 are in", nil)
	var l struct{ CreateLabel struct{ ID, Name string } }
	e.ok(chen.AccessToken, `mutation { createLabel(name: " Follow up ") { id name } }`, nil, &l)
	if l.CreateLabel.Name != "Follow up" {
		t.Errorf("label name %q, want trimmed", l.CreateLabel.Name)
	}
	e.fails(chen.AccessToken, `mutation { createLabel(name: "Follow up") { id } }`, nil, "CONFLICT")
	e.fails(chen.AccessToken, `mutation { createLabel(name: "") { id } }`, nil, "BAD_USER_INPUT")
	vars := map[string]any{"m": m.ID, "l": l.CreateLabel.ID}
	e.ok(chen.AccessToken, `mutation($m: ID!, $l: ID!) { labelMessage(messageID: $m, labelID: $l) { id } }`, vars, nil)
	// Others can neither see nor use Chen's label.
	e.fails(patel.AccessToken, `mutation($m: ID!, $l: ID!) { labelMessage(messageID: $m, labelID: $l) { id } }`, vars, "NOT_FOUND")
	var pl struct{ Labels []struct{ ID string } }
	e.ok(patel.AccessToken, `{ labels { id } }`, nil, &pl)
	if len(pl.Labels) != 0 {
		t.Errorf("Patel sees labels %v", pl.Labels)
	}
	// On the message itself, Chen sees his label and Patel sees none.
	msgLabels := func(token string) []string {
		var out struct {
			Messages struct {
				Edges []struct {
					Node struct{ Labels []struct{ Name string } }
				}
			}
		}
		e.ok(token, `query($c: ID!) { messages(channelID: $c, first: 10) { edges { node { labels { name } } } } }`, map[string]any{"c": ch.ID}, &out)
		var names []string
		for _, edge := range out.Messages.Edges {
			for _, l := range edge.Node.Labels {
				names = append(names, l.Name)
			}
		}
		return names
	}
	if got := msgLabels(chen.AccessToken); fmt.Sprint(got) != "[Follow up]" {
		t.Errorf("Chen sees the message's labels %v, want [Follow up]", got)
	}
	if got := msgLabels(patel.AccessToken); len(got) != 0 {
		t.Errorf("Patel sees Chen's labels on the message: %v", got)
	}
	// Nor can Patel rename it.
	e.fails(patel.AccessToken, `mutation($id: ID!) { renameLabel(id: $id, name: "Mine") { id } }`, map[string]any{"id": l.CreateLabel.ID}, "NOT_FOUND")
	if got := msgLabels(chen.AccessToken); fmt.Sprint(got) != "[Follow up]" {
		t.Errorf("after Patel's refused rename Chen's label reads %v", got)
	}
	var got struct {
		Labels []struct {
			Name     string
			Messages struct {
				TotalCount int
				Edges      []struct{ Node struct{ Body string } }
			}
		}
	}
	e.ok(chen.AccessToken, `mutation($id: ID!) { renameLabel(id: $id, name: "To do") { id } }`, map[string]any{"id": l.CreateLabel.ID}, nil)
	e.ok(chen.AccessToken, `{ labels { name messages(first: 10) { totalCount edges { node { body } } } } }`, nil, &got)
	if len(got.Labels) != 1 || got.Labels[0].Name != "To do" || got.Labels[0].Messages.TotalCount != 1 {
		t.Fatalf("labels = %+v, want To do with the message", got.Labels)
	}
	e.ok(chen.AccessToken, `mutation($m: ID!, $l: ID!) { unlabelMessage(messageID: $m, labelID: $l) { id } }`, vars, nil)
	e.ok(chen.AccessToken, `{ labels { name messages(first: 10) { totalCount edges { node { body } } } } }`, nil, &got)
	if got.Labels[0].Messages.TotalCount != 0 {
		t.Errorf("after unlabel: %d messages", got.Labels[0].Messages.TotalCount)
	}
	e.fails(patel.AccessToken, `mutation($id: ID!) { deleteLabel(id: $id) }`, map[string]any{"id": l.CreateLabel.ID}, "NOT_FOUND")
	e.ok(chen.AccessToken, `mutation($id: ID!) { deleteLabel(id: $id) }`, map[string]any{"id": l.CreateLabel.ID}, nil)
	if ms := e.messages(chen.AccessToken, ch.ID); len(ms) != 1 {
		t.Errorf("deleting a label deleted its messages")
	}
}

func TestStaffAutoReply(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	until := e.clock.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	var prefs struct {
		UpdatePreferences struct {
			Preferences struct{ StaffAutoReply struct{ Text string } }
		}
	}
	e.ok(patel.AccessToken, `mutation($u: Time) { updatePreferences(input: {staffAutoReply: {text: "On leave until Monday", until: $u}}) {
		preferences { staffAutoReply { text until } } } }`, map[string]any{"u": until}, &prefs)
	if prefs.UpdatePreferences.Preferences.StaffAutoReply.Text != "On leave until Monday" {
		t.Fatalf("auto-reply not saved: %+v", prefs)
	}
	e.fails(patel.AccessToken, `mutation { updatePreferences(input: {staffAutoReply: {text: "x", until: "2001-01-01T00:00:00Z"}}) { id } }`, nil, "BAD_USER_INPUT")
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	e.send(chen.AccessToken, ch.ID, "one", nil)
	e.send(chen.AccessToken, ch.ID, "two", nil)
	count := func() int {
		n := 0
		for _, m := range e.messages(chen.AccessToken, ch.ID) {
			if m.Body == "On leave until Monday" && m.Sender != nil && m.Sender.Email == demo.PatelEmail {
				n++
			}
		}
		return n
	}
	if n := count(); n != 1 {
		t.Errorf("%d auto-replies on day one, want 1", n)
	}
	e.clock.Advance(24 * time.Hour)
	chen = e.login(demo.ChenEmail)
	e.send(chen.AccessToken, ch.ID, "three", nil)
	if n := count(); n != 2 {
		t.Errorf("%d auto-replies after a new day, want 2", n)
	}
	e.clock.Advance(48 * time.Hour)
	chen = e.login(demo.ChenEmail)
	e.send(chen.AccessToken, ch.ID, "four", nil)
	if n := count(); n != 2 {
		t.Errorf("%d auto-replies after the end date, want still 2", n)
	}
}

// TestAutoReplyLeavesWhatItAnswersUnread: a staff auto-reply is posted in
// the away user's name, but they have not read the message it answers: it
// stays unread for them (with the auto-reply itself, until they open the
// conversation), in the channel's unreadCount and on a badge stream opened
// before; the sender's own message is read for the sender.
func TestAutoReplyLeavesWhatItAnswersUnread(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	e.ok(patel.AccessToken, `mutation { updatePreferences(input: {staffAutoReply: {text: "On leave until Monday"}}) { id } }`, nil, nil)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	badge := e.subscribe(t, patel.AccessToken, `subscription { unreadBadge { total } }`, nil)
	if d := badge.next(5 * time.Second); d == nil {
		t.Fatal("no initial badge")
	}
	e.send(chen.AccessToken, ch.ID, "Can you see Mrs Jones today?", nil)
	if c := e.channel(patel.AccessToken, ch.ID); c.UnreadCount != 2 {
		t.Errorf("Patel's unread after Chen's message and his auto-reply = %d, want 2 (he has read neither)", c.UnreadCount)
	}
	if c := e.channel(chen.AccessToken, ch.ID); c.UnreadCount != 1 {
		t.Errorf("Chen's unread = %d, want 1 (the auto-reply)", c.UnreadCount)
	}
	var total float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && total != 2; {
		d := badge.next(time.Until(deadline))
		if d == nil {
			break
		}
		total = d["unreadBadge"].(map[string]any)["total"].(float64)
	}
	if total != 2 {
		t.Errorf("Patel's badge shows %v, want 2", total)
	}
}

// TestCustomGroupMembershipFollowsItsParts: updateCustomGroup adds and
// removes users, security groups and included conversations; the system
// message names only who actually joined or left; a user without
// ACCESS_WHISPER cannot be added.
func TestCustomGroupMembershipFollowsItsParts(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim, reception := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail), e.login(demo.ReceptionEmail)
	recID := e.userID(chen.AccessToken, demo.ReceptionEmail)
	doctors := e.groupID(chen.AccessToken, "Doctors")
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}, "securityGroupIDs": []string{doctors}})
	if g.Kind != "CUSTOM_GROUP" || emails(g) != "dr.chen,dr.patel,nurse.kim" {
		t.Fatalf("custom group = %+v", g)
	}
	const upd = `mutation($in: UpdateCustomGroupInput!) { updateCustomGroup(input: $in) { ` + channelFields + ` } }`
	update := func(in map[string]any) channelInfo {
		t.Helper()
		in["channelID"] = g.ID
		var out struct{ UpdateCustomGroup channelInfo }
		e.ok(chen.AccessToken, upd, map[string]any{"in": in}, &out)
		return out.UpdateCustomGroup
	}
	last := func() messageInfo {
		t.Helper()
		ms := e.messages(chen.AccessToken, g.ID)
		if len(ms) == 0 {
			return messageInfo{}
		}
		return ms[len(ms)-1]
	}
	count := func() int { return len(e.messages(chen.AccessToken, g.ID)) }

	// Patel is also in through Doctors: taking her off the user list
	// changes nothing, and no message claims she was removed.
	before := count()
	if got := emails(update(map[string]any{"removeUserIDs": []string{patel.User.ID}})); got != "dr.chen,dr.patel,nurse.kim" {
		t.Errorf("after removing Patel as a user (she is in Doctors) the group has %s", got)
	}
	for _, m := range e.messages(chen.AccessToken, g.ID) {
		if strings.Contains(m.Body, "removed Dr Priya Patel") {
			t.Errorf("a system message claims Patel was removed: %q", m.Body)
		}
	}
	if count() != before {
		t.Errorf("a change that moved nobody posted %d messages", count()-before)
	}
	// Dropping Doctors takes her out now.
	if got := emails(update(map[string]any{"removeSecurityGroupIDs": []string{doctors}})); got != "dr.chen,nurse.kim" {
		t.Errorf("after removing Doctors the group has %s, want chen and kim", got)
	}
	if m := last(); m.Sender != nil || !strings.Contains(m.Body, "removed Dr Priya Patel") {
		t.Errorf("last message %q, want a system message that Patel was removed", m.Body)
	}
	e.fails(patel.AccessToken, `query($c: ID!) { messages(channelID: $c) { totalCount } }`, map[string]any{"c": g.ID}, "NOT_FOUND")
	// Adding Doctors brings her back, with the history.
	if got := emails(update(map[string]any{"addSecurityGroupIDs": []string{doctors}})); got != "dr.chen,dr.patel,nurse.kim" {
		t.Errorf("after adding Doctors the group has %s", got)
	}
	if m := last(); !strings.Contains(m.Body, "added Dr Priya Patel") {
		t.Errorf("last message %q, want one that Patel was added", m.Body)
	}
	if n := len(e.messages(patel.AccessToken, g.ID)); n != count() {
		t.Errorf("Patel, back, sees %d messages, want the whole history (%d)", n, count())
	}
	// Including a conversation brings in its members; removing it takes
	// them out again.
	other := e.open(chen.AccessToken, map[string]any{"userIDs": []string{recID}})
	if got := emails(update(map[string]any{"addChannelIDs": []string{other.ID}})); got != "dr.chen,dr.patel,nurse.kim,reception" {
		t.Errorf("after including Chen's conversation with reception the group has %s", got)
	}
	if got := emails(update(map[string]any{"removeChannelIDs": []string{other.ID}})); got != "dr.chen,dr.patel,nurse.kim" {
		t.Errorf("after removing the included conversation the group has %s", got)
	}
	if m := last(); !strings.Contains(m.Body, "removed Sam Taylor") {
		t.Errorf("last message %q, want one that reception (Sam Taylor) left", m.Body)
	}
	e.fails(reception.AccessToken, `query($c: ID!) { messages(channelID: $c) { totalCount } }`, map[string]any{"c": g.ID}, "NOT_FOUND")

	// Someone without ACCESS_WHISPER cannot be added, and nothing changes.
	ctx := viewer.NewSystemContext(context.Background(), "test")
	pw := e.db.Client.User.Query().Where(userEmail(demo.KimEmail)).OnlyX(ctx).PasswordHash
	locum := e.db.Client.User.Create().SetName("Casey Locum").SetEmail("locum@demo.clinic").SetPasswordHash(pw).SaveX(ctx)
	before = count()
	e.fails(chen.AccessToken, upd, map[string]any{"in": map[string]any{"channelID": g.ID, "addUserIDs": []string{string(locum.ID)}}}, "FORBIDDEN")
	if got := emails(e.channel(chen.AccessToken, g.ID)); got != "dr.chen,dr.patel,nurse.kim" || count() != before {
		t.Errorf("a refused addition changed the group to %s (%d new messages)", got, count()-before)
	}
}

// TestAllFivePreferences sets each of SPEC §3's five preferences and reads
// them back; a partial update leaves the others as they were.
func TestAllFivePreferences(t *testing.T) {
	e := newEnv(t)
	kim := e.login(demo.KimEmail)
	type prefs struct{ OpenOnNewMessage, KeepHidden, NeverReceiveDirect, OpenOnStartup, PatientArrivedAlerts bool }
	const fields = `preferences { openOnNewMessage keepHidden neverReceiveDirect openOnStartup patientArrivedAlerts }`
	read := func() prefs {
		var out struct{ Me struct{ Preferences prefs } }
		e.ok(kim.AccessToken, `{ me { `+fields+` } }`, nil, &out)
		return out.Me.Preferences
	}
	start := read()
	flipped := prefs{!start.OpenOnNewMessage, !start.KeepHidden, !start.NeverReceiveDirect, !start.OpenOnStartup, !start.PatientArrivedAlerts}
	var out struct{ UpdatePreferences struct{ Preferences prefs } }
	e.ok(kim.AccessToken, `mutation($in: PreferencesInput!) { updatePreferences(input: $in) { `+fields+` } }`, map[string]any{"in": map[string]any{
		"openOnNewMessage": flipped.OpenOnNewMessage, "keepHidden": flipped.KeepHidden, "neverReceiveDirect": flipped.NeverReceiveDirect,
		"openOnStartup": flipped.OpenOnStartup, "patientArrivedAlerts": flipped.PatientArrivedAlerts,
	}}, &out)
	if out.UpdatePreferences.Preferences != flipped || read() != flipped {
		t.Errorf("after setting all five: %+v (read back %+v), want %+v", out.UpdatePreferences.Preferences, read(), flipped)
	}
	// One at a time: only that one moves.
	want := flipped
	for name, set := range map[string]func(*prefs){
		"openOnNewMessage":     func(p *prefs) { p.OpenOnNewMessage = !p.OpenOnNewMessage },
		"keepHidden":           func(p *prefs) { p.KeepHidden = !p.KeepHidden },
		"neverReceiveDirect":   func(p *prefs) { p.NeverReceiveDirect = !p.NeverReceiveDirect },
		"openOnStartup":        func(p *prefs) { p.OpenOnStartup = !p.OpenOnStartup },
		"patientArrivedAlerts": func(p *prefs) { p.PatientArrivedAlerts = !p.PatientArrivedAlerts },
	} {
		set(&want)
		var value bool
		switch name {
		case "openOnNewMessage":
			value = want.OpenOnNewMessage
		case "keepHidden":
			value = want.KeepHidden
		case "neverReceiveDirect":
			value = want.NeverReceiveDirect
		case "openOnStartup":
			value = want.OpenOnStartup
		case "patientArrivedAlerts":
			value = want.PatientArrivedAlerts
		}
		e.ok(kim.AccessToken, `mutation($in: PreferencesInput!) { updatePreferences(input: $in) { id } }`,
			map[string]any{"in": map[string]any{name: value}}, nil)
		if got := read(); got != want {
			t.Errorf("after setting %s alone: %+v, want %+v", name, got, want)
		}
	}
}

// TestChannelKindFilter: a kind filter lists exactly the channels of the
// kinds asked for.
func TestChannelKindFilter(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	ind := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	grp := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}, "name": "Ward"})
	doctors := e.open(chen.AccessToken, map[string]any{"securityGroupIDs": []string{e.groupID(chen.AccessToken, "Doctors")}})
	for _, ch := range []channelInfo{ind, grp, doctors} {
		e.send(chen.AccessToken, ch.ID, "hello", nil)
	}
	list := func(kinds ...string) []string {
		var out struct {
			Channels struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		e.ok(chen.AccessToken, `query($k: [ChannelKind!]) { channels(filter: {kinds: $k}) { edges { node { id } } } }`, map[string]any{"k": kinds}, &out)
		var ids []string
		for _, edge := range out.Channels.Edges {
			ids = append(ids, edge.Node.ID)
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	for _, tc := range []struct {
		kinds []string
		want  []string
	}{
		{[]string{"INDIVIDUAL"}, sorted(ind.ID)},
		{[]string{"CUSTOM_GROUP"}, sorted(grp.ID)},
		{[]string{"GROUP"}, sorted(doctors.ID)},
		{[]string{"GROUP", "CUSTOM_GROUP"}, sorted(grp.ID, doctors.ID)},
	} {
		if got := list(tc.kinds...); !slices.Equal(got, tc.want) {
			t.Errorf("kinds %v = %v, want %v", tc.kinds, got, tc.want)
		}
	}
}

// An auto-reply set again without an end date is open-ended: the earlier end
// date must not carry over and silence it.
func TestStaffAutoReplyReplacedWithoutEndDate(t *testing.T) {
	e := newEnv(t)
	chen, patel := e.login(demo.ChenEmail), e.login(demo.PatelEmail)
	until := e.clock.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	e.ok(patel.AccessToken, `mutation($u: Time) { updatePreferences(input: {staffAutoReply: {text: "Away today", until: $u}}) { id } }`,
		map[string]any{"u": until}, nil)
	var prefs struct {
		UpdatePreferences struct {
			Preferences struct {
				StaffAutoReply struct {
					Text  string
					Until *string
				}
			}
		}
	}
	e.ok(patel.AccessToken, `mutation { updatePreferences(input: {staffAutoReply: {text: "On long leave"}}) {
		preferences { staffAutoReply { text until } } } }`, nil, &prefs)
	if got := prefs.UpdatePreferences.Preferences.StaffAutoReply; got.Text != "On long leave" || got.Until != nil {
		t.Fatalf("auto-reply = %+v, want the new text without an end date", got)
	}
	e.clock.Advance(72 * time.Hour) // well past the first end date
	chen = e.login(demo.ChenEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	e.send(chen.AccessToken, ch.ID, "are you in?", nil)
	n := 0
	for _, m := range e.messages(chen.AccessToken, ch.ID) {
		if m.Body == "On long leave" && m.Sender != nil && m.Sender.Email == demo.PatelEmail {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d open-ended auto-replies after the old end date, want 1", n)
	}
}

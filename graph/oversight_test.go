package graph_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

func TestObserveUser(t *testing.T) {
	e := newEnv(t)
	chen, patel, admin := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.AdminEmail)
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	// The message before the observation is history: wait until the hub has
	// released it (Patel's own stream receives it) before observing, so the
	// observer's stream starts after it rather than racing its release.
	own := e.listen(t, patel.AccessToken, messageAdded, nil)
	e.send(chen.AccessToken, ch.ID, "for Patel's eyes", nil)
	if body, _ := own.message(5 * time.Second); body != "for Patel's eyes" {
		t.Fatalf("Patel's stream got %q", body)
	}

	live := e.listen(t, admin.AccessToken, `subscription($u: ID!) { observeUser(userID: $u) { body } }`, map[string]any{"u": patel.User.ID})
	var list struct {
		ObservedChannels struct {
			Edges []struct {
				Node struct {
					ID          string
					UnreadCount int
				}
			}
		}
	}
	e.ok(admin.AccessToken, `query($u: ID!) { observedChannels(userID: $u) { edges { node { id unreadCount } } } }`, map[string]any{"u": patel.User.ID}, &list)
	if len(list.ObservedChannels.Edges) != 1 || list.ObservedChannels.Edges[0].Node.UnreadCount != 1 {
		t.Fatalf("observed channels = %+v, want Patel's one channel with 1 unread", list.ObservedChannels.Edges)
	}
	var msgs struct {
		ObservedMessages struct{ TotalCount int }
	}
	e.ok(admin.AccessToken, `query($u: ID!, $c: ID!) { observedMessages(userID: $u, channelID: $c) { totalCount } }`,
		map[string]any{"u": patel.User.ID, "c": ch.ID}, &msgs)
	if msgs.ObservedMessages.TotalCount != 1 {
		t.Errorf("observed messages = %d, want 1", msgs.ObservedMessages.TotalCount)
	}
	// Observing marked nothing read.
	if c := e.channel(patel.AccessToken, ch.ID); c.UnreadCount != 1 {
		t.Errorf("after observation Patel's unread = %d, want still 1", c.UnreadCount)
	}
	e.send(chen.AccessToken, ch.ID, "live while observed", nil)
	if body, _ := live.message(5 * time.Second); body != "live while observed" {
		t.Errorf("observer's stream got %q", body)
	}
	// Doctors cannot observe; neither can an integration.
	e.fails(chen.AccessToken, `query($u: ID!) { observedChannels(userID: $u) { totalCount } }`, map[string]any{"u": patel.User.ID}, "FORBIDDEN")
	e.fails(demo.IntegrationKey, `query($u: ID!) { observedChannels(userID: $u) { totalCount } }`, map[string]any{"u": patel.User.ID}, "FORBIDDEN")
	// The observation is in the access log.
	var log struct {
		AccessLog struct {
			Edges []struct {
				Node struct {
					Action      string
					Actor       struct{ Email string }
					SubjectUser *struct{ Email string }
				}
			}
		}
	}
	e.ok(admin.AccessToken, `query($u: ID) { accessLog(filter: {userID: $u}) { edges { node { action actor { email } subjectUser { email } } } } }`,
		map[string]any{"u": patel.User.ID}, &log)
	if len(log.AccessLog.Edges) == 0 || log.AccessLog.Edges[0].Node.Action != "OBSERVE_USER" || log.AccessLog.Edges[0].Node.Actor.Email != demo.AdminEmail {
		t.Errorf("access log = %+v, want the admin's observation", log.AccessLog.Edges)
	}
}

func TestAuditAndAccessLog(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim, admin, rec := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail), e.login(demo.AdminEmail), e.login(demo.ReceptionEmail)
	var pats struct {
		Patients struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.ok(chen.AccessToken, `{ patients(search: "P0002") { edges { node { id } } } }`, nil, &pats)
	pid := pats.Patients.Edges[0].Node.ID
	a := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	b := e.open(kim.AccessToken, map[string]any{"userIDs": []string{rec.User.ID}})
	e.send(chen.AccessToken, a.ID, "Liam Wilson's bloods are back", map[string]any{"patientIDs": []string{pid}})
	for i := 0; i < 4; i++ {
		e.send(kim.AccessToken, b.ID, "restock gloves", nil)
	}
	e.ok(demo.IntegrationKey, `mutation($u: [ID!]) { createNotification(input: {kind: LAB_REPORT, title: "Lipids ready", userIDs: $u}) { id } }`,
		map[string]any{"u": []string{chen.User.ID}}, nil)

	const audit = `query($f: AuditFilter, $first: Int, $after: String) { auditLog(filter: $f, first: $first, after: $after) {
		totalCount edges { cursor node { kind body sender { email } channel { kind } recipients { email } patients { patientNumber } } }
		pageInfo { hasNextPage endCursor } } }`
	type page struct {
		AuditLog struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					Kind, Body string
					Sender     *struct{ Email string }
					Recipients []struct{ Email string }
					Patients   []struct{ PatientNumber string }
				}
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	for _, tok := range []string{rec.AccessToken, chen.AccessToken, demo.IntegrationKey} {
		e.fails(tok, audit, nil, "FORBIDDEN")
	}
	var all page
	e.ok(admin.AccessToken, audit, map[string]any{"first": 4}, &all)
	if all.AuditLog.TotalCount != 6 || len(all.AuditLog.Edges) != 4 || !all.AuditLog.PageInfo.HasNextPage {
		t.Fatalf("audit page 1 = %d total, %d edges, next %v; want 6 total (5 messages + 1 notification) in pages of 4",
			all.AuditLog.TotalCount, len(all.AuditLog.Edges), all.AuditLog.PageInfo.HasNextPage)
	}
	var next page
	e.ok(admin.AccessToken, audit, map[string]any{"first": 4, "after": all.AuditLog.PageInfo.EndCursor}, &next)
	if len(next.AuditLog.Edges) != 2 || next.AuditLog.PageInfo.HasNextPage {
		t.Errorf("audit page 2 has %d entries, want the last 2", len(next.AuditLog.Edges))
	}
	for name, tc := range map[string]struct {
		filter map[string]any
		want   int
	}{
		"text":   {map[string]any{"text": "bloods"}, 1},
		"sender": {map[string]any{"senderID": kim.User.ID}, 4},
		// Chen's own message is not one he received; the notification is.
		"recipient":     {map[string]any{"recipientID": chen.User.ID}, 1},
		"recipient 2":   {map[string]any{"recipientID": patel.User.ID}, 1},
		"patient":       {map[string]any{"patientID": pid}, 1},
		"channel kinds": {map[string]any{"channelKinds": []string{"GROUP"}}, 0},
		"time range":    {map[string]any{"from": e.clock.Now().Add(time.Hour).Format(time.RFC3339)}, 0},
	} {
		t.Run(name, func(t *testing.T) {
			var p page
			e.with(t).ok(admin.AccessToken, audit, map[string]any{"f": tc.filter, "first": 50}, &p)
			if p.AuditLog.TotalCount != tc.want || len(p.AuditLog.Edges) != tc.want {
				t.Errorf("%d entries (total %d), want %d", len(p.AuditLog.Edges), p.AuditLog.TotalCount, tc.want)
			}
		})
	}
	var one page
	e.ok(admin.AccessToken, audit, map[string]any{"f": map[string]any{"text": "bloods"}, "first": 1}, &one)
	if n := one.AuditLog.Edges[0].Node; n.Sender.Email != demo.ChenEmail || len(n.Recipients) != 1 || n.Recipients[0].Email != demo.PatelEmail || n.Patients[0].PatientNumber != "P0002" {
		t.Errorf("audit entry = %+v, want Chen's message to Patel (the sender is not a recipient) about P0002", n)
	}

	// Access log: opening a patient-linked conversation and a patient record.
	e.messages(patel.AccessToken, a.ID)
	e.messages(kim.AccessToken, b.ID) // no patient: not logged
	e.ok(rec.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": pid}, nil)
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
	e.fails(chen.AccessToken, `{ accessLog { totalCount } }`, nil, "FORBIDDEN")
	e.ok(admin.AccessToken, `query($p: ID) { accessLog(filter: {patientID: $p}) { edges { node { action actor { email } } } } }`,
		map[string]any{"p": pid}, &log)
	got := map[string]bool{}
	for _, edge := range log.AccessLog.Edges {
		got[edge.Node.Action+" "+edge.Node.Actor.Email] = true
	}
	if !got["OPEN_PATIENT_CONVERSATION "+demo.PatelEmail] || !got["VIEW_PATIENT "+demo.ReceptionEmail] {
		t.Errorf("access log for the patient = %v", got)
	}
}

// auditQuery is the audit page with what the tests below check.
const auditQuery = `query($f: AuditFilter, $first: Int) { auditLog(filter: $f, first: $first) {
	totalCount edges { node { kind body sender { email } recipients { email } patients { patientNumber } } } } }`

type auditPage struct {
	AuditLog struct {
		TotalCount int
		Edges      []struct {
			Node struct {
				Kind, Body string
				Sender     *struct{ Email string }
				Recipients []struct{ Email string }
				Patients   []struct{ PatientNumber string }
			}
		}
	}
}

func (p auditPage) bodies() []string {
	var out []string
	for _, e := range p.AuditLog.Edges {
		out = append(out, e.Node.Body)
	}
	return out
}

// A patient can be discussed in any number of messages (the link was once
// one message per patient, and a second link failed with CONFLICT).
func TestPatientLinkedToManyMessages(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim, admin := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail), e.login(demo.AdminEmail)
	pid := e.patientID(chen.AccessToken, "P0002")
	a := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	b := e.open(kim.AccessToken, map[string]any{"userIDs": []string{chen.User.ID}})
	links := map[string]any{"patientIDs": []string{pid}}
	first := e.send(chen.AccessToken, a.ID, "Liam's bloods are back", links)
	second := e.send(kim.AccessToken, b.ID, "Liam is asking about his bloods", links)
	third := e.send(chen.AccessToken, a.ID, "Liam again: repeat in 3 months", links)
	for _, m := range []messageInfo{first, second, third} {
		if len(m.Patients) != 1 || m.Patients[0].PatientNumber != "P0002" {
			t.Errorf("message %q links %+v, want P0002", m.Body, m.Patients)
		}
	}
	// Each message still shows the patient when read back.
	for _, m := range append(e.messages(patel.AccessToken, a.ID), e.messages(chen.AccessToken, b.ID)...) {
		if len(m.Patients) != 1 || m.Patients[0].PatientNumber != "P0002" {
			t.Errorf("read back, message %q links %+v, want P0002", m.Body, m.Patients)
		}
	}
	var p auditPage
	e.ok(admin.AccessToken, auditQuery, map[string]any{"f": map[string]any{"patientID": pid}, "first": 10}, &p)
	if p.AuditLog.TotalCount != 3 || len(p.AuditLog.Edges) != 3 {
		t.Errorf("audit for the patient = %v (total %d), want all three messages", p.bodies(), p.AuditLog.TotalCount)
	}
	// A page that does not ask for the total (which is then not counted)
	// lists the same entries.
	var q auditPage
	e.ok(admin.AccessToken, `query($f: AuditFilter) { auditLog(filter: $f, first: 10) { edges { node { body } } } }`,
		map[string]any{"f": map[string]any{"patientID": pid}}, &q)
	if !slices.Equal(q.bodies(), p.bodies()) {
		t.Errorf("page without totalCount = %v, want %v", q.bodies(), p.bodies())
	}
}

// Recipients are who was in the channel when the message was sent, from the
// membership history: a member removed later still received what came
// before, a member added later did not receive it, and the sender is not
// a recipient of their own message.
func TestAuditRecipientsFromMembershipHistory(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim, admin := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail), e.login(demo.AdminEmail)
	recID := e.userID(chen.AccessToken, demo.ReceptionEmail)
	g := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}})
	e.send(chen.AccessToken, g.ID, "before the change", nil)
	e.ok(patel.AccessToken, `mutation($in: UpdateCustomGroupInput!) { updateCustomGroup(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"channelID": g.ID, "addUserIDs": []string{recID}, "removeUserIDs": []string{kim.User.ID}}}, nil)
	e.send(chen.AccessToken, g.ID, "after the change", nil)

	recipients := func(body string) string {
		t.Helper()
		var p auditPage
		e.ok(admin.AccessToken, auditQuery, map[string]any{"f": map[string]any{"text": body}, "first": 5}, &p)
		if len(p.AuditLog.Edges) != 1 {
			t.Fatalf("audit for %q = %v, want one entry", body, p.bodies())
		}
		var got []string
		for _, r := range p.AuditLog.Edges[0].Node.Recipients {
			got = append(got, r.Email)
		}
		slices.Sort(got)
		return strings.Join(got, ",")
	}
	if got, want := recipients("before the change"), demo.PatelEmail+","+demo.KimEmail; got != want && got != demo.KimEmail+","+demo.PatelEmail {
		t.Errorf("recipients before the change = %s, want %s (Kim was a member then)", got, want)
	}
	if got := recipients("after the change"); got != demo.PatelEmail+","+demo.ReceptionEmail {
		t.Errorf("recipients after the change = %s, want Patel and reception", got)
	}
	// The recipient filter agrees: Kim received the first message only,
	// reception the second (and the system notice of the change, which came
	// after reception was added), Chen none of his own.
	for who, want := range map[string][]string{
		kim.User.ID:  {"before the change"},
		chen.User.ID: nil,
	} {
		var p auditPage
		e.ok(admin.AccessToken, auditQuery, map[string]any{"f": map[string]any{"recipientID": who, "channelKinds": []string{"CUSTOM_GROUP"}}, "first": 10}, &p)
		var got []string
		for _, b := range p.bodies() {
			if !strings.Contains(b, "added") && !strings.Contains(b, "removed") {
				got = append(got, b)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("messages received by %s = %v, want %v", who, p.bodies(), want)
		}
	}
	var p auditPage
	e.ok(admin.AccessToken, auditQuery, map[string]any{"f": map[string]any{"recipientID": recID, "channelKinds": []string{"CUSTOM_GROUP"}}, "first": 10}, &p)
	if got := p.bodies(); !slices.Contains(got, "after the change") || slices.Contains(got, "before the change") {
		t.Errorf("messages received by reception = %v, want the one after it joined only", got)
	}
}

// Every path that returns a patient record to a staff member is in the
// access log — node, nodes, the patients search, a message's patients —
// once per viewer and patient per request, however often the request reads
// it.
func TestPatientReadsAreLogged(t *testing.T) {
	e := newEnv(t)
	kim, chen, admin := e.login(demo.KimEmail), e.login(demo.ChenEmail), e.login(demo.AdminEmail)
	pid := e.patientID(admin.AccessToken, "P0002")
	other := e.patientID(admin.AccessToken, "P0001")
	views := func(actor, patient string) int {
		t.Helper()
		var out struct {
			AccessLog struct {
				Edges []struct{ Node struct{ Action string } }
			}
		}
		e.ok(admin.AccessToken, `query($a: ID, $p: ID) { accessLog(filter: {actorID: $a, patientID: $p}, first: 100) { edges { node { action } } } }`,
			map[string]any{"a": actor, "p": patient}, &out)
		n := 0
		for _, edge := range out.AccessLog.Edges {
			if edge.Node.Action == "VIEW_PATIENT" {
				n++
			}
		}
		return n
	}
	if n := views(kim.User.ID, pid); n != 0 {
		t.Fatalf("Kim has %d patient views before reading anything", n)
	}
	e.ok(kim.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": pid}, nil)
	if n := views(kim.User.ID, pid); n != 1 {
		t.Errorf("after node(id:), Kim's views of the patient = %d, want 1", n)
	}
	// One request reading the patient three times is logged once.
	e.ok(kim.AccessToken, `query($id: ID!, $ids: [ID!]!) { node(id: $id) { id } nodes(ids: $ids) { id } }`,
		map[string]any{"id": pid, "ids": []string{pid, pid}}, nil)
	if n := views(kim.User.ID, pid); n != 2 {
		t.Errorf("after one node+nodes request, Kim's views = %d, want 2 (one per request)", n)
	}
	// nodes(ids:) alone, which was not logged at all.
	e.ok(kim.AccessToken, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{other}}, nil)
	if n := views(kim.User.ID, other); n != 1 {
		t.Errorf("after nodes(ids:), Kim's views of the other patient = %d, want 1", n)
	}
	// The search returns full records: logged too.
	e.ok(kim.AccessToken, `{ patients(search: "P0002") { edges { node { id firstName } } } }`, nil, nil)
	if n := views(kim.User.ID, pid); n != 3 {
		t.Errorf("after patients(search:), Kim's views = %d, want 3", n)
	}
	// A message's patients are patient reads as well.
	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{kim.User.ID}})
	e.send(chen.AccessToken, ch.ID, "about Liam", map[string]any{"patientIDs": []string{pid}})
	before := views(kim.User.ID, pid)
	e.messages(kim.AccessToken, ch.ID)
	if n := views(kim.User.ID, pid); n != before+1 {
		t.Errorf("after reading a message linking the patient, Kim's views = %d, want %d", n, before+1)
	}
	// An integration's reads are not staff access; they are not logged.
	e.ok(demo.IntegrationKey, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": pid}, nil)
	var all struct {
		AccessLog struct {
			Edges []struct {
				Node struct {
					Action string
					Actor  struct{ Email string }
				}
			}
		}
	}
	e.ok(admin.AccessToken, `query($p: ID) { accessLog(filter: {patientID: $p}, first: 100) { edges { node { action actor { email } } } } }`, map[string]any{"p": pid}, &all)
	for _, edge := range all.AccessLog.Edges {
		switch edge.Node.Actor.Email {
		case demo.KimEmail, demo.ChenEmail, demo.AdminEmail:
		default:
			t.Errorf("access log has %s by %s, want staff reads only", edge.Node.Action, edge.Node.Actor.Email)
		}
	}
}

// observeUser re-checks the administrator before each message: once they
// lose WHISPER_ADMIN the stream delivers nothing more and ends. A doctor
// cannot open it at all.
func TestObserveStopsWhenAdminLosesRights(t *testing.T) {
	e := newEnv(t)
	chen, patel, admin := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.AdminEmail)
	const observe = `subscription($u: ID!) { observeUser(userID: $u) { body } }`

	// Over the websocket a doctor is refused with FORBIDDEN.
	doc := e.subscribe(t, chen.AccessToken, observe, map[string]any{"u": patel.User.ID})
	msg, err := doc.c.read(5 * time.Second)
	if err != nil {
		t.Fatalf("no answer to a doctor's observeUser: %v", err)
	}
	if code := firstErrorCode(msg); code != "FORBIDDEN" {
		t.Errorf("doctor's observeUser answered %v, want FORBIDDEN", msg)
	}

	ch := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	live := e.listen(t, admin.AccessToken, observe, map[string]any{"u": patel.User.ID})
	e.send(chen.AccessToken, ch.ID, "seen by the observer", nil)
	if body, _ := live.message(5 * time.Second); body != "seen by the observer" {
		t.Fatalf("observer's stream got %q", body)
	}
	// The administrator leaves the group that gave them WHISPER_ADMIN.
	sctx := viewer.NewSystemContext(context.Background(), "test")
	e.db.Client.SecurityGroup.Update().Where(securitygroup.Name("HMS-Administrator")).
		RemoveMemberIDs(pulid.ID(admin.User.ID)).ExecX(sctx)
	e.send(chen.AccessToken, ch.ID, "after the rights went", nil)
	if body, _ := live.message(5 * time.Second); body != "<complete>" {
		t.Errorf("after losing WHISPER_ADMIN the observer got %q, want the stream to end", body)
	}
}

// firstErrorCode is the extensions.code of the first error in a websocket
// message (an "error" message or a "next" carrying errors).
func firstErrorCode(msg map[string]any) string {
	var errs []any
	switch p := msg["payload"].(type) {
	case []any:
		errs = p
	case map[string]any:
		errs, _ = p["errors"].([]any)
	}
	if len(errs) == 0 {
		return ""
	}
	first, _ := errs[0].(map[string]any)
	ext, _ := first["extensions"].(map[string]any)
	code, _ := ext["code"].(string)
	return code
}

// accessLog filters by actor, patient, observed user and time range.
func TestAccessLogFilters(t *testing.T) {
	e := newEnv(t)
	kim, chen, patel, admin := e.login(demo.KimEmail), e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.AdminEmail)
	a, b := e.patientID(admin.AccessToken, "P0001"), e.patientID(admin.AccessToken, "P0002")
	start := time.Now().UTC()
	e.ok(kim.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": a}, nil)
	e.ok(chen.AccessToken, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": b}, nil)
	e.ok(admin.AccessToken, `query($u: ID!) { observedChannels(userID: $u) { totalCount } }`, map[string]any{"u": patel.User.ID}, nil)
	end := time.Now().UTC().Add(time.Second)

	type entry struct{ Action, Actor, Patient, Subject string }
	list := func(filter map[string]any) []entry {
		t.Helper()
		var out struct {
			AccessLog struct {
				Edges []struct {
					Node struct {
						Action      string
						Actor       struct{ Email string }
						Patient     *struct{ PatientNumber string }
						SubjectUser *struct{ Email string }
					}
				}
			}
		}
		e.ok(admin.AccessToken, `query($f: AccessLogFilter) { accessLog(filter: $f, first: 100) { edges { node {
			action actor { email } patient { patientNumber } subjectUser { email } } } } }`, map[string]any{"f": filter}, &out)
		var got []entry
		for _, edge := range out.AccessLog.Edges {
			n := edge.Node
			x := entry{Action: n.Action, Actor: n.Actor.Email}
			if n.Patient != nil {
				x.Patient = n.Patient.PatientNumber
			}
			if n.SubjectUser != nil {
				x.Subject = n.SubjectUser.Email
			}
			got = append(got, x)
		}
		return got
	}
	only := func(name string, got []entry, want entry) {
		t.Helper()
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: %+v, want only %+v", name, got, want)
		}
	}
	only("actor Kim", list(map[string]any{"actorID": kim.User.ID}), entry{"VIEW_PATIENT", demo.KimEmail, "P0001", ""})
	// (The administrator's own reads of P0002 — finding it, listing the
	// log with patient numbers — are in the log too; they are left aside.)
	var staff []entry
	for _, x := range list(map[string]any{"patientID": b}) {
		if x.Actor != demo.AdminEmail {
			staff = append(staff, x)
		}
	}
	only("patient P0002", staff, entry{"VIEW_PATIENT", demo.ChenEmail, "P0002", ""})
	only("observed Patel", list(map[string]any{"userID": patel.User.ID}), entry{"OBSERVE_USER", demo.AdminEmail, "", demo.PatelEmail})
	if got := list(map[string]any{"actorID": kim.User.ID, "from": start.Format(time.RFC3339Nano), "to": end.Format(time.RFC3339Nano)}); len(got) != 1 {
		t.Errorf("Kim's entries within the run = %+v, want 1", got)
	}
	if got := list(map[string]any{"from": end.Add(time.Hour).Format(time.RFC3339)}); len(got) != 0 {
		t.Errorf("entries from an hour ahead = %+v, want none", got)
	}
	if got := list(map[string]any{"to": start.Add(-time.Hour).Format(time.RFC3339)}); len(got) != 0 {
		t.Errorf("entries up to an hour before = %+v, want none", got)
	}
}

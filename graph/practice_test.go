package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

const upsertPatient = `mutation($in: PatientInput!) { upsertPatient(input: $in) { id patientNumber firstName mobile } }`

func TestPatientUpserts(t *testing.T) {
	e := newEnv(t)
	in := map[string]any{"externalID": "pms-900", "patientNumber": "P0900", "firstName": "Grace", "lastName": "Hopper",
		"birthDate": "1906-12-09", "mobile": "+61400900900", "version": 3}
	var a, b struct {
		UpsertPatient struct{ ID, PatientNumber, FirstName, Mobile string }
	}
	e.ok(demo.IntegrationKey, upsertPatient, map[string]any{"in": in}, &a)
	e.ok(demo.IntegrationKey, upsertPatient, map[string]any{"in": in}, &b)
	if a.UpsertPatient.ID == "" || a.UpsertPatient.ID != b.UpsertPatient.ID {
		t.Fatalf("pushing twice gave %s and %s, want one patient", a.UpsertPatient.ID, b.UpsertPatient.ID)
	}
	older := map[string]any{}
	for k, v := range in {
		older[k] = v
	}
	older["firstName"], older["version"] = "Old", 2
	e.ok(demo.IntegrationKey, upsertPatient, map[string]any{"in": older}, &b)
	if b.UpsertPatient.FirstName != "Grace" {
		t.Errorf("an older version changed the patient to %q", b.UpsertPatient.FirstName)
	}
	newer := map[string]any{}
	for k, v := range in {
		newer[k] = v
	}
	newer["firstName"], newer["version"] = "Grace B.", 4
	e.ok(demo.IntegrationKey, upsertPatient, map[string]any{"in": newer}, &b)
	if b.UpsertPatient.FirstName != "Grace B." {
		t.Errorf("a newer version did not update: %q", b.UpsertPatient.FirstName)
	}
	for name, bad := range map[string]map[string]any{
		"malformed birth date": {"birthDate": "09/12/1906"},
		"impossible date":      {"birthDate": "1906-02-30"},
		"bad email":            {"email": "grace at navy"},
		"empty name":           {"firstName": "  "},
		"bad mobile":           {"mobile": "call me"},
	} {
		t.Run(name, func(t *testing.T) {
			x := map[string]any{"externalID": "pms-901", "patientNumber": "P0901", "firstName": "Ada", "lastName": "King"}
			for k, v := range bad {
				x[k] = v
			}
			e.with(t).fails(demo.IntegrationKey, upsertPatient, map[string]any{"in": x}, "BAD_USER_INPUT")
		})
	}
	var count struct{ Patients struct{ TotalCount int } }
	e.ok(demo.IntegrationKey, `{ patients(search: "P0901") { totalCount } }`, nil, &count)
	if count.Patients.TotalCount != 0 {
		t.Errorf("bad input wrote a patient")
	}
	// Another patient's number is a conflict; a nurse may not write patients.
	e.fails(demo.IntegrationKey, upsertPatient, map[string]any{"in": map[string]any{
		"externalID": "pms-902", "patientNumber": "P0900", "firstName": "X", "lastName": "Y"}}, "CONFLICT")
	nurse := e.login(demo.KimEmail)
	e.fails(nurse.AccessToken, upsertPatient, map[string]any{"in": in}, "FORBIDDEN")
	admin := e.login(demo.AdminEmail)
	e.ok(admin.AccessToken, upsertPatient, map[string]any{"in": map[string]any{
		"externalID": "pms-903", "patientNumber": "P0903", "firstName": "Ann", "lastName": "Lee"}}, nil)
}

func TestBookingsAndArrivals(t *testing.T) {
	e := newEnv(t)
	chen, patel, rec := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.ReceptionEmail)
	var pats struct {
		Patients struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.ok(rec.AccessToken, `{ patients(search: "P0011") { edges { node { id } } } }`, nil, &pats)
	patient := pats.Patients.Edges[0].Node.ID
	const upsert = `mutation($in: BookingInput!) { upsertBooking(input: $in) { id status startsAt doctor { email } patient { patientNumber } } }`
	in := map[string]any{"externalID": "bk-900", "patientID": patient, "doctorID": chen.User.ID, "startsAt": "2026-11-22T10:00:00Z"}
	var b struct {
		UpsertBooking struct{ ID, Status string }
	}
	e.ok(demo.IntegrationKey, upsert, map[string]any{"in": in}, &b)
	if b.UpsertBooking.Status != "BOOKED" {
		t.Errorf("new booking status %s, want BOOKED", b.UpsertBooking.Status)
	}
	for name, bad := range map[string]map[string]any{
		"unknown doctor":  {"doctorID": patient},
		"unknown patient": {"patientID": chen.User.ID},
		"malformed date":  {"startsAt": "tomorrow"},
		"unknown status":  {"status": "SNOOZING"},
	} {
		t.Run(name, func(t *testing.T) {
			x := map[string]any{"externalID": "bk-901", "patientID": patient, "doctorID": chen.User.ID, "startsAt": "2026-11-22T11:00:00Z"}
			for k, v := range bad {
				x[k] = v
			}
			e.with(t).fails(demo.IntegrationKey, upsert, map[string]any{"in": x}, "BAD_USER_INPUT")
		})
	}
	var list struct{ Bookings struct{ TotalCount int } }
	e.ok(chen.AccessToken, `query($d: ID) { bookings(doctorID: $d) { totalCount } }`, map[string]any{"d": chen.User.ID}, &list)
	if list.Bookings.TotalCount != 5 {
		t.Errorf("Dr Chen has %d bookings, want 4 demo + 1", list.Bookings.TotalCount)
	}

	// Dr Chen listens for arrivals; reception marks the patient arrived.
	arrivals := e.listen(t, chen.AccessToken, `subscription { notificationAdded(kinds: [ARRIVAL]) { id kind title overdue patient { patientNumber } booking { id } from { email } } }`, nil)
	const arrive = `mutation($b: ID!) { setBookingStatus(bookingID: $b, status: ARRIVED) { status statusChanges { fromStatus toStatus changedBy { email } } } }`
	var set struct {
		SetBookingStatus struct {
			Status        string
			StatusChanges []struct {
				FromStatus, ToStatus *string
				ChangedBy            *struct{ Email string }
			}
		}
	}
	e.ok(rec.AccessToken, arrive, map[string]any{"b": b.UpsertBooking.ID}, &set)
	hist := set.SetBookingStatus.StatusChanges
	if len(hist) != 2 || *hist[1].ToStatus != "ARRIVED" || hist[1].ChangedBy == nil || hist[1].ChangedBy.Email != demo.ReceptionEmail {
		t.Errorf("status history = %+v, want BOOKED then ARRIVED by reception", hist)
	}
	d := arrivals.next(5 * time.Second)
	if d == nil {
		t.Fatal("Dr Chen was not notified of the arrival")
	}
	note := d["notificationAdded"].(map[string]any)
	if note["kind"] != "ARRIVAL" || note["patient"].(map[string]any)["patientNumber"] != "P0011" ||
		note["from"].(map[string]any)["email"] != demo.ReceptionEmail || note["booking"].(map[string]any)["id"] != b.UpsertBooking.ID {
		t.Errorf("arrival = %v", note)
	}
	// Pushed again: nothing new.
	e.ok(rec.AccessToken, arrive, map[string]any{"b": b.UpsertBooking.ID}, nil)
	in["status"] = "ARRIVED"
	e.ok(demo.IntegrationKey, upsert, map[string]any{"in": in}, nil)
	if again := arrivals.next(500 * time.Millisecond); again != nil {
		t.Errorf("a second arrival notification: %v", again)
	}
	// Back to CHECKED_IN and ARRIVED again: still the one arrival.
	e.ok(rec.AccessToken, `mutation($b: ID!) { setBookingStatus(bookingID: $b, status: CHECKED_IN) { status } }`, map[string]any{"b": b.UpsertBooking.ID}, nil)
	e.ok(rec.AccessToken, arrive, map[string]any{"b": b.UpsertBooking.ID}, nil)
	if again := arrivals.next(500 * time.Millisecond); again != nil {
		t.Errorf("re-arrival notified again: %v", again)
	}
	// Staff may change the status, but nothing else about a booking.
	e.fails(rec.AccessToken, upsert, map[string]any{"in": in}, "FORBIDDEN")

	// Acknowledge: gone from the list, present in the history; reply reaches reception.
	id := note["id"].(string)
	var folder struct {
		Notifications struct{ TotalCount int }
	}
	e.ok(chen.AccessToken, `{ notifications(kinds: [ARRIVAL]) { totalCount } }`, nil, &folder)
	if folder.Notifications.TotalCount != 1 {
		t.Fatalf("Chen's arrivals = %d, want 1", folder.Notifications.TotalCount)
	}
	e.fails(patel.AccessToken, `mutation($id: ID!) { acknowledgeNotification(id: $id) { id } }`, map[string]any{"id": id}, "NOT_FOUND")
	e.ok(chen.AccessToken, `mutation($id: ID!) { acknowledgeNotification(id: $id) { acknowledgedAt } }`, map[string]any{"id": id}, nil)
	e.ok(chen.AccessToken, `{ notifications(kinds: [ARRIVAL]) { totalCount } }`, nil, &folder)
	if folder.Notifications.TotalCount != 0 {
		t.Errorf("acknowledged arrival still listed")
	}
	e.ok(chen.AccessToken, `{ notifications(kinds: [ARRIVAL], includeAcknowledged: true) { totalCount } }`, nil, &folder)
	if folder.Notifications.TotalCount != 1 {
		t.Errorf("arrivals history has %d, want 1", folder.Notifications.TotalCount)
	}
	var reply struct {
		ReplyToArrival struct{ Channel struct{ ID string } }
	}
	e.ok(chen.AccessToken, `mutation($id: ID!) { replyToArrival(notificationID: $id, body: "Send them through") { channel { id } } }`,
		map[string]any{"id": id}, &reply)
	ms := e.messages(rec.AccessToken, reply.ReplyToArrival.Channel.ID)
	if len(ms) != 1 || ms[0].Body != "Send them through" || ms[0].Sender.Email != demo.ChenEmail {
		t.Errorf("reception sees %+v, want Dr Chen's reply", ms)
	}

	// With patient-arrived alerts off, no arrival notification.
	e.fails(rec.AccessToken, `mutation($u: ID!) { setPatientArrivedAlerts(userID: $u, enabled: false) { id } }`, map[string]any{"u": patel.User.ID}, "FORBIDDEN")
	e.ok(patel.AccessToken, `mutation($u: ID!) { setPatientArrivedAlerts(userID: $u, enabled: false) { id } }`, map[string]any{"u": patel.User.ID}, nil)
	in2 := map[string]any{"externalID": "bk-902", "patientID": patient, "doctorID": patel.User.ID, "startsAt": "2026-11-22T12:00:00Z", "status": "ARRIVED"}
	e.ok(demo.IntegrationKey, upsert, map[string]any{"in": in2}, nil)
	e.ok(patel.AccessToken, `{ notifications { totalCount } }`, nil, &folder)
	if folder.Notifications.TotalCount != 0 {
		t.Errorf("Dr Patel, alerts off, has %d notifications", folder.Notifications.TotalCount)
	}
}

func TestNotificationsAndAlerts(t *testing.T) {
	e := newEnv(t)
	chen, kim := e.login(demo.ChenEmail), e.login(demo.KimEmail)
	doctors := e.groupID(chen.AccessToken, "Doctors")
	const create = `mutation($in: CreateNotificationInput!) { createNotification(input: $in) { id kind overdue } }`
	past := e.clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	e.ok(demo.IntegrationKey, create, map[string]any{"in": map[string]any{
		"kind": "LAB_REPORT", "title": "HbA1c result", "securityGroupIDs": []string{doctors}, "dueAt": past}}, nil)
	var folder struct {
		Notifications struct {
			Edges []struct {
				Node struct {
					Kind    string
					Overdue bool
				}
			}
		}
	}
	e.ok(chen.AccessToken, `{ notifications(kinds: [LAB_REPORT]) { edges { node { kind overdue } } } }`, nil, &folder)
	if len(folder.Notifications.Edges) != 1 || !folder.Notifications.Edges[0].Node.Overdue {
		t.Errorf("Chen's lab reports = %+v, want one, overdue", folder.Notifications.Edges)
	}
	e.ok(kim.AccessToken, `{ notifications { edges { node { kind } } } }`, nil, &folder)
	if len(folder.Notifications.Edges) != 0 {
		t.Errorf("a nurse got the doctors' lab report")
	}
	// Staff cannot send notifications to others; bad input writes nothing.
	e.fails(kim.AccessToken, create, map[string]any{"in": map[string]any{"kind": "ANNOUNCEMENT", "title": "x", "userIDs": []string{chen.User.ID}}}, "FORBIDDEN")
	e.fails(demo.IntegrationKey, create, map[string]any{"in": map[string]any{"kind": "ERX", "title": "x"}}, "BAD_USER_INPUT")
	e.fails(demo.IntegrationKey, create, map[string]any{"in": map[string]any{"kind": "ERX", "title": "", "userIDs": []string{chen.User.ID}}}, "BAD_USER_INPUT")

	// A reminder appears when it falls due, live.
	sub := e.subscribe(t, kim.AccessToken, `subscription { notificationAdded { kind title } }`, nil)
	badge := e.subscribe(t, kim.AccessToken, `subscription { unreadBadge { total notifications { kind unread } } }`, nil)
	badge.next(5 * time.Second)
	due := e.clock.Now().Add(30 * time.Minute).UTC().Format(time.RFC3339)
	e.ok(kim.AccessToken, create, map[string]any{"in": map[string]any{"kind": "REMINDER", "title": "Restock vaccines", "dueAt": due}}, nil)
	e.ok(kim.AccessToken, `{ notifications { edges { node { kind } } } }`, nil, &folder)
	if len(folder.Notifications.Edges) != 0 {
		t.Errorf("a reminder appeared before it was due")
	}
	if d := sub.next(300 * time.Millisecond); d != nil {
		t.Errorf("announced early: %v", d)
	}
	e.clock.Advance(31 * time.Minute)
	kim = e.login(demo.KimEmail) // the old access token has expired
	d := sub.next(5 * time.Second)
	if d == nil || d["notificationAdded"].(map[string]any)["title"] != "Restock vaccines" {
		t.Fatalf("the due reminder was not announced: %v", d)
	}
	_ = badge
	fresh := e.subscribe(t, kim.AccessToken, `subscription { unreadBadge { total notifications { kind unread } } }`, nil)
	if b := fresh.next(5 * time.Second); b == nil || b["unreadBadge"].(map[string]any)["total"].(float64) != 1 {
		t.Errorf("badge = %v, want 1 (the reminder)", b)
	}

	// Alerts: admins only, everyone with ACCESS_WHISPER receives them.
	admin, chen := e.login(demo.AdminEmail), e.login(demo.ChenEmail)
	alerts := e.listen(t, kim.AccessToken, messageAdded, nil)
	e.fails(kim.AccessToken, `mutation { sendAlert(body: "x") { id } }`, nil, "FORBIDDEN")
	e.fails(demo.IntegrationKey, `mutation { sendAlert(body: "x") { id } }`, nil, "FORBIDDEN")
	var alert struct {
		SendAlert struct {
			Channel struct{ ID, Kind string }
		}
	}
	e.ok(admin.AccessToken, `mutation { sendAlert(body: "Server restart at 18:00") { channel { id kind } } }`, nil, &alert)
	if alert.SendAlert.Channel.Kind != "ALERT" {
		t.Errorf("alert posted in a %s channel", alert.SendAlert.Channel.Kind)
	}
	if body, _ := alerts.message(5 * time.Second); !strings.Contains(body, "Server restart") {
		t.Errorf("Kim's stream got %q, want the alert", body)
	}
	for _, tok := range []string{chen.AccessToken, kim.AccessToken} {
		if ms := e.messages(tok, alert.SendAlert.Channel.ID); len(ms) != 1 {
			t.Errorf("an ACCESS_WHISPER user sees %d alerts, want 1", len(ms))
		}
	}
	// A user cannot post in the alert channel through sendMessage either.
	e.fails(kim.AccessToken, `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "hi all"}) { id } }`,
		map[string]any{"c": alert.SendAlert.Channel.ID}, "FORBIDDEN")
}

func TestKeepHiddenSuppressesNotificationEvents(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	sub := e.listen(t, chen.AccessToken, `subscription { notificationAdded { title } }`, nil)
	const send = `mutation($u: [ID!], $t: String!) { createNotification(input: {kind: ANNOUNCEMENT, title: $t, userIDs: $u}) { id } }`
	e.ok(demo.IntegrationKey, send, map[string]any{"u": []string{chen.User.ID}, "t": "first"}, nil)
	if d := sub.next(5 * time.Second); d == nil {
		t.Fatal("no event before keep hidden")
	}
	e.ok(chen.AccessToken, `mutation { updatePreferences(input: {keepHidden: true}) { id } }`, nil, nil)
	e.ok(demo.IntegrationKey, send, map[string]any{"u": []string{chen.User.ID}, "t": "second"}, nil)
	if d := sub.next(500 * time.Millisecond); d != nil {
		t.Errorf("keep hidden still raised %v", d)
	}
	// It is still in the folder, and still counts.
	var folder struct{ Notifications struct{ TotalCount int } }
	e.ok(chen.AccessToken, `{ notifications { totalCount } }`, nil, &folder)
	if folder.Notifications.TotalCount != 2 {
		t.Errorf("folder has %d, want 2", folder.Notifications.TotalCount)
	}
}

// "Never receive" mutes message-style notifications live, but not arrivals,
// which have their own switch.
func TestNeverReceiveStillGetsArrivals(t *testing.T) {
	e := newEnv(t)
	chen, rec := e.login(demo.ChenEmail), e.login(demo.ReceptionEmail)
	patient := e.patientID(rec.AccessToken, "P0011")
	e.ok(chen.AccessToken, `mutation { updatePreferences(input: {neverReceiveDirect: true}) { id } }`, nil, nil)
	sub := e.listen(t, chen.AccessToken, `subscription { notificationAdded { kind title } }`, nil)
	e.ok(demo.IntegrationKey, `mutation($u: [ID!]) { createNotification(input: {kind: ANNOUNCEMENT, title: "Staff meeting", userIDs: $u}) { id } }`,
		map[string]any{"u": []string{chen.User.ID}}, nil)
	if d := sub.next(500 * time.Millisecond); d != nil {
		t.Errorf("never receive still raised %v", d)
	}
	var b struct{ UpsertBooking struct{ ID string } }
	e.ok(demo.IntegrationKey, `mutation($in: BookingInput!) { upsertBooking(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"externalID": "bk-nr-1", "patientID": patient, "doctorID": chen.User.ID, "startsAt": "2026-11-22T10:00:00Z"}}, &b)
	e.ok(rec.AccessToken, `mutation($b: ID!) { setBookingStatus(bookingID: $b, status: ARRIVED) { status } }`, map[string]any{"b": b.UpsertBooking.ID}, nil)
	d := sub.next(5 * time.Second)
	if d == nil || d["notificationAdded"].(map[string]any)["kind"] != "ARRIVAL" {
		t.Errorf("with never receive on, the arrival event = %v, want the ARRIVAL", d)
	}
}

// createNotification: a patient link, bad input (unknown or inactive user,
// unknown group, unknown patient) is BAD_USER_INPUT and writes nothing, and
// the notification returned is the first named recipient's.
func TestCreateNotificationInput(t *testing.T) {
	e := newEnv(t)
	chen, patel, admin := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.AdminEmail)
	pid := e.patientID(admin.AccessToken, "P0002")
	const create = `mutation($in: CreateNotificationInput!) { createNotification(input: $in) { id kind patient { patientNumber } } }`
	var out struct {
		CreateNotification struct {
			ID      string
			Patient *struct{ PatientNumber string }
		}
	}
	e.ok(demo.IntegrationKey, create, map[string]any{"in": map[string]any{
		"kind": "LAB_REPORT", "title": "Lipids", "userIDs": []string{patel.User.ID, chen.User.ID}, "patientID": pid}}, &out)
	if out.CreateNotification.Patient == nil || out.CreateNotification.Patient.PatientNumber != "P0002" {
		t.Errorf("created notification links %+v, want P0002", out.CreateNotification.Patient)
	}
	folder := func(tok string) []string {
		var f struct {
			Notifications struct {
				Edges []struct {
					Node struct {
						ID      string
						Patient *struct{ PatientNumber string }
					}
				}
			}
		}
		e.ok(tok, `{ notifications { edges { node { id patient { patientNumber } } } } }`, nil, &f)
		var ids []string
		for _, edge := range f.Notifications.Edges {
			if edge.Node.Patient == nil || edge.Node.Patient.PatientNumber != "P0002" {
				t.Errorf("folder item without the patient link: %+v", edge.Node)
			}
			ids = append(ids, edge.Node.ID)
		}
		return ids
	}
	// The first named recipient (Patel) gets the returned one; Chen his own.
	if got := folder(patel.AccessToken); len(got) != 1 || got[0] != out.CreateNotification.ID {
		t.Errorf("Patel's folder = %v, want the returned notification %s", got, out.CreateNotification.ID)
	}
	if got := folder(chen.AccessToken); len(got) != 1 || got[0] == out.CreateNotification.ID {
		t.Errorf("Chen's folder = %v, want his own copy", got)
	}

	sctx := viewer.NewSystemContext(context.Background(), "test")
	count := func() int { return e.db.Client.Notification.Query().CountX(sctx) }
	before := count()
	inactive := e.db.Client.User.Create().SetName("Dr Gone").SetEmail("gone@demo.clinic").SetActive(false).SaveX(sctx)
	for name, in := range map[string]map[string]any{
		"unknown user":    {"userIDs": []string{chen.User.ID, pid}},
		"inactive user":   {"userIDs": []string{string(inactive.ID)}},
		"unknown group":   {"securityGroupIDs": []string{chen.User.ID}},
		"unknown patient": {"userIDs": []string{chen.User.ID}, "patientID": chen.User.ID},
	} {
		t.Run(name, func(t *testing.T) {
			in["kind"], in["title"] = "LAB_REPORT", "Lipids"
			e.with(t).fails(demo.IntegrationKey, create, map[string]any{"in": in}, "BAD_USER_INPUT")
		})
	}
	if n := count(); n != before {
		t.Errorf("bad input wrote %d notifications", n-before)
	}
}

// unreadBadge counts unacknowledged notifications per kind, and the count
// drops when one is acknowledged.
func TestUnreadBadgeCountsNotificationsPerKind(t *testing.T) {
	e := newEnv(t)
	kim := e.login(demo.KimEmail)
	const create = `mutation($in: CreateNotificationInput!) { createNotification(input: $in) { id } }`
	var ids []string
	for _, kind := range []string{"LAB_REPORT", "LAB_REPORT", "ERX"} {
		var out struct{ CreateNotification struct{ ID string } }
		e.ok(demo.IntegrationKey, create, map[string]any{"in": map[string]any{"kind": kind, "title": kind, "userIDs": []string{kim.User.ID}}}, &out)
		ids = append(ids, out.CreateNotification.ID)
	}
	badge := e.subscribe(t, kim.AccessToken, `subscription { unreadBadge { total notifications { kind unread } } }`, nil)
	// A badge is a state: wait until it shows the expected counts (a
	// repeat of an earlier state may come first under load).
	perKind := func(lab, erx int) map[string]int {
		t.Helper()
		var got map[string]int
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			d := badge.next(time.Until(deadline))
			if d == nil {
				break
			}
			got = map[string]int{}
			for _, n := range d["unreadBadge"].(map[string]any)["notifications"].([]any) {
				m := n.(map[string]any)
				got[m["kind"].(string)] = int(m["unread"].(float64))
			}
			if got["LAB_REPORT"] == lab && got["ERX"] == erx {
				break
			}
		}
		return got
	}
	if got := perKind(2, 1); got["LAB_REPORT"] != 2 || got["ERX"] != 1 {
		t.Errorf("badge per kind = %v, want 2 lab reports and 1 eRx", got)
	}
	e.ok(kim.AccessToken, `mutation($id: ID!) { acknowledgeNotification(id: $id) { id } }`, map[string]any{"id": ids[0]}, nil)
	if got := perKind(1, 1); got["LAB_REPORT"] != 1 || got["ERX"] != 1 {
		t.Errorf("badge after acknowledging a lab report = %v, want 1 lab report and 1 eRx", got)
	}
}

// Booking types, referrals and bookings pushed again change nothing; a
// newer version updates, an older one is ignored; bad input writes nothing;
// only integrators and directory managers may push.
func TestIntegrationUpsertVersions(t *testing.T) {
	e := newEnv(t)
	chen, nurse, admin := e.login(demo.ChenEmail), e.login(demo.KimEmail), e.login(demo.AdminEmail)
	sctx := viewer.NewSystemContext(context.Background(), "test")
	c := e.db.Client

	// Booking types.
	const upType = `mutation($in: BookingTypeInput!) { upsertBookingType(input: $in) { id name durationMinutes } }`
	var bt struct{ UpsertBookingType struct{ ID, Name string } }
	e.ok(demo.IntegrationKey, upType, map[string]any{"in": map[string]any{"externalID": "bt-1", "name": "Long consult", "durationMinutes": 30, "version": 2}}, &bt)
	btID := pulid.ID(bt.UpsertBookingType.ID)
	first := c.BookingType.GetX(sctx, btID)
	e.ok(demo.IntegrationKey, upType, map[string]any{"in": map[string]any{"externalID": "bt-1", "name": "Long consult", "durationMinutes": 30, "version": 2}}, &bt)
	if again := c.BookingType.GetX(sctx, btID); !again.UpdatedAt.Equal(first.UpdatedAt) || bt.UpsertBookingType.ID != string(btID) {
		t.Errorf("a repeated booking type push changed the row (updated %v → %v)", first.UpdatedAt, again.UpdatedAt)
	}
	e.ok(demo.IntegrationKey, upType, map[string]any{"in": map[string]any{"externalID": "bt-1", "name": "Stale name", "durationMinutes": 30, "version": 1}}, &bt)
	if got := c.BookingType.GetX(sctx, btID).Name; got != "Long consult" {
		t.Errorf("a stale booking type push renamed it to %q", got)
	}
	e.ok(admin.AccessToken, upType, map[string]any{"in": map[string]any{"externalID": "bt-1", "name": "Extended consult", "durationMinutes": 40, "version": 3}}, &bt)
	if got := c.BookingType.GetX(sctx, btID); got.Name != "Extended consult" || got.DurationMinutes != 40 {
		t.Errorf("a newer booking type push left %q %d", got.Name, got.DurationMinutes)
	}
	types := c.BookingType.Query().CountX(sctx)
	for _, tok := range []string{nurse.AccessToken, chen.AccessToken} {
		e.fails(tok, upType, map[string]any{"in": map[string]any{"externalID": "bt-2", "name": "Mine"}}, "FORBIDDEN")
	}
	if n := c.BookingType.Query().CountX(sctx); n != types {
		t.Errorf("refused pushes wrote %d booking types", n-types)
	}

	// Referrals.
	patient := e.patientID(admin.AccessToken, "P0011")
	const upRef = `mutation($in: ReferralInput!) { upsertReferral(input: $in) { id referrer reason patient { patientNumber } } }`
	ref := map[string]any{"externalID": "rf-1", "patientID": patient, "referralDate": "2026-11-01T00:00:00Z", "referrer": "Dr GP", "reason": "Knee", "version": 5}
	var rf struct {
		UpsertReferral struct {
			ID, Referrer string
			Patient      struct{ PatientNumber string }
		}
	}
	e.ok(demo.IntegrationKey, upRef, map[string]any{"in": ref}, &rf)
	if rf.UpsertReferral.Patient.PatientNumber != "P0011" {
		t.Errorf("referral patient = %+v", rf.UpsertReferral.Patient)
	}
	rfID := pulid.ID(rf.UpsertReferral.ID)
	before := c.Referral.GetX(sctx, rfID)
	e.ok(demo.IntegrationKey, upRef, map[string]any{"in": ref}, nil)
	if again := c.Referral.GetX(sctx, rfID); !again.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("a repeated referral push changed the row")
	}
	stale := map[string]any{"externalID": "rf-1", "patientID": patient, "referralDate": "2026-11-01T00:00:00Z", "referrer": "Old", "version": 4}
	e.ok(demo.IntegrationKey, upRef, map[string]any{"in": stale}, nil)
	if got := c.Referral.GetX(sctx, rfID).Referrer; got != "Dr GP" {
		t.Errorf("a stale referral push set referrer %q", got)
	}
	newer := map[string]any{"externalID": "rf-1", "patientID": patient, "referralDate": "2026-11-02T00:00:00Z", "referrer": "Dr New", "version": 6}
	e.ok(demo.IntegrationKey, upRef, map[string]any{"in": newer}, nil)
	if got := c.Referral.GetX(sctx, rfID).Referrer; got != "Dr New" {
		t.Errorf("a newer referral push left referrer %q", got)
	}
	refs := c.Referral.Query().CountX(sctx)
	for name, bad := range map[string]map[string]any{
		"bad date":        {"referralDate": "next week"},
		"unknown patient": {"patientID": chen.User.ID},
	} {
		t.Run(name, func(t *testing.T) {
			in := map[string]any{"externalID": "rf-2", "patientID": patient, "referralDate": "2026-11-01T00:00:00Z"}
			for k, v := range bad {
				in[k] = v
			}
			e.with(t).fails(demo.IntegrationKey, upRef, map[string]any{"in": in}, "BAD_USER_INPUT")
		})
	}
	e.fails(nurse.AccessToken, upRef, map[string]any{"in": map[string]any{"externalID": "rf-3", "patientID": patient, "referralDate": "2026-11-01T00:00:00Z"}}, "FORBIDDEN")
	if n := c.Referral.Query().CountX(sctx); n != refs {
		t.Errorf("bad or refused referral pushes wrote %d referrals", n-refs)
	}

	// Bookings: versions, and bad input writes neither a booking nor history.
	const upBooking = `mutation($in: BookingInput!) { upsertBooking(input: $in) { id status startsAt } }`
	bk := map[string]any{"externalID": "bk-v", "patientID": patient, "doctorID": chen.User.ID, "startsAt": "2026-11-22T10:00:00Z", "version": 2}
	var b struct {
		UpsertBooking struct{ ID, Status, StartsAt string }
	}
	e.ok(demo.IntegrationKey, upBooking, map[string]any{"in": bk}, &b)
	bID := pulid.ID(b.UpsertBooking.ID)
	bk["startsAt"], bk["version"] = "2026-11-22T09:00:00Z", 1
	e.ok(demo.IntegrationKey, upBooking, map[string]any{"in": bk}, nil)
	if got := c.Booking.GetX(sctx, bID).StartsAt.UTC().Format(time.RFC3339); got != "2026-11-22T10:00:00Z" {
		t.Errorf("a stale booking push moved it to %s", got)
	}
	bk["startsAt"], bk["version"], bk["status"] = "2026-11-22T11:00:00Z", 3, "CANCELLED"
	e.ok(demo.IntegrationKey, upBooking, map[string]any{"in": bk}, nil)
	if got := c.Booking.GetX(sctx, bID); got.StartsAt.UTC().Format(time.RFC3339) != "2026-11-22T11:00:00Z" || got.Status != "CANCELLED" {
		t.Errorf("a newer booking push left %v %s", got.StartsAt, got.Status)
	}
	bookings, history := c.Booking.Query().CountX(sctx), c.BookingStatusChange.Query().CountX(sctx)
	for name, bad := range map[string]map[string]any{
		"unknown doctor":  {"doctorID": patient},
		"unknown patient": {"patientID": chen.User.ID},
		"malformed date":  {"startsAt": "tomorrow"},
		"unknown status":  {"status": "SNOOZING"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, ext := range []string{"bk-new", "bk-v"} { // a new booking, and an update of one
				in := map[string]any{"externalID": ext, "patientID": patient, "doctorID": chen.User.ID, "startsAt": "2026-11-22T12:00:00Z", "status": "ARRIVED", "version": 9}
				for k, v := range bad {
					in[k] = v
				}
				e.with(t).fails(demo.IntegrationKey, upBooking, map[string]any{"in": in}, "BAD_USER_INPUT")
			}
		})
	}
	if n, h := c.Booking.Query().CountX(sctx), c.BookingStatusChange.Query().CountX(sctx); n != bookings || h != history {
		t.Errorf("bad booking input wrote %d bookings and %d status changes", n-bookings, h-history)
	}
	if got := c.Booking.GetX(sctx, bID); got.Status != "CANCELLED" || got.StartsAt.UTC().Format(time.RFC3339) != "2026-11-22T11:00:00Z" {
		t.Errorf("bad input changed the booking to %v %s", got.StartsAt, got.Status)
	}
	var folder struct{ Notifications struct{ TotalCount int } }
	e.ok(chen.AccessToken, `{ notifications(kinds: [ARRIVAL]) { totalCount } }`, nil, &folder)
	if folder.Notifications.TotalCount != 0 {
		t.Errorf("bad ARRIVED input notified Dr Chen %d times", folder.Notifications.TotalCount)
	}
}

// An administrator may change another user's patient-arrived alerts.
func TestAdminChangesArrivalAlerts(t *testing.T) {
	e := newEnv(t)
	admin, patel := e.login(demo.AdminEmail), e.login(demo.PatelEmail)
	var out struct {
		SetPatientArrivedAlerts struct {
			Preferences struct{ PatientArrivedAlerts bool }
		}
	}
	e.ok(admin.AccessToken, `mutation($u: ID!) { setPatientArrivedAlerts(userID: $u, enabled: false) { preferences { patientArrivedAlerts } } }`,
		map[string]any{"u": patel.User.ID}, &out)
	sctx := viewer.NewSystemContext(context.Background(), "test")
	if e.db.Client.User.GetX(sctx, pulid.ID(patel.User.ID)).PatientArrivedAlerts {
		t.Errorf("the admin's change did not turn Dr Patel's arrival alerts off")
	}
	e.ok(admin.AccessToken, `mutation($u: ID!) { setPatientArrivedAlerts(userID: $u, enabled: true) { id } }`, map[string]any{"u": patel.User.ID}, nil)
	if !e.db.Client.User.GetX(sctx, pulid.ID(patel.User.ID)).PatientArrivedAlerts {
		t.Errorf("the admin could not turn them back on")
	}
}

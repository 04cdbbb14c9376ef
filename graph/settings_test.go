package graph_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/outreach"
	"github.com/whisper-health/whisper/internal/settings"
)

// jumpTo sets the test clock to t.
func (c *clock) jumpTo(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

const (
	practiceSettingsQuery  = `{ practiceSettings { name phone address timeZone } }`
	updatePracticeSettings = `mutation($in: PracticeSettingsInput!) { updatePracticeSettings(input: $in) { name phone address timeZone } }`
)

type practiceSettings struct {
	Name, Phone, TimeZone string
	Address               *string
}

func (e *env) practiceSettings(token string) practiceSettings {
	e.t.Helper()
	var out struct{ PracticeSettings practiceSettings }
	e.ok(token, practiceSettingsQuery, nil, &out)
	return out.PracticeSettings
}

func (e *env) setPractice(token string, in map[string]any) practiceSettings {
	e.t.Helper()
	var out struct{ UpdatePracticeSettings practiceSettings }
	e.ok(token, updatePracticeSettings, map[string]any{"in": in}, &out)
	return out.UpdatePracticeSettings
}

// Who may read and change the practice's settings: every signed-in staff
// user reads them; DIRECTORY_MANAGE changes them; nobody else does either.
func TestPracticeSettingsAccess(t *testing.T) {
	e := newEnv(t)
	admin, kim := e.login(demo.AdminEmail), e.login(demo.KimEmail)
	var portal struct{ PatientLogin struct{ AccessToken string } }
	e.ok("", patientLoginMutation, map[string]any{"e": demo.PortalEmails[0], "p": demo.Password}, &portal)
	change := map[string]any{"in": map[string]any{"name": "Someone else's practice"}}
	for _, tc := range []struct {
		name, token, op string
		vars            map[string]any
		code            string
	}{
		{"anonymous reads", "", practiceSettingsQuery, nil, "UNAUTHENTICATED"},
		{"anonymous changes", "", updatePracticeSettings, change, "UNAUTHENTICATED"},
		{"portal patient reads", portal.PatientLogin.AccessToken, practiceSettingsQuery, nil, "FORBIDDEN"},
		{"portal patient changes", portal.PatientLogin.AccessToken, updatePracticeSettings, change, "FORBIDDEN"},
		{"integration reads", demo.IntegrationKey, practiceSettingsQuery, nil, "FORBIDDEN"},
		{"integration changes", demo.IntegrationKey, updatePracticeSettings, change, "FORBIDDEN"},
		{"staff without DIRECTORY_MANAGE changes", kim.AccessToken, updatePracticeSettings, change, "FORBIDDEN"},
		{"staff without DIRECTORY_MANAGE changes with a bad zone", kim.AccessToken, updatePracticeSettings,
			map[string]any{"in": map[string]any{"timeZone": "Mars/Olympus"}}, "FORBIDDEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.with(t).fails(tc.token, tc.op, tc.vars, tc.code)
		})
	}
	want := practiceSettings{Name: "Harbourside Medical Centre", Phone: "(02) 9000 0000", TimeZone: "UTC"}
	for _, token := range []string{kim.AccessToken, admin.AccessToken} {
		if got := e.practiceSettings(token); got != want {
			t.Errorf("settings before any change = %+v, want the configured defaults %+v", got, want)
		}
	}
}

func TestUpdatePracticeSettings(t *testing.T) {
	e := newEnv(t)
	admin, kim := e.login(demo.AdminEmail), e.login(demo.KimEmail)
	got := e.setPractice(admin.AccessToken, map[string]any{"name": "  Harbourside Family Practice ", "address": "1 Quay Street, Sydney NSW 2000",
		"timeZone": "Australia/Sydney"})
	addr := "1 Quay Street, Sydney NSW 2000"
	want := practiceSettings{Name: "Harbourside Family Practice", Phone: "(02) 9000 0000", Address: &addr, TimeZone: "Australia/Sydney"}
	if got.Name != want.Name || got.Phone != want.Phone || got.Address == nil || *got.Address != addr || got.TimeZone != want.TimeZone {
		t.Fatalf("updatePracticeSettings answered %+v, want %+v", got, want)
	}
	if got := e.practiceSettings(kim.AccessToken); got.Name != want.Name || got.TimeZone != want.TimeZone {
		t.Errorf("staff read %+v after the change, want %+v", got, want)
	}

	// Refused input changes nothing, not even the fields that were valid.
	for _, tc := range []struct {
		name string
		in   map[string]any
	}{
		{"unknown zone", map[string]any{"name": "Renamed", "timeZone": "Mars/Olympus"}},
		{"the server's Local zone", map[string]any{"timeZone": "Local"}},
		{"a path, not a zone", map[string]any{"timeZone": "../../etc/passwd"}},
		{"name too long", map[string]any{"name": strings.Repeat("x", 201)}},
		{"phone too long", map[string]any{"phone": strings.Repeat("1", 51)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.with(t).fails(admin.AccessToken, updatePracticeSettings, map[string]any{"in": tc.in}, "BAD_USER_INPUT")
			if strings.Contains(tc.name, "zone") && !strings.Contains(err.Message, "time zone") {
				t.Errorf("the refusal %q does not say what is wrong", err.Message)
			}
		})
	}
	if got := e.practiceSettings(admin.AccessToken); got.Name != want.Name || got.TimeZone != want.TimeZone {
		t.Errorf("after refused changes the settings are %+v, want them unchanged", got)
	}

	// A field left out stays; an empty one returns to its default.
	got = e.setPractice(admin.AccessToken, map[string]any{"phone": "(02) 9111 1111", "address": ""})
	if got.Name != want.Name || got.Phone != "(02) 9111 1111" || got.Address != nil || got.TimeZone != want.TimeZone {
		t.Errorf("after changing the phone and clearing the address: %+v", got)
	}
	got = e.setPractice(admin.AccessToken, map[string]any{"name": "", "timeZone": ""})
	if got.Name != "Harbourside Medical Centre" || got.TimeZone != "UTC" || got.Phone != "(02) 9111 1111" {
		t.Errorf("after returning name and zone to their defaults: %+v", got)
	}
}

// Another replica — its own services over the same database, started
// before the change — sees the change at once, without a restart: its
// settings read the stored values and its engine texts with them.
func TestAnotherReplicaSeesThePracticeSettings(t *testing.T) {
	e := newEnv(t)
	defaults := settings.Practice{Name: "Harbourside Medical Centre", Phone: "(02) 9000 0000"}
	other := settings.New(e.db.Client, defaults)
	before, err := other.Current(context.Background(), nil)
	if err != nil || before.Name != defaults.Name || before.TimeZone() != "UTC" {
		t.Fatalf("the other replica starts with %+v (%v), want the defaults", before, err)
	}
	admin := e.login(demo.AdminEmail)
	e.setPractice(admin.AccessToken, map[string]any{"name": "Harbourside Family Practice", "timeZone": "America/New_York"})
	after, err := other.Current(context.Background(), nil)
	if err != nil || after.Name != "Harbourside Family Practice" || after.TimeZone() != "America/New_York" {
		t.Errorf("the other replica reads %+v (%v) after the change, want the new name and zone", after, err)
	}
}

// A Sydney booking texted the day before shows the Sydney date and time
// (the booking is on a different UTC date), is sent at the Sydney clock
// time a day earlier, by another replica's engine that was running before
// the zone was set; and program managers read the text as sent.
func TestASydneyBookingTextedTheDayBefore(t *testing.T) {
	e := newEnv(t)
	sydney, _ := time.LoadLocation("Australia/Sydney")
	visit := time.Date(2027, time.March, 10, 9, 15, 0, 0, sydney) // 9 March 22:15 UTC
	e.clock.jumpTo(time.Date(2027, time.March, 1, 0, 0, 0, 0, time.UTC))
	replica := outreach.NewEngine(e.db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outreach.EngineConfig{
		Dialect: e.db.Dialect, Now: e.clock.Now,
		Settings: settings.New(e.db.Client, settings.Practice{Name: "Harbourside Medical Centre"}),
	})
	admin := e.login(demo.AdminEmail)
	e.setPractice(admin.AccessToken, map[string]any{"name": "Harbourside Family Practice", "timeZone": "Australia/Sydney"})
	sms := e.template(admin.AccessToken, "SMS", "{{practice.name}}: see you {{booking.date}} at {{booking.time}}.")
	prog := e.program(admin.AccessToken, map[string]any{"name": "Day-before reminder", "type": "BOOKING"},
		map[string]any{"type": "SMS", "templateID": sms, "offset": 1, "unit": "DAYS", "relation": "BEFORE"})
	patient := e.patientID(admin.AccessToken, "P0001")
	e.book("bk-sydney", patient, map[string]any{"startsAt": visit.UTC().Format(time.RFC3339)})
	e.enroll(admin.AccessToken, prog, patient, &visit)

	e.clock.jumpTo(time.Date(2027, time.March, 9, 9, 14, 0, 0, sydney))
	if n, err := replica.RunDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("a minute before 9:15 the day before, %d actions ran (%v), want none", n, err)
	}
	e.clock.jumpTo(time.Date(2027, time.March, 9, 9, 15, 0, 0, sydney))
	if n, err := replica.RunDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("at 9:15 the day before, %d actions ran (%v), want the reminder", n, err)
	}
	want := "Harbourside Family Practice: see you Wednesday 10 March 2027 at 09:15."
	admin = e.login(demo.AdminEmail)
	var out struct {
		Deliveries struct {
			Edges []struct {
				Node struct{ Channel, Body string }
			}
		}
	}
	e.ok(admin.AccessToken, `{ deliveries { edges { node { channel body } } } }`, nil, &out)
	if len(out.Deliveries.Edges) != 1 || out.Deliveries.Edges[0].Node.Body != want {
		t.Errorf("deliveries = %+v, want one SMS whose body is %q", out.Deliveries.Edges, want)
	}
}

// Day, week and month offsets count the practice's calendar days: a
// reminder keeps the booking's local clock time across the daylight-saving
// changes of Australia/Sydney (April, October) and America/New_York (March,
// November), where counting 24-hour days would move it by an hour.
func TestRemindersKeepTheirLocalHourAcrossDaylightSaving(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	sms := e.template(admin.AccessToken, "SMS", "See you {{booking.date}} at {{booking.time}}.")
	patient := e.patientID(admin.AccessToken, "P0002")
	at := func(zone string, y int, m time.Month, d, h, min int) time.Time {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	for _, tc := range []struct {
		name, zone string
		ref        time.Time
		offset     int
		unit       string
		relation   string
		want       time.Time
	}{
		{"Sydney, 3 days before, across the April change", "Australia/Sydney",
			at("Australia/Sydney", 2027, time.April, 6, 9, 0), 3, "DAYS", "BEFORE", at("Australia/Sydney", 2027, time.April, 3, 9, 0)},
		{"Sydney, a week after, across the April change", "Australia/Sydney",
			at("Australia/Sydney", 2027, time.April, 2, 9, 0), 1, "WEEKS", "AFTER", at("Australia/Sydney", 2027, time.April, 9, 9, 0)},
		{"Sydney, a week before, across the October change", "Australia/Sydney",
			at("Australia/Sydney", 2027, time.October, 4, 9, 0), 1, "WEEKS", "BEFORE", at("Australia/Sydney", 2027, time.September, 27, 9, 0)},
		{"Sydney, a month after, across the October change", "Australia/Sydney",
			at("Australia/Sydney", 2027, time.September, 20, 8, 30), 1, "MONTHS", "AFTER", at("Australia/Sydney", 2027, time.October, 20, 8, 30)},
		{"New York, 3 days before, across the March change", "America/New_York",
			at("America/New_York", 2027, time.March, 15, 9, 0), 3, "DAYS", "BEFORE", at("America/New_York", 2027, time.March, 12, 9, 0)},
		{"New York, 2 days before, across the November change", "America/New_York",
			at("America/New_York", 2027, time.November, 8, 8, 0), 2, "DAYS", "BEFORE", at("America/New_York", 2027, time.November, 6, 8, 0)},
		{"New York, a week after, across the November change", "America/New_York",
			at("America/New_York", 2027, time.November, 3, 17, 45), 1, "WEEKS", "AFTER", at("America/New_York", 2027, time.November, 10, 17, 45)},
		{"New York, a month before, across the November change", "America/New_York",
			at("America/New_York", 2027, time.November, 15, 10, 0), 1, "MONTHS", "BEFORE", at("America/New_York", 2027, time.October, 15, 10, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			e.setPractice(admin.AccessToken, map[string]any{"timeZone": tc.zone})
			prog := e.program(admin.AccessToken, map[string]any{"name": tc.name, "type": "RECALL"},
				map[string]any{"type": "SMS", "templateID": sms, "offset": tc.offset, "unit": tc.unit, "relation": tc.relation})
			var out struct {
				EnrollPatient struct {
					Steps []struct{ ScheduledAt time.Time }
				}
			}
			e.ok(admin.AccessToken, `mutation($in: EnrollPatientInput!) { enrollPatient(input: $in) { steps { scheduledAt } } }`,
				map[string]any{"in": map[string]any{"programID": prog, "patientID": patient, "referenceDate": tc.ref.UTC().Format(time.RFC3339)}}, &out)
			if len(out.EnrollPatient.Steps) != 1 {
				t.Fatalf("enrolment steps = %+v, want the reminder scheduled", out.EnrollPatient.Steps)
			}
			got := out.EnrollPatient.Steps[0].ScheduledAt
			if !got.Equal(tc.want) {
				t.Errorf("reminder scheduled at %s, want %s (the reference's local time, %s)", got.In(tc.want.Location()), tc.want, tc.ref)
			}
		})
	}
}

// An arrival says the booking's time on the practice's clock.
func TestAnArrivalShowsThePracticesTime(t *testing.T) {
	e := newEnv(t)
	admin, chen := e.login(demo.AdminEmail), e.login(demo.ChenEmail)
	e.setPractice(admin.AccessToken, map[string]any{"timeZone": "Australia/Sydney"})
	sydney, _ := time.LoadLocation("Australia/Sydney")
	local := e.clock.Now().In(sydney)
	slot := time.Date(local.Year(), local.Month(), local.Day(), 23, 45, 0, 0, sydney) // another date in UTC
	b := e.book("bk-arrival", e.patientID(admin.AccessToken, "P0003"), map[string]any{"startsAt": slot.UTC().Format(time.RFC3339)})
	e.ok(demo.IntegrationKey, `mutation($id: ID!) { setBookingStatus(bookingID: $id, status: ARRIVED) { id } }`, map[string]any{"id": b}, nil)
	var out struct {
		Notifications struct {
			Edges []struct{ Node struct{ Body string } }
		}
	}
	e.ok(chen.AccessToken, `{ notifications(kinds: [ARRIVAL]) { edges { node { body } } } }`, nil, &out)
	want := "Booked for 23:45 " + slot.Format("MST")
	for _, n := range out.Notifications.Edges {
		if n.Node.Body == want {
			return
		}
	}
	t.Errorf("arrivals = %+v, want one %q", out.Notifications.Edges, want)
}

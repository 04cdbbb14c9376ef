package graph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/settings"
)

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

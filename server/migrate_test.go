package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/whisper-health/whisper/internal/testdb"
)

// migrateCLI runs `whisper migrate args…` against rawURL.
func migrateCLI(t *testing.T, rawURL string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"migrate"}, append(args, "-database-url", rawURL)...),
		func(k string) string {
			if k == "WHISPER_TIME_ZONE" {
				return "Australia/Sydney"
			}
			return ""
		}, &out, &errb)
	return code, out.String(), errb.String()
}

var migrationRow = regexp.MustCompile(`(?m)^(\d{14})\s+(\w+)\s+(.+)$`)

// TestMigrateStatusAndUp: on an empty database every migration is
// pending; `migrate up` runs them; status then lists each with the time it
// ran in the practice time zone and nothing pending. Status changes nothing.
func TestMigrateStatusAndUp(t *testing.T) {
	url := testdb.URL(t)
	code, out, errs := migrateCLI(t, url, "status")
	if code != 0 {
		t.Fatalf("status exit %d: %s", code, errs)
	}
	rows := migrationRow.FindAllStringSubmatch(out, -1)
	if len(rows) == 0 || rows[0][2] != "baseline" {
		t.Fatalf("status on an empty database:\n%s", out)
	}
	for _, r := range rows {
		if r[3] != "pending" {
			t.Errorf("empty database: %s is %q, want pending", r[1], r[3])
		}
	}
	if !strings.Contains(out, "0 applied, "+strconv.Itoa(len(rows))+" pending") {
		t.Errorf("summary missing:\n%s", out)
	}
	// status ran nothing.
	if code, out, _ := migrateCLI(t, url, "status"); code != 0 || !strings.Contains(out, "0 applied") {
		t.Fatalf("status changed the database:\n%s", out)
	}

	code, out, errs = migrateCLI(t, url, "up")
	if code != 0 {
		t.Fatalf("up exit %d: %s", code, errs)
	}
	_, out, _ = migrateCLI(t, url, "status")
	after := migrationRow.FindAllStringSubmatch(out, -1)
	if len(after) != len(rows) || !strings.Contains(out, strconv.Itoa(len(rows))+" applied, 0 pending") {
		t.Fatalf("status after up:\n%s", out)
	}
	sydney := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d AE[DS]T$`)
	for _, r := range after {
		if !sydney.MatchString(r[3]) {
			t.Errorf("%s applied %q, want a time in the practice zone", r[1], r[3])
		}
	}
	if code, _, errs := migrateCLI(t, url, "sideways"); code != 2 || !strings.Contains(errs, "status|up") {
		t.Errorf("unknown subcommand: exit %d, %q", code, errs)
	}
}

// TestServerUpgradesPreviousRelease starts the real server on the
// previous release's database: start-up adopts it, `whisper migrate status`
// then shows every migration applied (adopted) and none pending, and the
// old accounts and conversations are there for the people who own them.
func TestServerUpgradesPreviousRelease(t *testing.T) {
	url := testdb.PreviousRelease(t)
	_, out, _ := migrateCLI(t, url, "status")
	if !strings.Contains(out, "0 applied") || !strings.Contains(out, "before versioned migrations") {
		t.Fatalf("status before the upgrade:\n%s", out)
	}
	app, _ := startApp(t, url)
	defer stopApp(t, app)
	_, out, _ = migrateCLI(t, url, "status")
	rows := migrationRow.FindAllStringSubmatch(out, -1)
	if len(rows) == 0 || !strings.Contains(out, " 0 pending") || strings.Contains(out, "before versioned") {
		t.Fatalf("status after the upgrade:\n%s", out)
	}
	for _, r := range rows {
		if !strings.HasSuffix(r[3], "(adopted)") {
			t.Errorf("%s: %q, want adopted", r[1], r[3])
		}
	}
	// Dr Chen signs in with the password set before the upgrade and reads
	// the conversation he had then.
	token, _ := login(t, app.URL(), "dr.chen@demo.clinic")
	data := post(t, app.URL(), token, `{channels(first: 20) { edges { node { id } } }}`)
	found := false
	for _, e := range data["channels"].(map[string]any)["edges"].([]any) {
		id := e.(map[string]any)["node"].(map[string]any)["id"].(string)
		msgs := post(t, app.URL(), token, `{messages(channelID: "`+id+`", first: 10) { edges { node { body } } }}`)
		for _, m := range msgs["messages"].(map[string]any)["edges"].([]any) {
			if m.(map[string]any)["node"].(map[string]any)["body"] == "Fixture: lunch at one?" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("Dr Chen's message from before the upgrade is not in his channels")
	}
}

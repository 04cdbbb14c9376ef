package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/whisper-health/whisper/internal/testdb"
)

// TestBootstrapAdminGoesLiveOnAnEmptyDatabase: in production mode, with no
// demo, `whisper bootstrap-admin` makes the built-in groups and the first
// administrator and prints their invitation; the invitation signs them in
// with DIRECTORY_MANAGE; a second bootstrap is refused with exit status 2
// and one line.
func TestBootstrapAdminGoesLiveOnAnEmptyDatabase(t *testing.T) {
	url := testdb.URL(t)
	const secret = "a-production-token-secret-of-32+chars"
	env := map[string]string{
		"DATABASE_URL":         url,
		"WHISPER_PRODUCTION":   "true",
		"WHISPER_CORS_ORIGINS": "https://whisper.practice.test",
		"WHISPER_TOKEN_SECRET": secret,
		"WHISPER_APP_URL":      "https://whisper.practice.test/",
	}
	getenv := func(k string) string { return env[k] }

	var out, errOut bytes.Buffer
	if code := run([]string{"bootstrap-admin", "-name", "Pat Boss"}, getenv, &out, &errOut); code != 2 || strings.Count(errOut.String(), "\n") != 1 {
		t.Errorf("without -email: exit %d, stderr %q; want 2 and one line", code, errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"bootstrap-admin", "-email", "Pat.Boss@Practice.Test", "-name=Pat Boss"}, getenv, &out, &errOut); code != 0 {
		t.Fatalf("bootstrap-admin: exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "invitation: https://whisper.practice.test/accept-invitation?token=") ||
		!strings.HasPrefix(lines[1], "token: ") {
		t.Fatalf("bootstrap-admin printed %q", out.String())
	}
	token := strings.TrimPrefix(lines[1], "token: ")
	if !strings.HasSuffix(lines[0], "token="+token) {
		t.Errorf("the invitation %q does not carry the token %q", lines[0], token)
	}

	app, _ := startApp(t, url, "-production", "-cors-origins", "https://whisper.practice.test", "-token-secret", secret)
	defer stopApp(t, app)
	data := post(t, app.URL(), "", `mutation { acceptInvitation(token: "`+token+`", password: "the first admin's password") { accessToken user { email } } }`)
	acc := data["acceptInvitation"].(map[string]any)
	access := acc["accessToken"].(string)
	if email := acc["user"].(map[string]any)["email"]; email != "pat.boss@practice.test" {
		t.Errorf("signed in as %v", email)
	}
	me := post(t, app.URL(), access, `{ me { permissions securityGroups { name } } }`)["me"].(map[string]any)
	if got := mustString(me["permissions"]); got != "ACCESS_WHISPER WHISPER_ADMIN PATIENT_CONNECT_MANAGE DIRECTORY_MANAGE" {
		t.Errorf("the first administrator holds %s", got)
	}
	post(t, app.URL(), access, `mutation { createUser(input: {name: "First Hire", email: "first.hire@practice.test"}) { id } }`)

	out.Reset()
	errOut.Reset()
	if code := run([]string{"bootstrap-admin", "-email", "someone.else@practice.test", "-name", "Someone Else"}, getenv, &out, &errOut); code != 2 {
		t.Errorf("a second bootstrap: exit %d, want 2", code)
	}
	if strings.Count(errOut.String(), "\n") != 1 || !strings.Contains(errOut.String(), "DIRECTORY_MANAGE already exists") || out.Len() != 0 {
		t.Errorf("a second bootstrap printed %q / %q, want one line saying why", out.String(), errOut.String())
	}
}

// mustString joins a JSON list of strings with spaces.
func mustString(v any) string {
	var parts []string
	for _, x := range v.([]any) {
		parts = append(parts, x.(string))
	}
	return strings.Join(parts, " ")
}

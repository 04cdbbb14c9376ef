package main

import (
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/testdb"
)

func TestMetricsAreServedOnlyWhereConfigured(t *testing.T) {
	prod := []string{"-production", "-cors-origins", "https://app.clinic.example", "-token-secret", strings.Repeat("p", 32)}
	for _, tc := range []struct {
		name       string
		args       []string
		main, side bool
	}{
		{"development", nil, true, false},
		{"production", prod, false, false},
		{"production with a metrics address", append(prod, "-metrics-addr", "127.0.0.1:0"), false, true},
		{"development turned off", []string{"-metrics-addr", "off"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, _ := startApp(t, testdb.URL(t), tc.args...)
			defer stopApp(t, app)
			if code, _ := get(t, app.URL()+"/metrics"); (code == http.StatusOK) != tc.main {
				t.Errorf("/metrics on the main listener: %d, want served = %v", code, tc.main)
			}
			if got := app.MetricsURL() != ""; got != tc.side {
				t.Fatalf("separate metrics listener: %v, want %v", got, tc.side)
			}
			if tc.side {
				code, body := get(t, app.MetricsURL()+"/metrics")
				if code != http.StatusOK || !strings.Contains(body, "whisper_live_delivery_lag_seconds") {
					t.Errorf("/metrics on the metrics listener: %d, want 200 with the delivery lag", code)
				}
			}
		})
	}
}

// TestReadyzReportsDeliveryLag: while a message-writing transaction holds
// delivery back past WHISPER_MAX_DELIVERY_LAG, /readyz answers 503; once it
// ends, 200 again.
func TestReadyzReportsDeliveryLag(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("PostgreSQL only: SQLite serialises writers")
	}
	url := testdb.URL(t)
	app, _ := startApp(t, url, "-demo", "-max-delivery-lag", "1s")
	defer stopApp(t, app)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// A message writer (announced as messenger announces) that stalls.
	if _, err := tx.Exec("SELECT pg_advisory_xact_lock_shared(1464357712, 1), pg_current_xact_id()"); err != nil {
		t.Fatal(err)
	}
	tok := post(t, app.URL(), "", `mutation { login(email: "dr.chen@demo.clinic", password: "whisper-demo") { accessToken } }`)["login"].(map[string]any)["accessToken"].(string)
	patel := post(t, app.URL(), tok, `{ users(search: "Patel", first: 1) { edges { node { id } } } }`)["users"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"].(string)
	ch := post(t, app.URL(), tok, `mutation { openConversation(input: {userIDs: ["`+patel+`"]}) { id } }`)["openConversation"].(map[string]any)["id"].(string)
	post(t, app.URL(), tok, `mutation { sendMessage(input: {channelID: "`+ch+`", body: "held back"}) { id } }`)
	waitReadyz(t, app, http.StatusServiceUnavailable)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitReadyz(t, app, http.StatusOK)
}

// waitReadyz asks /readyz until it answers want (at most 15 s).
func waitReadyz(t *testing.T, app *App, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := get(t, app.URL()+"/readyz")
		if code == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %q, want %d", code, body, want)
		}
		// /readyz is a probe meant to be polled (as Kubernetes does) and its
		// answer is what this test checks; the deadline bounds the wait.
		time.Sleep(100 * time.Millisecond)
	}
}

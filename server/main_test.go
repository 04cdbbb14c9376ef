package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/ent/booking"
	"github.com/whisper-health/whisper/ent/program"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// startApp runs the real server on a free port over url.
func startApp(t *testing.T, url string, args ...string) (*App, *bytes.Buffer) {
	t.Helper()
	cfg, err := LoadConfig(append([]string{"-addr", "127.0.0.1:0", "-database-url", url, "-log-level", "warn"}, args...),
		func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	app, err := Start(context.Background(), cfg, out)
	if err != nil {
		t.Fatalf("starting server: %v", err)
	}
	return app, out
}

func stopApp(t *testing.T, app *App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func post(t *testing.T, base, token, query string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out["errors"] != nil {
		t.Fatalf("%s: errors %v", query, out["errors"])
	}
	return out["data"].(map[string]any)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestServerEndToEnd(t *testing.T) {
	url := testdb.URL(t)
	app, out := startApp(t, url, "-demo")
	base := app.URL()

	for _, c := range []struct{ path, want string }{
		{"/healthz", "ok"}, {"/livez", "ok"}, {"/readyz", "ok"},
		{"/", "graphiql"}, {"/metrics", "whisper_http_requests_total"},
	} {
		code, body := get(t, base+c.path)
		if code != 200 || !strings.Contains(strings.ToLower(body), strings.ToLower(c.want)) {
			t.Errorf("GET %s = %d, want 200 containing %q", c.path, code, c.want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/healthz", nil)
	req.Header.Set("X-Request-ID", "trace-abc-123")
	if res, err := http.DefaultClient.Do(req); err != nil || res.Header.Get("X-Request-ID") != "trace-abc-123" {
		t.Errorf("X-Request-ID not echoed: %v", err)
	}
	banner := out.String()
	for _, want := range []string{demo.AdminEmail, demo.ChenEmail, demo.PatelEmail, demo.KimEmail, demo.ReceptionEmail, demo.Password, demo.IntegrationKey, base} {
		if !strings.Contains(banner, want) {
			t.Errorf("start-up banner does not show %q:\n%s", want, banner)
		}
	}

	// Every demo user signs in; the integration key works.
	var token string
	for _, email := range []string{demo.AdminEmail, demo.ChenEmail, demo.PatelEmail, demo.KimEmail, demo.ReceptionEmail} {
		data := post(t, base, "", `mutation { login(email: "`+email+`", password: "whisper-demo") { accessToken } }`)
		token = data["login"].(map[string]any)["accessToken"].(string)
	}
	data := post(t, base, demo.IntegrationKey, `{ patients(first: 20) { totalCount } }`)
	if n := data["patients"].(map[string]any)["totalCount"].(float64); n != 12 {
		t.Errorf("demo has %v patients, want 12", n)
	}

	// CORS: a configured origin is allowed, another is not.
	for origin, allowed := range map[string]bool{"http://localhost:3000": true, "https://evil.example": false} {
		req, _ := http.NewRequest(http.MethodOptions, base+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin") == origin; got != allowed {
			t.Errorf("CORS preflight from %s allowed=%v, want %v", origin, got, allowed)
		}
	}

	// Shutdown closes open websockets cleanly.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Origin": {"http://localhost:3000"}}})
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	defer conn.CloseNow()
	init, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
	_ = conn.Write(ctx, websocket.MessageText, init)
	if _, msg, err := conn.Read(ctx); err != nil || !strings.Contains(string(msg), "connection_ack") {
		t.Fatalf("connection_init: %s %v", msg, err)
	}
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				closed <- err
				return
			}
		}
	}()
	stopApp(t, app)
	if err := <-closed; ctx.Err() != nil {
		t.Fatalf("socket still open after shutdown (%v)", err)
	} else if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("socket closed with %v, want 1001 going away (SPEC §14: clients resume)", err)
	}
}

func TestDemoLoadsOnlyIntoEmptyDatabaseAndTokensSurviveRestart(t *testing.T) {
	url := testdb.URL(t)
	app, _ := startApp(t, url, "-demo")
	data := post(t, app.URL(), "", `mutation { login(email: "dr.chen@demo.clinic", password: "whisper-demo") { accessToken } }`)
	token := data["login"].(map[string]any)["accessToken"].(string)
	stopApp(t, app)

	app, out := startApp(t, url, "-demo")
	defer stopApp(t, app)
	if strings.Contains(out.String(), "demo practice is ready") {
		t.Errorf("demo loaded a second time into a database with data")
	}
	// The generated token secret was kept in the database.
	post(t, app.URL(), token, `{ me { email } }`)

	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := viewer.NewSystemContext(context.Background(), "test")
	if n := db.Client.User.Query().CountX(ctx); n != 6 {
		t.Errorf("%d users after a second -demo start, want 5 staff + 1 service account", n)
	}
	// SPEC §8: of the staff, only reception has a mobile number.
	var mobiles []string
	for _, u := range db.Client.User.Query().Where(user.KindEQ(user.KindSTAFF), user.MobileNotNil()).AllX(ctx) {
		mobiles = append(mobiles, u.Email)
	}
	if len(mobiles) != 1 || mobiles[0] != demo.ReceptionEmail {
		t.Errorf("demo staff with a mobile number: %v, want only %s", mobiles, demo.ReceptionEmail)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	bookings := db.Client.Booking.Query().
		Where(booking.StartsAtGTE(today), booking.StartsAtLT(today.Add(24*time.Hour))).
		WithDoctor().AllX(ctx)
	doctors := map[string]int{}
	for _, b := range bookings {
		doctors[b.Edges.Doctor.Email]++
	}
	if doctors[demo.ChenEmail] == 0 || doctors[demo.PatelEmail] == 0 {
		t.Errorf("today's bookings by doctor = %v, want some for both doctors", doctors)
	}
	recall := db.Client.Program.Query().Where(program.Name(demo.RecallProgramName)).WithActions().OnlyX(ctx)
	if recall.Type != program.TypeRECALL || !recall.Enabled || len(recall.Edges.Actions) != 2 {
		t.Errorf("demo recall program = %s enabled=%v with %d actions, want an enabled RECALL with SMS + letter",
			recall.Type, recall.Enabled, len(recall.Edges.Actions))
	}
}

func TestReadyzFailsWhenDatabaseIsGone(t *testing.T) {
	app, _ := startApp(t, testdb.URL(t))
	app.db.SQL.Close()
	code, _ := get(t, app.URL()+"/readyz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("readyz with a closed database = %d, want 503", code)
	}
	if code, _ := get(t, app.URL()+"/livez"); code != 200 {
		t.Errorf("livez = %d, want 200 (the process is alive)", code)
	}
	stopApp(t, app)
}

func TestHealthcheckAsksReadyzAtAddr(t *testing.T) {
	app, _ := startApp(t, testdb.URL(t))
	addr := app.listener.Addr().String()
	noEnv := func(string) string { return "" }
	var errOut strings.Builder
	if code := run([]string{"healthcheck", "-addr", addr}, noEnv, io.Discard, &errOut); code != 0 {
		t.Errorf("healthcheck -addr %s = %d (%s), want 0", addr, code, errOut.String())
	}
	if code := run([]string{"healthcheck"}, func(k string) string { return map[string]string{"WHISPER_ADDR": addr}[k] }, io.Discard, io.Discard); code != 0 {
		t.Errorf("healthcheck with WHISPER_ADDR=%s = %d, want 0", addr, code)
	}
	if code := run([]string{"healthcheck", "-addr", "nonsense"}, noEnv, io.Discard, io.Discard); code != 2 {
		t.Errorf("healthcheck -addr nonsense = %d, want 2", code)
	}
	stopApp(t, app)
	if code := run([]string{"healthcheck", "-addr", addr}, noEnv, io.Discard, io.Discard); code != 1 {
		t.Errorf("healthcheck of a stopped server = %d, want 1", code)
	}
}

// gqlErrors posts an operation and returns its errors' codes (none: nil).
func gqlErrors(t *testing.T, base, query string) []string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	res, err := http.Post(base+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Errors []struct {
			Extensions struct{ Code string }
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, e := range out.Errors {
		codes = append(codes, e.Extensions.Code)
	}
	return codes
}

func TestProductionModeTurnsIntrospectionAndExplorerOff(t *testing.T) {
	prod := []string{"-production", "-cors-origins", "https://app.clinic.example", "-token-secret", strings.Repeat("p", 32)}
	const introspect = `{ __schema { queryType { name } } }`
	t.Run("default", func(t *testing.T) {
		app, _ := startApp(t, testdb.URL(t), prod...)
		defer stopApp(t, app)
		if codes := gqlErrors(t, app.URL(), introspect); len(codes) == 0 {
			t.Errorf("introspection answered in production mode, want it refused")
		}
		for _, path := range []string{"/", "/explorer/explorer.js", "/explorer/vendor/graphiql.min.js"} {
			if code, _ := get(t, app.URL()+path); code != http.StatusNotFound {
				t.Errorf("GET %s in production mode = %d, want 404 (no explorer)", path, code)
			}
		}
		if codes := gqlErrors(t, app.URL(), `{ __typename }`); len(codes) != 0 {
			t.Errorf("a plain query failed in production mode: %v", codes)
		}
	})
	t.Run("enabled explicitly", func(t *testing.T) {
		app, _ := startApp(t, testdb.URL(t), append(prod, "-introspection", "-explorer")...)
		defer stopApp(t, app)
		if codes := gqlErrors(t, app.URL(), introspect); len(codes) != 0 {
			t.Errorf("introspection enabled explicitly still refused: %v", codes)
		}
		if code, body := get(t, app.URL()+"/"); code != http.StatusOK || !strings.Contains(strings.ToLower(body), "graphiql") {
			t.Errorf("GET / with -explorer = %d, want 200 with GraphiQL", code)
		}
	})
}

func TestRequestIDIsInTheLogLines(t *testing.T) {
	app, out := startApp(t, testdb.URL(t), "-demo", "-log-level", "info", "-log-format", "json")
	body := `{"query":"mutation { login(email: \"dr.chen@demo.clinic\", password: \"whisper-demo\") { accessToken } }"}`
	req, _ := http.NewRequest(http.MethodPost, app.URL()+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", "trace-login-42")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	stopApp(t, app) // every line of the request is written by now
	found := map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["request_id"] != "trace-login-42" {
			continue
		}
		found[rec["msg"].(string)] = true
	}
	// The access line, and a line the sign-in itself logged deep inside.
	for _, msg := range []string{"request", "signed in"} {
		if !found[msg] {
			t.Errorf("no %q log line carries request_id trace-login-42; lines with it: %v\n%s", msg, found, out.String())
		}
	}
}

func TestInFlightRequestFinishesDuringShutdown(t *testing.T) {
	app, _ := startApp(t, testdb.URL(t), "-demo")
	addr := app.listener.Addr().String()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"query":"mutation { login(email: \"dr.chen@demo.clinic\", password: \"whisper-demo\") { accessToken } }"}`
	// Send the headers only; the server's "100 Continue" says the handler
	// is running and reading the body, so the request is in flight.
	fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n", addr, len(body))
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("got %q %v, want 100 Continue", line, err)
	}
	_, _ = br.ReadString('\n') // the blank line after it
	// net/http starts its shutdown hooks right after closing the listeners:
	// the hook is the signal that new connections now fail.
	closed := make(chan struct{})
	app.http.RegisterOnShutdown(func() { close(closed) })
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- app.Shutdown(ctx)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown did not begin within 10 s")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("the listener is still open once shutdown has begun")
	}
	select {
	case err := <-shut:
		t.Fatalf("shutdown returned (%v) while a request was in flight", err)
	default:
	}
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the in-flight response: %v", err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(got), "accessToken") {
		t.Errorf("in-flight request during shutdown: %d %s, want 200 with an access token", res.StatusCode, got)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// On PostgreSQL a replica whose LISTEN connection is down would serve stale
// subscriptions, so it is not ready until the listener is back.
func TestReadyzFailsWhileTheEventListenerIsDown(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("the event listener exists on PostgreSQL only")
	}
	dbURL := testdb.URL(t)
	app, _ := startApp(t, dbURL)
	defer stopApp(t, app)
	if code, body := get(t, app.URL()+"/readyz"); code != 200 {
		t.Fatalf("readyz at start = %d %s, want 200", code, body)
	}
	admin, err := sql.Open("postgres", os.Getenv(testdb.EnvVar))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	u, _ := neturl.Parse(dbURL)
	name := strings.TrimPrefix(u.Path, "/")
	// Keep the listener from reconnecting, then cut its connection; the
	// pool's open connections still answer the ping.
	if _, err := admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true") }()
	var cut int
	if err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND query ILIKE 'LISTEN%'`, name).Scan(&cut); err != nil || cut != 1 {
		t.Fatalf("terminating the listener: %d connections, %v; want 1", cut, err)
	}
	// /readyz is a probe, polled as an orchestrator polls it: the bus's
	// state has no change signal, and the probe is what is under test.
	waitReady := func(wantCode int, wantBody string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, body := get(t, app.URL()+"/readyz")
			if code == wantCode && strings.Contains(body, wantBody) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz = %d %q, want %d %q", code, body, wantCode, wantBody)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitReady(http.StatusServiceUnavailable, "event bus unavailable")
	if _, err := admin.Exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true"); err != nil {
		t.Fatal(err)
	}
	waitReady(http.StatusOK, "ok")
}

// backgroundGoroutines lists the goroutines of workers and event buses: the
// app's worker loop, each worker, and the PostgreSQL bus's receiver and
// sender.
func backgroundGoroutines() []string {
	markers := []string{
		"internal/app.(*App).Run",
		"internal/live.(*Hub).Run",
		"internal/notify.(*Service).RunReminders",
		"internal/outreach.(*Engine).Run",
		"internal/outbox.(*Worker).Run",
		"internal/pubsub.(*Postgres).forever",
	}
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, m := range markers {
			if strings.Contains(g, m) {
				found = append(found, m)
			}
		}
	}
	return found
}

// waitNoBackground waits (bounded) for stopped goroutines to finish
// exiting: a stop returns once they are done, but a goroutine still running
// its last deferred calls shows in a stack dump for a moment.
func waitNoBackground(t *testing.T, after string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := backgroundGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: goroutines still running: %v", after, left)
		}
		runtime.Gosched()
	}
}

// A start that fails part-way — here the listen, after the bus and the
// workers have started — stops what it started before it returns.
func TestFailedStartStopsWorkersAndBus(t *testing.T) {
	url := testdb.URL(t)
	// The check sees a running server's workers (and, on PostgreSQL, its bus).
	running, _ := startApp(t, url)
	<-running.core.Hub.Started()
	if got := backgroundGoroutines(); len(got) == 0 {
		t.Fatal("no worker goroutines found in a running server; the check would prove nothing")
	}
	stopApp(t, running)
	waitNoBackground(t, "after shutdown")

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg, err := LoadConfig([]string{"-addr", taken.Addr().String(), "-database-url", url, "-log-level", "error"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if a, err := Start(context.Background(), cfg, io.Discard); err == nil {
		stopApp(t, a)
		t.Fatalf("started on %s, which is taken; want a listen error", taken.Addr())
	} else if !strings.Contains(err.Error(), "listening on") {
		t.Fatalf("got error %v, want the listen to fail", err)
	}
	waitNoBackground(t, "after a failed start")
}

// TestDemoPracticeIsAlive: after -demo every demo user finds conversations
// with history and unread messages, and unacknowledged notifications (of
// several kinds across the practice); the portal patients take part in
// their conversations; enrolments are in progress; and it all happened in
// the two days before the server started, never in the future.
func TestDemoPracticeIsAlive(t *testing.T) {
	started := time.Now().UTC()
	app, _ := startApp(t, testdb.URL(t), "-demo")
	defer stopApp(t, app)
	base := app.URL()
	inWindow := func(what, ts string) {
		t.Helper()
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || at.Before(started.Add(-49*time.Hour)) || at.After(time.Now()) {
			t.Errorf("%s at %s, want within the two days before the start (%s)", what, ts, started.Format(time.RFC3339))
		}
	}
	kinds := map[string]bool{}
	for _, email := range []string{demo.AdminEmail, demo.ChenEmail, demo.PatelEmail, demo.KimEmail, demo.ReceptionEmail} {
		token := post(t, base, "", `mutation { login(email: "`+email+`", password: "whisper-demo") { accessToken } }`)["login"].(map[string]any)["accessToken"].(string)
		data := post(t, base, token, `{
			channels(first: 50) { edges { node { name unreadCount messageCount lastMessage { createdAt } } } }
			notifications(first: 50) { totalCount edges { node { kind title createdAt } } }
		}`)
		unread, history := 0, 0
		for _, e := range data["channels"].(map[string]any)["edges"].([]any) {
			n := e.(map[string]any)["node"].(map[string]any)
			count, total := n["unreadCount"].(float64), n["messageCount"].(float64)
			if count > 0 {
				unread++
			}
			if total > count {
				history++ // messages this user has read, or wrote
			}
			if last, ok := n["lastMessage"].(map[string]any); ok {
				inWindow(email+"'s conversation "+n["name"].(string), last["createdAt"].(string))
			}
		}
		if unread == 0 || history == 0 {
			t.Errorf("%s has %d conversations with unread messages and %d with read history, want some of each", email, unread, history)
		}
		notes := data["notifications"].(map[string]any)
		if notes["totalCount"].(float64) == 0 {
			t.Errorf("%s has no unacknowledged notifications", email)
		}
		for _, e := range notes["edges"].([]any) {
			n := e.(map[string]any)["node"].(map[string]any)
			kinds[n["kind"].(string)] = true
			inWindow(email+"'s notification "+n["title"].(string), n["createdAt"].(string))
		}
	}
	if len(kinds) < 5 {
		t.Errorf("the demo's notifications are of %d kinds (%v), want several", len(kinds), kinds)
	}

	// The portal patients take part: each has a conversation with a
	// message of their own in it.
	for _, email := range demo.PortalEmails {
		token := post(t, base, "", `mutation { patientLogin(email: "`+email+`", password: "whisper-demo") { accessToken } }`)["patientLogin"].(map[string]any)["accessToken"].(string)
		convs := post(t, base, token, `{ patientConversations(first: 10) { edges { node { id topic } } } }`)["patientConversations"].(map[string]any)["edges"].([]any)
		own := 0
		for _, c := range convs {
			id := c.(map[string]any)["node"].(map[string]any)["id"].(string)
			msgs := post(t, base, token, `{ messages(channelID: "`+id+`") { edges { node { senderPatient { id } } } } }`)["messages"].(map[string]any)["edges"].([]any)
			for _, m := range msgs {
				if m.(map[string]any)["node"].(map[string]any)["senderPatient"] != nil {
					own++
				}
			}
		}
		if len(convs) == 0 || own == 0 {
			t.Errorf("portal patient %s has %d conversations and wrote %d messages in them, want some of each", email, len(convs), own)
		}
	}

	// Enrolments in progress in the Recall program.
	admin := post(t, base, "", `mutation { login(email: "admin@demo.clinic", password: "whisper-demo") { accessToken } }`)["login"].(map[string]any)["accessToken"].(string)
	enrolments := post(t, base, admin, `{ enrollments(first: 50) { edges { node { status referenceDate program { name } } } } }`)["enrollments"].(map[string]any)["edges"].([]any)
	active := 0
	for _, e := range enrolments {
		n := e.(map[string]any)["node"].(map[string]any)
		if n["status"] == "ACTIVE" && n["program"].(map[string]any)["name"] == demo.RecallProgramName {
			active++
		}
	}
	if active < 2 || len(enrolments) <= active {
		t.Errorf("demo enrolments: %d active of %d, want several in progress and one paused: %v", active, len(enrolments), enrolments)
	}
}

// WHISPER_DB_MAX_CONNS bounds the PostgreSQL pool of a replica: with a
// pool of two, a burst of concurrent reads all answer (statements wait for
// a connection instead of failing), and the replica never holds more
// connections than it was given.
func TestDatabasePoolSizeIsConfigurable(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("SQLite has no connection pool to size")
	}
	app, _ := startApp(t, testdb.URL(t), "-demo", "-db-max-conns", "2")
	defer stopApp(t, app)
	if got := app.db.SQL.Stats().MaxOpenConnections; got != 2 {
		t.Fatalf("pool holds at most %d connections, want 2", got)
	}
	token, _ := login(t, app.URL(), "dr.chen@demo.clinic")
	body, _ := json.Marshal(map[string]any{"query": `{ me { name } channels(first: 5) { totalCount edges { node { id } } } }`})
	answers := make(chan string, 20)
	for range 20 {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, app.URL()+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- err.Error()
				return
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || bytes.Contains(raw, []byte(`"errors"`)) {
				answers <- fmt.Sprintf("%d %s", res.StatusCode, raw)
				return
			}
			answers <- ""
		}()
	}
	for range 20 {
		if a := <-answers; a != "" {
			t.Errorf("with a pool of 2 a request answered %s", a)
		}
	}
	if s := app.db.SQL.Stats(); s.OpenConnections > 2 {
		t.Errorf("the replica holds %d connections, want at most 2", s.OpenConnections)
	}
}

package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
)

func TestLoginReturnsTokensAndUser(t *testing.T) {
	e := newEnv(t)
	var out struct {
		Login struct {
			AccessToken  string
			RefreshToken string
			ExpiresAt    time.Time
			User         struct {
				Email          string
				Permissions    []string
				SecurityGroups []struct{ Name string }
				Preferences    struct{ PatientArrivedAlerts bool }
			}
		}
	}
	e.ok("", `mutation { login(email: "  Dr.Chen@demo.clinic ", password: "whisper-demo") {
		accessToken refreshToken expiresAt
		user { email permissions securityGroups { name } preferences { patientArrivedAlerts } } } }`, nil, &out)
	l := out.Login
	if l.AccessToken == "" || !strings.HasPrefix(l.RefreshToken, "wr_") {
		t.Fatalf("tokens = %q, %q; want an access token and a wr_ refresh token", l.AccessToken, l.RefreshToken)
	}
	if d := time.Until(l.ExpiresAt); d < 10*time.Minute || d > 16*time.Minute {
		t.Errorf("access token expires in %v, want about 15m", d)
	}
	if l.User.Email != demo.ChenEmail {
		t.Errorf("user email = %q, want %q", l.User.Email, demo.ChenEmail)
	}
	if got := strings.Join(l.User.Permissions, ","); got != "ACCESS_WHISPER" {
		t.Errorf("permissions = %s, want ACCESS_WHISPER", got)
	}
	if len(l.User.SecurityGroups) != 2 {
		t.Errorf("security groups = %v, want Default and Doctors", l.User.SecurityGroups)
	}
	if !l.User.Preferences.PatientArrivedAlerts {
		t.Errorf("doctor's patient-arrived alerts are off, want on")
	}

	var me struct{ Me struct{ Email string } }
	e.ok(l.AccessToken, `{ me { email } }`, nil, &me)
	if me.Me.Email != demo.ChenEmail {
		t.Errorf("me.email = %q, want %q", me.Me.Email, demo.ChenEmail)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t)
	wrong := e.fails("", loginMutation, map[string]any{"e": demo.ChenEmail, "p": "not-the-password"}, "UNAUTHENTICATED")
	unknown := e.fails("", loginMutation, map[string]any{"e": "nobody@demo.clinic", "p": "whisper-demo"}, "UNAUTHENTICATED")
	if wrong.Message != unknown.Message {
		t.Errorf("wrong password says %q but unknown email says %q; they must not differ", wrong.Message, unknown.Message)
	}
	svc := e.fails("", loginMutation, map[string]any{"e": "integration@demo.clinic", "p": ""}, "UNAUTHENTICATED")
	if svc.Message != wrong.Message {
		t.Errorf("service account sign-in says %q, want %q", svc.Message, wrong.Message)
	}
}

func TestRepeatedFailuresAreThrottled(t *testing.T) {
	e := newEnv(t)
	for _, email := range []string{demo.KimEmail, "ghost@demo.clinic"} {
		t.Run(email, func(t *testing.T) {
			e := e.with(t)
			for i := 0; i < 5; i++ {
				e.fails("", loginMutation, map[string]any{"e": email, "p": "wrong"}, "UNAUTHENTICATED")
			}
			got := e.fails("", loginMutation, map[string]any{"e": email, "p": demo.Password}, "UNAUTHENTICATED")
			if !strings.Contains(got.Message, "too many") {
				t.Errorf("after 5 failures: %q, want a too-many-attempts refusal even with the right password", got.Message)
			}
		})
	}
	// Other accounts are unaffected, and the lock lifts after its time.
	e.login(demo.PatelEmail)
	e.clock.Advance(16 * time.Minute)
	e.login(demo.KimEmail)
}

func TestExpiredAccessTokenIsRefused(t *testing.T) {
	e := newEnv(t)
	tok := e.login(demo.ChenEmail)
	e.ok(tok.AccessToken, `{ me { id } }`, nil, nil)
	e.clock.Advance(16 * time.Minute)
	r := e.do(tok.AccessToken, `{ me { id } }`, nil)
	if r.Status != 401 || len(r.Errors) == 0 || r.Errors[0].Code() != "UNAUTHENTICATED" {
		t.Fatalf("expired token: status %d errors %+v, want 401 UNAUTHENTICATED", r.Status, r.Errors)
	}
	// The refresh token still works, and gives a fresh access token.
	var out struct{ RefreshSession tokens }
	e.ok("", `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }`,
		map[string]any{"t": tok.RefreshToken}, &out)
	e.ok(out.RefreshSession.AccessToken, `{ me { id } }`, nil, nil)
}

func TestMalformedBearerIsRefused(t *testing.T) {
	e := newEnv(t)
	for name, tok := range map[string]string{
		"garbage":     "not-a-token",
		"unknown key": "wk_not_a_real_key",
		"alg none":    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0.",
	} {
		t.Run(name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(tok, `{ me { id } }`, nil)
			if r.Status != 401 || len(r.Errors) == 0 || r.Errors[0].Code() != "UNAUTHENTICATED" {
				t.Errorf("status %d errors %+v, want 401 UNAUTHENTICATED", r.Status, r.Errors)
			}
		})
	}
}

func TestLogoutRevokesTheSession(t *testing.T) {
	e := newEnv(t)
	tok := e.login(demo.ChenEmail)
	other := e.login(demo.ChenEmail)
	var out struct{ Logout bool }
	e.ok(tok.AccessToken, `mutation { logout }`, nil, &out)
	if !out.Logout {
		t.Fatalf("logout = false")
	}
	if r := e.do(tok.AccessToken, `{ me { id } }`, nil); r.Status != 401 {
		t.Errorf("access token after logout: status %d, want 401", r.Status)
	}
	e.fails("", `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }`,
		map[string]any{"t": tok.RefreshToken}, "UNAUTHENTICATED")
	// Another session of the same user is unaffected.
	e.ok(other.AccessToken, `{ me { id } }`, nil, nil)
}

func TestRefreshRotatesAndReuseRevokes(t *testing.T) {
	e := newEnv(t)
	first := e.login(demo.PatelEmail)
	const refresh = `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }`
	var out struct{ RefreshSession tokens }
	e.ok("", refresh, map[string]any{"t": first.RefreshToken}, &out)
	second := out.RefreshSession
	if second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh token did not rotate")
	}
	// Replaying the first (already used) refresh token is theft: it revokes.
	e.fails("", refresh, map[string]any{"t": first.RefreshToken}, "UNAUTHENTICATED")
	e.fails("", refresh, map[string]any{"t": second.RefreshToken}, "UNAUTHENTICATED")
	if r := e.do(second.AccessToken, `{ me { id } }`, nil); r.Status != 401 {
		t.Errorf("access token of a revoked session: status %d, want 401", r.Status)
	}
	// Garbage and tampered tokens are refused without revoking anything.
	third := e.login(demo.PatelEmail)
	for _, bad := range []string{"", "wr_", "wr_x.0.y", third.RefreshToken + "x", strings.Replace(third.RefreshToken, ".0.", ".7.", 1)} {
		e.fails("", refresh, map[string]any{"t": bad}, "UNAUTHENTICATED")
	}
	e.ok("", refresh, map[string]any{"t": third.RefreshToken}, nil)
}

// The session id is readable in every access token, so a made-up refresh
// token of an older generation must not pass for a replayed one: it is
// refused and the session lives on.
func TestForgedOlderRefreshTokenDoesNotRevoke(t *testing.T) {
	e := newEnv(t)
	first := e.login(demo.PatelEmail)
	const refresh = `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }`
	var out struct{ RefreshSession tokens }
	e.ok("", refresh, map[string]any{"t": first.RefreshToken}, &out)
	current := out.RefreshSession
	parts := strings.Split(strings.TrimPrefix(current.RefreshToken, "wr_"), ".")
	if len(parts) != 3 || parts[1] != "1" {
		t.Fatalf("refresh token %q, want wr_<session>.1.<secret>", current.RefreshToken)
	}
	for _, forged := range []string{
		"wr_" + parts[0] + ".0.forged",
		"wr_" + parts[0] + ".0." + parts[2], // the current secret under an old generation
	} {
		got := e.fails("", refresh, map[string]any{"t": forged}, "UNAUTHENTICATED")
		if strings.Contains(got.Message, "revoked") {
			t.Errorf("forged %q: %q, want a plain invalid-token refusal", forged, got.Message)
		}
	}
	e.ok(current.AccessToken, `{ me { id } }`, nil, nil)
	e.ok("", refresh, map[string]any{"t": current.RefreshToken}, nil)
}

func TestSessionsAreListableAndRevocable(t *testing.T) {
	e := newEnv(t)
	a := e.login(demo.ChenEmail)
	b := e.login(demo.ChenEmail)
	patel := e.login(demo.PatelEmail)
	var list struct{ Sessions []struct{ ID string } }
	e.ok(a.AccessToken, `{ sessions { id userAgent lastUsedAt } }`, nil, &list)
	if len(list.Sessions) != 2 {
		t.Fatalf("Dr Chen sees %d sessions, want his 2", len(list.Sessions))
	}
	// Someone else's session is as if it did not exist.
	e.fails(patel.AccessToken, `mutation($id: ID!) { revokeSession(id: $id) { id } }`,
		map[string]any{"id": list.Sessions[0].ID}, "NOT_FOUND")
	// Revoking one of one's own sessions ends it, and only it.
	e.ok(a.AccessToken, `mutation($id: ID!) { revokeSession(id: $id) { revokedAt } }`,
		map[string]any{"id": list.Sessions[0].ID}, nil)
	alive := 0
	for _, tok := range []string{a.AccessToken, b.AccessToken} {
		if r := e.do(tok, `{ me { id } }`, nil); r.Status == 200 {
			alive++
		}
	}
	if alive != 1 {
		t.Errorf("%d of Dr Chen's two sessions still work after revoking one, want 1", alive)
	}
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)
	var me struct {
		Me struct {
			Name        string
			Permissions []string
		}
	}
	e.ok(demo.IntegrationKey, `{ me { name permissions } }`, nil, &me)
	if strings.Join(me.Me.Permissions, ",") != "INTEGRATION" {
		t.Fatalf("demo key permissions = %v, want INTEGRATION", me.Me.Permissions)
	}

	admin := e.login(demo.AdminEmail)
	nurse := e.login(demo.KimEmail)
	const createSA = `mutation { createServiceAccount(input: {name: "Lab feed", email: "lab@feeds.example", permissions: [INTEGRATION]}) { id } }`
	e.fails(nurse.AccessToken, createSA, nil, "FORBIDDEN")
	e.fails(demo.IntegrationKey, createSA, nil, "FORBIDDEN")
	var sa struct{ CreateServiceAccount struct{ ID string } }
	e.ok(admin.AccessToken, createSA, nil, &sa)

	const createKey = `mutation($id: ID!) { createAPIKey(serviceAccountID: $id, name: "prod") { key apiKey { id keyPrefix } } }`
	e.fails(nurse.AccessToken, createKey, map[string]any{"id": sa.CreateServiceAccount.ID}, "FORBIDDEN")
	e.fails(admin.AccessToken, createKey, map[string]any{"id": nurse.User.ID}, "BAD_USER_INPUT")
	var key struct {
		CreateAPIKey struct {
			Key    string
			APIKey struct{ ID, KeyPrefix string }
		}
	}
	e.ok(admin.AccessToken, createKey, map[string]any{"id": sa.CreateServiceAccount.ID}, &key)
	k := key.CreateAPIKey
	if !strings.HasPrefix(k.Key, "wk_") || !strings.HasPrefix(k.Key, k.APIKey.KeyPrefix) {
		t.Fatalf("key %q with prefix %q, want a wk_ key starting with its prefix", k.Key, k.APIKey.KeyPrefix)
	}
	e.ok(k.Key, `{ me { name } }`, nil, nil)
	e.ok(admin.AccessToken, `mutation($id: ID!) { revokeAPIKey(id: $id) { revokedAt } }`, map[string]any{"id": k.APIKey.ID}, nil)
	if r := e.do(k.Key, `{ me { name } }`, nil); r.Status != 401 {
		t.Errorf("revoked key: status %d, want 401", r.Status)
	}
}

func TestIdleSessionExpires(t *testing.T) {
	e := newEnv(t, withRefreshTTL(time.Hour))
	const refresh = `mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }`
	tok := e.login(demo.ChenEmail).RefreshToken
	// Each refresh within the idle time keeps the session going, past the
	// hour since sign-in.
	for i := 0; i < 2; i++ {
		e.clock.Advance(50 * time.Minute)
		var out struct{ RefreshSession tokens }
		e.ok("", refresh, map[string]any{"t": tok}, &out)
		tok = out.RefreshSession.RefreshToken
	}
	// An hour and a minute without use ends it.
	e.clock.Advance(61 * time.Minute)
	e.fails("", refresh, map[string]any{"t": tok}, "UNAUTHENTICATED")
}

// Parallel wrong passwords must all count: at most five are checked before
// the account locks, and then even the right password is refused.
func TestParallelFailuresAreThrottled(t *testing.T) {
	e := newEnv(t)
	const parallel = 12
	body, _ := json.Marshal(map[string]any{"query": loginMutation, "variables": map[string]any{"e": demo.KimEmail, "p": "wrong"}})
	messages := make(chan string, parallel)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Post(e.srv.URL+"/graphql", "application/json", bytes.NewReader(body))
			if err != nil {
				messages <- "transport: " + err.Error()
				return
			}
			defer res.Body.Close()
			var r response
			if err := json.NewDecoder(res.Body).Decode(&r); err != nil || len(r.Errors) == 0 || r.Errors[0].Code() != "UNAUTHENTICATED" {
				messages <- fmt.Sprintf("unexpected answer %+v (%v)", r, err)
				return
			}
			messages <- r.Errors[0].Message
		}()
	}
	wg.Wait()
	close(messages)
	checked := 0
	for m := range messages {
		switch {
		case strings.Contains(m, "too many"):
		case m == "invalid email or password":
			checked++
		default:
			t.Errorf("parallel wrong password: %s", m)
		}
	}
	if checked > 5 {
		t.Errorf("%d of %d parallel wrong passwords were checked, want at most 5 before the lock", checked, parallel)
	}
	got := e.fails("", loginMutation, map[string]any{"e": demo.KimEmail, "p": demo.Password}, "UNAUTHENTICATED")
	if !strings.Contains(got.Message, "too many") {
		t.Errorf("after %d parallel failures the right password gets %q, want a too-many-attempts refusal", parallel, got.Message)
	}
	e.clock.Advance(16 * time.Minute)
	e.login(demo.KimEmail)
}

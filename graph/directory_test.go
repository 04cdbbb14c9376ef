package graph_test

import (
	"context"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/viewer"
)

// The directory (issue 10): users, security groups, invitations and
// passwords, the staff feed and the directory log, through the real
// handler.

const userFields = `id name email active jobTitle securityGroups { name } permissions`

type userInfo struct {
	ID             string
	Name, Email    string
	Active         bool
	JobTitle       *string
	SecurityGroups []struct{ Name string }
	Permissions    []string
}

func (u userInfo) groups() string {
	var names []string
	for _, g := range u.SecurityGroups {
		names = append(names, g.Name)
	}
	return strings.Join(sortStrings(names), ",")
}

// channelMembers lists the emails of a group channel's members, read as
// the administrator through the security group's channel.
func (e *env) groupChannelMembers(token, group string) string {
	e.t.Helper()
	var out struct {
		Channels struct {
			Edges []struct {
				Node struct {
					Name          string
					SecurityGroup *struct{ Name string }
					Members       []struct{ Email string }
				}
			}
		}
	}
	e.ok(token, `{ channels(filter: {kinds: [GROUP], includeHidden: true}, first: 100) { edges { node { name securityGroup { name } members { email } } } } }`, nil, &out)
	for _, edge := range out.Channels.Edges {
		if n := edge.Node; n.SecurityGroup != nil && n.SecurityGroup.Name == group {
			var emails []string
			for _, m := range n.Members {
				emails = append(emails, m.Email)
			}
			return strings.Join(sortStrings(emails), ",")
		}
	}
	return "<not a member>"
}

func (e *env) createUser(token string, input map[string]any) userInfo {
	e.t.Helper()
	var out struct{ CreateUser userInfo }
	e.ok(token, `mutation($in: CreateUserInput!) { createUser(input: $in) { `+userFields+` } }`, map[string]any{"in": input}, &out)
	return out.CreateUser
}

type invitation struct {
	URL, Token, ExpiresAt string
	User                  struct{ ID string }
}

func (e *env) invite(token, userID string) invitation {
	e.t.Helper()
	var out struct{ InviteUser invitation }
	e.ok(token, `mutation($id: ID!) { inviteUser(userID: $id) { url token expiresAt user { id } } }`, map[string]any{"id": userID}, &out)
	return out.InviteUser
}

const acceptMutation = `mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) { accessToken refreshToken user { id } } }`
const resetMutation = `mutation($t: String!, $p: String!) { resetPassword(token: $t, password: $p) { accessToken refreshToken user { id } } }`

type logEntry struct {
	Action, ActorName, UserName, GroupName, Detail string
	ActorID, UserID                                *string
}

func (e *env) directoryLog(token string, vars map[string]any) []logEntry {
	e.t.Helper()
	var out struct {
		DirectoryLog struct {
			Edges []struct{ Node logEntry }
		}
	}
	e.ok(token, `query($f: DirectoryLogFilter) { directoryLog(filter: $f, first: 100) { edges { node { action actorID actorName userID userName groupName detail } } } }`, vars, &out)
	var es []logEntry
	for _, edge := range out.DirectoryLog.Edges {
		es = append(es, edge.Node)
	}
	return es
}

func actions(es []logEntry) string {
	var as []string
	for _, e := range es {
		as = append(as, e.Action)
	}
	return strings.Join(as, " ")
}

// TestUsersFromCreationToSignIn: an administrator creates a user in a
// group, invites them; the invitation sets a password (the rule is
// named), signs them in once and never again; group channels follow
// membership; every step is in the directory log, newest first.
func TestUsersFromCreationToSignIn(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	nurses := e.groupID(admin.AccessToken, "Nurses")
	def := e.groupID(admin.AccessToken, "Default")

	u := e.createUser(admin.AccessToken, map[string]any{"name": "Ruth Okafor", "email": " Ruth.Okafor@Demo.Clinic ",
		"jobTitle": "Practice Nurse", "securityGroupIDs": []string{nurses, def}})
	if u.Email != "ruth.okafor@demo.clinic" || !u.Active || u.groups() != "Default,Nurses" || !strings.Contains(strings.Join(u.Permissions, ","), "ACCESS_WHISPER") {
		t.Fatalf("created %+v", u)
	}
	if got := e.groupChannelMembers(admin.AccessToken, "Default"); !strings.Contains(got, "ruth.okafor@demo.clinic") {
		t.Errorf("the Default channel has %s, want the new user in it", got)
	}
	// Same email again: CONFLICT; an unknown group: BAD_USER_INPUT naming it.
	e.fails(admin.AccessToken, `mutation { createUser(input: {name: "Dup", email: "ruth.okafor@demo.clinic"}) { id } }`, nil, "CONFLICT")
	bad := e.fails(admin.AccessToken, `mutation($g: ID!) { createUser(input: {name: "X", email: "x@demo.clinic", securityGroupIDs: [$g]}) { id } }`,
		map[string]any{"g": missingLike(nurses)}, "BAD_USER_INPUT")
	if bad.Extensions["field"] != "securityGroupIDs" {
		t.Errorf("an unknown group was refused with %+v, want the field named", bad)
	}
	// No password yet: sign-in fails like a wrong password.
	e.fails("", loginMutation, map[string]any{"e": u.Email, "p": "whatever-it-is"}, "UNAUTHENTICATED")

	inv := e.invite(admin.AccessToken, u.ID)
	if !strings.HasPrefix(inv.URL, "http://localhost:8080/accept-invitation?token=") || !strings.HasSuffix(inv.URL, inv.Token) || inv.User.ID != u.ID {
		t.Errorf("invitation %+v", inv)
	}
	if exp, _ := time.Parse(time.RFC3339, inv.ExpiresAt); exp.Sub(e.clock.Now()) < 167*time.Hour || exp.Sub(e.clock.Now()) > 169*time.Hour {
		t.Errorf("the invitation expires at %s, want in 7 days", inv.ExpiresAt)
	}
	short := e.fails("", acceptMutation, map[string]any{"t": inv.Token, "p": "too-short"}, "BAD_USER_INPUT")
	if !strings.Contains(short.Message, "12 characters") {
		t.Errorf("a short password was refused with %q, want the rule named", short.Message)
	}
	var acc struct{ AcceptInvitation tokens }
	e.ok("", acceptMutation, map[string]any{"t": inv.Token, "p": "a long new password"}, &acc)
	if acc.AcceptInvitation.User.ID != u.ID {
		t.Fatalf("accepting signed in %+v", acc)
	}
	var me struct{ Me struct{ Email string } }
	e.ok(acc.AcceptInvitation.AccessToken, `{ me { email } }`, nil, &me)
	if me.Me.Email != u.Email {
		t.Errorf("signed in as %q", me.Me.Email)
	}
	e.fails("", acceptMutation, map[string]any{"t": inv.Token, "p": "another long password"}, "BAD_USER_INPUT")
	e.fails("", loginMutation, map[string]any{"e": u.Email, "p": "another long password"}, "UNAUTHENTICATED")
	var login struct{ Login tokens }
	e.ok("", loginMutation, map[string]any{"e": u.Email, "p": "a long new password"}, &login)

	// Membership: leaving Nurses leaves its channel; the profile changes.
	var upd struct{ UpdateUser userInfo }
	e.ok(admin.AccessToken, `mutation($id: ID!, $g: ID!) { updateUser(input: {id: $id, name: "Ruth O.", jobTitle: "", removeSecurityGroupIDs: [$g]}) { `+userFields+` } }`,
		map[string]any{"id": u.ID, "g": nurses}, &upd)
	if upd.UpdateUser.Name != "Ruth O." || upd.UpdateUser.JobTitle != nil || upd.UpdateUser.groups() != "Default" {
		t.Errorf("updated %+v", upd.UpdateUser)
	}
	kim := e.login(demo.KimEmail)
	if got := e.groupChannelMembers(kim.AccessToken, "Nurses"); strings.Contains(got, "ruth") {
		t.Errorf("the Nurses channel still has %s", got)
	}

	log := e.directoryLog(admin.AccessToken, map[string]any{"f": map[string]any{"userID": u.ID}})
	if got, want := actions(log), "USER_UPDATED INVITATION_ACCEPTED INVITATION_CREATED USER_CREATED"; got != want {
		t.Errorf("the directory log of the user reads %q, want %q", got, want)
	}
	if log[0].ActorName != "Alex Morgan" || !strings.Contains(log[0].Detail, `"Ruth Okafor" → "Ruth O."`) || !strings.Contains(log[0].Detail, "removed from Nurses") {
		t.Errorf("the update was logged as %+v", log[0])
	}
	if log[1].ActorName != "Ruth O." && log[1].ActorName != "Ruth Okafor" {
		t.Errorf("accepting was logged as made by %q, want the user", log[1].ActorName)
	}
	for _, l := range log {
		if strings.Contains(l.Detail, "a long new password") || strings.Contains(l.Detail, inv.Token) {
			t.Errorf("the log holds a secret: %+v", l)
		}
	}
	e.fails(kim.AccessToken, `{ directoryLog { totalCount } }`, nil, "FORBIDDEN")
}

// TestDeactivationEndsEverythingAtOnce: a deactivated user's live stream
// ends with UNAUTHENTICATED / USER_DEACTIVATED, their sessions are revoked,
// sign-in fails exactly like a wrong password, they leave their group
// channels, and their messages stay. Reactivation undoes all but the
// sessions.
func TestDeactivationEndsEverythingAtOnce(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	kim := e.login(demo.KimEmail)
	kimID := e.userID(admin.AccessToken, demo.KimEmail)
	dm := e.open(admin.AccessToken, map[string]any{"userIDs": []string{kimID}})
	sent := e.send(kim.AccessToken, dm.ID, "before I go", nil)
	// Group channels open on first use.
	e.open(kim.AccessToken, map[string]any{"securityGroupIDs": []string{e.groupID(kim.AccessToken, "Default")}})
	if got := e.groupChannelMembers(admin.AccessToken, "Default"); !strings.Contains(got, demo.KimEmail) {
		t.Fatalf("the Default channel has %s", got)
	}

	sub := e.listen(t, kim.AccessToken, messageAdded, nil)
	// The stream is live once it delivers a message sent after it started.
	e.send(admin.AccessToken, dm.ID, "are you there?", nil)
	if body, _ := sub.message(5 * time.Second); body != "are you there?" {
		t.Fatalf("the stream delivered %q first", body)
	}

	var out struct{ DeactivateUser userInfo }
	e.ok(admin.AccessToken, `mutation($id: ID!) { deactivateUser(id: $id) { `+userFields+` } }`, map[string]any{"id": kimID}, &out)
	if out.DeactivateUser.Active {
		t.Fatalf("deactivated %+v", out.DeactivateUser)
	}
	end := streamEnd(t, sub)
	if !containsCode(end, "UNAUTHENTICATED") || !strings.Contains(mustJSON(end), "USER_DEACTIVATED") {
		t.Errorf("the stream ended with %s, want UNAUTHENTICATED / USER_DEACTIVATED", mustJSON(end))
	}
	e.fails(kim.AccessToken, `{ me { id } }`, nil, "UNAUTHENTICATED")
	e.fails("", `mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken } }`, map[string]any{"r": kim.RefreshToken}, "UNAUTHENTICATED")
	wrong := e.fails("", loginMutation, map[string]any{"e": demo.ChenEmail, "p": "not-the-password"}, "UNAUTHENTICATED")
	refused := e.fails("", loginMutation, map[string]any{"e": demo.KimEmail, "p": demo.Password}, "UNAUTHENTICATED")
	if refused.Message != wrong.Message || mustJSON(refused.Extensions) != mustJSON(wrong.Extensions) {
		t.Errorf("a deactivated user's sign-in answered %+v, a wrong password %+v", refused, wrong)
	}
	if got := e.groupChannelMembers(admin.AccessToken, "Default"); strings.Contains(got, demo.KimEmail) {
		t.Errorf("the Default channel still has the deactivated user: %s", got)
	}
	found := false
	for _, m := range e.messages(admin.AccessToken, dm.ID) {
		found = found || m.ID == sent.ID
	}
	if !found {
		t.Error("the deactivated user's message is gone")
	}
	e.fails(admin.AccessToken, `mutation($id: ID!) { deactivateUser(id: $id) { id } }`, map[string]any{"id": e.userID(admin.AccessToken, demo.AdminEmail)}, "CONFLICT")

	// The directory lists the deactivated only when asked (to reactivate them).
	var listed struct {
		Users struct{ TotalCount int }
	}
	e.ok(admin.AccessToken, `{ users(search: "nurse.kim") { totalCount } }`, nil, &listed)
	if listed.Users.TotalCount != 0 {
		t.Error("users lists a deactivated user")
	}
	e.ok(admin.AccessToken, `{ users(search: "nurse.kim", includeDeactivated: true) { totalCount } }`, nil, &listed)
	if listed.Users.TotalCount != 1 {
		t.Error("users(includeDeactivated: true) leaves the deactivated user out")
	}
	e.ok(admin.AccessToken, `mutation($id: ID!) { reactivateUser(id: $id) { id } }`, map[string]any{"id": kimID}, nil)
	kim = e.login(demo.KimEmail)
	if got := e.groupChannelMembers(kim.AccessToken, "Default"); !strings.Contains(got, demo.KimEmail) {
		t.Errorf("after reactivation the Default channel has %s", got)
	}
	// revokeUserSessions counts what it ended.
	e.login(demo.KimEmail)
	var n struct{ RevokeUserSessions int }
	e.ok(admin.AccessToken, `mutation($id: ID!) { revokeUserSessions(userID: $id) }`, map[string]any{"id": kimID}, &n)
	if n.RevokeUserSessions != 2 {
		t.Errorf("revokeUserSessions ended %d sessions, want 2", n.RevokeUserSessions)
	}
	e.fails(kim.AccessToken, `{ me { id } }`, nil, "UNAUTHENTICATED")
	if got := actions(e.directoryLog(admin.AccessToken, map[string]any{"f": map[string]any{"userID": kimID}})); got != "SESSIONS_REVOKED USER_REACTIVATED USER_DEACTIVATED" {
		t.Errorf("the log reads %q", got)
	}
}

// TestLosingAccessEndsStreamsAtOnce: removing ACCESS_WHISPER from a
// user's group ends their open stream at once (UNAUTHENTICATED /
// ACCESS_CHANGED), without waiting for the session re-check; when the
// client reconnects with the same token the new permissions apply.
func TestLosingAccessEndsStreamsAtOnce(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	kim := e.login(demo.KimEmail)
	kimID := e.userID(admin.AccessToken, demo.KimEmail)
	// Kim's access comes from Default only; a group of her own gives and
	// takes it.
	def := e.groupID(admin.AccessToken, "Default")
	var g struct{ CreateSecurityGroup struct{ ID string } }
	e.ok(admin.AccessToken, `mutation { createSecurityGroup(input: {name: "Locum", permissions: [ACCESS_WHISPER]}) { id } }`, nil, &g)
	e.ok(admin.AccessToken, `mutation($id: ID!, $g: ID!, $d: ID!) { updateUser(input: {id: $id, addSecurityGroupIDs: [$g], removeSecurityGroupIDs: [$d]}) { id } }`,
		map[string]any{"id": kimID, "g": g.CreateSecurityGroup.ID, "d": def}, nil)
	kim = e.login(demo.KimEmail)

	sub := e.listen(t, kim.AccessToken, messageAdded, nil)
	dm := e.open(admin.AccessToken, map[string]any{"userIDs": []string{kimID}})
	e.send(admin.AccessToken, dm.ID, "ping", nil)
	if body, _ := sub.message(5 * time.Second); body != "ping" {
		t.Fatalf("the stream delivered %q first", body)
	}
	start := time.Now()
	e.ok(admin.AccessToken, `mutation($id: ID!) { updateSecurityGroup(input: {id: $id, permissions: []}) { id permissions } }`,
		map[string]any{"id": g.CreateSecurityGroup.ID}, nil)
	end := streamEnd(t, sub)
	if !containsCode(end, "UNAUTHENTICATED") || !strings.Contains(mustJSON(end), "ACCESS_CHANGED") {
		t.Errorf("the stream ended with %s, want UNAUTHENTICATED / ACCESS_CHANGED", mustJSON(end))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the stream ended %v after the change", d)
	}
	// Same token, new permissions: messaging is refused, the session lives.
	e.fails(kim.AccessToken, `{ channels { totalCount } }`, nil, "FORBIDDEN")
	again := e.subscribe(t, kim.AccessToken, messageAdded, nil)
	if end := streamError(t, again); !containsCode(end, "FORBIDDEN") {
		t.Errorf("resubscribing answered %s, want FORBIDDEN", mustJSON(end))
	}
	// A direct grant gives it back.
	e.ok(admin.AccessToken, `mutation($id: ID!) { setUserPermissions(userID: $id, permissions: [ACCESS_WHISPER]) { id } }`, map[string]any{"id": kimID}, nil)
	e.ok(kim.AccessToken, `{ channels { totalCount } }`, nil, nil)
}

// TestSecurityGroups: create, rename, set permissions and delete; names
// are unique; the built-in groups are neither renamed nor deleted; a
// deleted group's members leave its channel.
func TestSecurityGroups(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	kimID := e.userID(admin.AccessToken, demo.KimEmail)
	var g struct {
		CreateSecurityGroup struct {
			ID, Name    string
			Permissions []string
		}
	}
	e.ok(admin.AccessToken, `mutation { createSecurityGroup(input: {name: "Pharmacists", permissions: [ACCESS_WHISPER, PATIENT_CONNECT_MANAGE]}) { id name permissions } }`, nil, &g)
	id := g.CreateSecurityGroup.ID
	if got := strings.Join(g.CreateSecurityGroup.Permissions, ","); got != "ACCESS_WHISPER,PATIENT_CONNECT_MANAGE" {
		t.Errorf("permissions %s", got)
	}
	e.fails(admin.AccessToken, `mutation { createSecurityGroup(input: {name: "pharmacists", permissions: []}) { id } }`, nil, "CONFLICT")
	e.ok(admin.AccessToken, `mutation($id: ID!, $u: ID!) { updateSecurityGroupMembers(input: {securityGroupID: $id, addUserIDs: [$u]}) { id } }`,
		map[string]any{"id": id, "u": kimID}, nil)
	var upd struct{ UpdateSecurityGroup struct{ Name string } }
	e.ok(admin.AccessToken, `mutation($id: ID!) { updateSecurityGroup(input: {id: $id, name: "Pharmacy"}) { name } }`, map[string]any{"id": id}, &upd)
	if upd.UpdateSecurityGroup.Name != "Pharmacy" {
		t.Errorf("renamed to %q", upd.UpdateSecurityGroup.Name)
	}
	kim := e.login(demo.KimEmail)
	if got := e.groupChannelMembers(kim.AccessToken, "Pharmacy"); got != demo.KimEmail {
		t.Errorf("the renamed group's channel has %q", got)
	}
	for _, name := range []string{"Default", "HMS-Administrator"} {
		builtin := e.groupID(admin.AccessToken, name)
		e.fails(admin.AccessToken, `mutation($id: ID!) { deleteSecurityGroup(id: $id) }`, map[string]any{"id": builtin}, "CONFLICT")
		e.fails(admin.AccessToken, `mutation($id: ID!) { updateSecurityGroup(input: {id: $id, name: "Renamed"}) { id } }`, map[string]any{"id": builtin}, "CONFLICT")
	}
	// A custom group that includes the group loses its members with it.
	custom := e.open(admin.AccessToken, map[string]any{"securityGroupIDs": []string{id}, "userIDs": []string{e.userID(admin.AccessToken, demo.ChenEmail)}, "name": "Pharmacy chat"})
	kimName, chenName := strings.Split(demo.KimEmail, "@")[0], strings.Split(demo.ChenEmail, "@")[0]
	if got := emails(custom); !strings.Contains(got, kimName) {
		t.Fatalf("the custom group has %s", got)
	}
	var del struct{ DeleteSecurityGroup bool }
	e.ok(admin.AccessToken, `mutation($id: ID!) { deleteSecurityGroup(id: $id) }`, map[string]any{"id": id}, &del)
	if !del.DeleteSecurityGroup {
		t.Error("deleteSecurityGroup answered false")
	}
	if got := emails(e.channel(admin.AccessToken, custom.ID)); strings.Contains(got, kimName) || !strings.Contains(got, chenName) {
		t.Errorf("after deletion the custom group has %s, want Dr Chen and not Kim", got)
	}
	if got := e.groupChannelMembers(kim.AccessToken, "Pharmacy"); got != "<not a member>" {
		t.Errorf("after deletion the group's channel still has %q", got)
	}
	e.fails(admin.AccessToken, `mutation($id: ID!) { deleteSecurityGroup(id: $id) }`, map[string]any{"id": id}, "NOT_FOUND")
	var me struct{ Me userInfo }
	e.ok(kim.AccessToken, `{ me { `+userFields+` } }`, nil, &me)
	if strings.Contains(me.Me.groups(), "Pharmacy") || strings.Contains(strings.Join(me.Me.Permissions, ","), "PATIENT_CONNECT_MANAGE") {
		t.Errorf("after deletion the member still has %+v", me.Me)
	}
	if got := actions(e.directoryLog(admin.AccessToken, nil)); !strings.HasPrefix(got, "GROUP_DELETED GROUP_UPDATED GROUP_MEMBERS_CHANGED GROUP_CREATED") {
		t.Errorf("the log reads %q", got)
	}
}

// smtpInbox is a real SMTP server (go-smtp) on 127.0.0.1:0 that keeps what
// it receives, decoded.
type smtpInbox struct {
	mu   sync.Mutex
	mail []string
	port int
}

func newSMTPInbox(t *testing.T) *smtpInbox {
	in := &smtpInbox{}
	srv := smtp.NewServer(in)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	in.port = ln.Addr().(*net.TCPAddr).Port
	return in
}

func (in *smtpInbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &inboxSession{in: in}, nil }

type inboxSession struct {
	in *smtpInbox
	to string
}

func (s *inboxSession) AuthPlain(string, string) error            { return nil }
func (s *inboxSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *inboxSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }
func (s *inboxSession) Reset()                                    {}
func (s *inboxSession) Logout() error                             { return nil }
func (s *inboxSession) Data(r io.Reader) error {
	raw, _ := io.ReadAll(r)
	head, body, _ := strings.Cut(string(raw), "\r\n\r\n")
	if strings.Contains(strings.ToLower(head), "quoted-printable") {
		b, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
		body = string(b)
	}
	s.in.mu.Lock()
	s.in.mail = append(s.in.mail, "To: "+s.to+"\r\n"+head+"\r\n\r\n"+body)
	s.in.mu.Unlock()
	return nil
}

func (in *smtpInbox) all() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.mail...)
}

// deliverEmail runs the outbox worker once against the inbox.
func (e *env) deliverEmail(in *smtpInbox) {
	e.t.Helper()
	w := outbox.New(e.db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Providers: map[string]outbox.Provider{"EMAIL": outbox.SMTPEmail{Host: "127.0.0.1", Port: in.port, From: "whisper@demo.clinic"}},
		Now:       e.clock.Now,
	})
	if _, err := w.RunOnce(context.Background()); err != nil {
		e.t.Fatalf("delivering: %v", err)
	}
}

var tokenInLink = regexp.MustCompile(`/(accept-invitation|reset-password)\?token=([A-Za-z0-9_\-%]+)`)

// TestPasswordResetByEmail: a reset request answers the same for unknown
// addresses and sends nothing for them; for a user it sends, through a real
// SMTP conversation, a one-hour single-use link and never a password; the
// reset ends every other session and signs in; a used or expired link is
// BAD_USER_INPUT and changes nothing.
func TestPasswordResetByEmail(t *testing.T) {
	e := newEnv(t)
	inbox := newSMTPInbox(t)
	old := e.login(demo.KimEmail)
	for _, addr := range []string{"nobody@demo.clinic", demo.KimEmail} {
		var out struct{ RequestPasswordReset bool }
		e.ok("", `mutation($e: String!) { requestPasswordReset(email: $e) }`, map[string]any{"e": addr}, &out)
		if !out.RequestPasswordReset {
			t.Errorf("requestPasswordReset(%s) answered false", addr)
		}
	}
	e.deliverEmail(inbox)
	mail := inbox.all()
	if len(mail) != 1 || !strings.Contains(mail[0], "To: "+demo.KimEmail) || !strings.Contains(mail[0], "Subject: Reset your Whisper password") {
		t.Fatalf("the inbox holds %q, want one reset email to the user", mail)
	}
	m := tokenInLink.FindStringSubmatch(mail[0])
	if m == nil || m[1] != "reset-password" || !strings.Contains(mail[0], "http://localhost:8080/reset-password?token=") {
		t.Fatalf("no reset link in %q", mail[0])
	}
	token := m[2]
	if strings.Contains(mail[0], demo.Password) {
		t.Error("the email contains the password")
	}

	e.fails("", resetMutation, map[string]any{"t": token, "p": "short"}, "BAD_USER_INPUT")
	var out struct{ ResetPassword tokens }
	e.ok("", resetMutation, map[string]any{"t": token, "p": "my brand new password"}, &out)
	e.ok(out.ResetPassword.AccessToken, `{ me { id } }`, nil, nil)
	e.fails(old.AccessToken, `{ me { id } }`, nil, "UNAUTHENTICATED")
	e.fails("", resetMutation, map[string]any{"t": token, "p": "yet another password"}, "BAD_USER_INPUT")
	// The used link's email is no longer kept in the outbox.
	if n := e.db.Client.OutboxMessage.Query().Where(outboxmessage.Recipient(demo.KimEmail)).
		CountX(viewer.NewSystemContext(context.Background(), "test")); n != 0 {
		t.Errorf("the outbox still holds %d emails with the used link", n)
	}
	e.fails("", loginMutation, map[string]any{"e": demo.KimEmail, "p": demo.Password}, "UNAUTHENTICATED")
	e.ok("", loginMutation, map[string]any{"e": demo.KimEmail, "p": "my brand new password"}, nil)

	// An expired link: an hour and a minute later it changes nothing.
	e.ok("", `mutation { requestPasswordReset(email: "reception@demo.clinic") }`, nil, nil)
	e.deliverEmail(inbox)
	mail = inbox.all()
	expired := tokenInLink.FindStringSubmatch(mail[len(mail)-1])[2]
	e.clock.Advance(61 * time.Minute)
	e.fails("", resetMutation, map[string]any{"t": expired, "p": "too late password"}, "BAD_USER_INPUT")
	e.ok("", loginMutation, map[string]any{"e": demo.ReceptionEmail, "p": demo.Password}, nil)

	// At most three reset emails an hour per address, answered alike.
	for range 3 {
		e.ok("", `mutation { requestPasswordReset(email: "dr.patel@demo.clinic") }`, nil, nil)
	}
	e.deliverEmail(inbox)
	before := len(inbox.all())
	var again struct{ RequestPasswordReset bool }
	e.ok("", `mutation { requestPasswordReset(email: "dr.patel@demo.clinic") }`, nil, &again)
	e.deliverEmail(inbox)
	if !again.RequestPasswordReset || len(inbox.all()) != before {
		t.Errorf("a fourth request in the hour answered %v and sent %d emails", again.RequestPasswordReset, len(inbox.all())-before)
	}

	// An invitation is emailed the same way.
	admin := e.login(demo.AdminEmail)
	inv := e.invite(admin.AccessToken, e.createUser(admin.AccessToken, map[string]any{"name": "New Starter", "email": "new.starter@demo.clinic"}).ID)
	e.deliverEmail(inbox)
	mail = inbox.all()
	last := mail[len(mail)-1]
	if !strings.Contains(last, "To: new.starter@demo.clinic") || !strings.Contains(last, inv.URL) {
		t.Errorf("the invitation email reads %q, want the link %s", last, inv.URL)
	}
}

// TestChangePassword: the current password is needed, the rule applies,
// and the viewer's other sessions end while this one stays.
func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	here := e.login(demo.ChenEmail)
	elsewhere := e.login(demo.ChenEmail)
	const change = `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }`
	e.fails(here.AccessToken, change, map[string]any{"c": "not my password", "n": "a fine long password"}, "BAD_USER_INPUT")
	if f := e.fails(here.AccessToken, change, map[string]any{"c": demo.Password, "n": "short"}, "BAD_USER_INPUT"); f.Extensions["field"] != "newPassword" {
		t.Errorf("a short password was refused with %+v", f)
	}
	var out struct{ ChangePassword bool }
	e.ok(here.AccessToken, change, map[string]any{"c": demo.Password, "n": "a fine long password"}, &out)
	if !out.ChangePassword {
		t.Error("changePassword answered false")
	}
	e.ok(here.AccessToken, `{ me { id } }`, nil, nil)
	e.fails(elsewhere.AccessToken, `{ me { id } }`, nil, "UNAUTHENTICATED")
	e.ok("", loginMutation, map[string]any{"e": demo.ChenEmail, "p": "a fine long password"}, nil)
	e.fails(demo.IntegrationKey, change, map[string]any{"c": "x", "n": "a fine long password"}, "FORBIDDEN")
}

// TestUpsertStaff: the practice system's staff feed is idempotent, keyed
// by externalID; group names set membership in existing groups; active:
// false deactivates like deactivateUser.
func TestUpsertStaff(t *testing.T) {
	e := newEnv(t)
	admin := e.login(demo.AdminEmail)
	const upsert = `mutation($in: StaffInput!) { upsertStaff(input: $in) { ` + userFields + ` } }`
	in := map[string]any{"externalID": "PMS-77", "name": "Dr Ama Mensah", "email": "ama.mensah@demo.clinic",
		"jobTitle": "Registrar", "securityGroupNames": []string{"Default", "Doctors"}}
	var first, second struct{ UpsertStaff userInfo }
	e.ok(demo.IntegrationKey, upsert, map[string]any{"in": in}, &first)
	u := first.UpsertStaff
	if u.groups() != "Default,Doctors" || !u.Active || deref(u.JobTitle) != "Registrar" {
		t.Fatalf("upserted %+v", u)
	}
	logged := len(e.directoryLog(admin.AccessToken, nil))
	e.ok(demo.IntegrationKey, upsert, map[string]any{"in": in}, &second)
	if second.UpsertStaff.ID != u.ID || len(e.directoryLog(admin.AccessToken, nil)) != logged {
		t.Errorf("a repeated push gave %+v and logged %d entries (was %d)", second.UpsertStaff, len(e.directoryLog(admin.AccessToken, nil)), logged)
	}
	in["securityGroupNames"] = []string{"Nobody's group"}
	if f := e.fails(demo.IntegrationKey, upsert, map[string]any{"in": in}, "BAD_USER_INPUT"); f.Extensions["field"] != "securityGroupNames" {
		t.Errorf("an unknown group was refused with %+v", f)
	}
	in["securityGroupNames"] = []string{"Default"}
	e.ok(demo.IntegrationKey, upsert, map[string]any{"in": in}, &second)
	if second.UpsertStaff.groups() != "Default" {
		t.Errorf("after leaving Doctors: %+v", second.UpsertStaff)
	}
	// The feed cannot touch what it does not own.
	e.fails(demo.IntegrationKey, `mutation($id: ID!) { setUserPermissions(userID: $id, permissions: [WHISPER_ADMIN]) { id } }`, map[string]any{"id": u.ID}, "FORBIDDEN")
	e.fails(admin.AccessToken, upsert, map[string]any{"in": in}, "FORBIDDEN")

	// Deactivation from the feed ends the user's sessions.
	inv := e.invite(admin.AccessToken, u.ID)
	var acc struct{ AcceptInvitation tokens }
	e.ok("", acceptMutation, map[string]any{"t": inv.Token, "p": "ama's long password"}, &acc)
	in["active"] = false
	e.ok(demo.IntegrationKey, upsert, map[string]any{"in": in}, &second)
	if second.UpsertStaff.Active {
		t.Error("active: false left the user active")
	}
	e.fails(acc.AcceptInvitation.AccessToken, `{ me { id } }`, nil, "UNAUTHENTICATED")
	log := e.directoryLog(admin.AccessToken, map[string]any{"f": map[string]any{"userID": u.ID}})
	if log[0].Action != "USER_DEACTIVATED" || log[0].ActorID == nil || log[0].ActorName == "Whisper" {
		t.Errorf("the deactivation was logged as %+v", log[0])
	}
}

// TestSignInThrottleIsSharedByReplicas: failures from one client address
// against an account on one replica count on another (the count is in the
// database).
func TestSignInThrottleIsSharedByReplicas(t *testing.T) {
	e := newEnv(t)
	other, err := auth.New(e.db.Client, auth.Config{Secret: []byte(strings.Repeat("k", 32)), Now: e.clock.Now, Dialect: e.db.Dialect},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// The same client address on both replicas: failures are counted per
	// (address, account).
	ctx := auth.NewClientContext(viewer.NewPendingContext(context.Background()), auth.Meta{IP: "127.0.0.1"})
	for i := range 5 {
		if i%2 == 0 {
			e.fails("", loginMutation, map[string]any{"e": "ghost@demo.clinic", "p": "guess"}, "UNAUTHENTICATED")
		} else if _, err := other.Login(ctx, "ghost@demo.clinic", "guess", auth.Meta{}); err != auth.ErrInvalidCredentials {
			t.Fatalf("attempt %d on the other replica: %v", i+1, err)
		}
	}
	if _, err := other.Login(ctx, "ghost@demo.clinic", "guess", auth.Meta{}); err != auth.ErrThrottled {
		t.Errorf("the sixth attempt (other replica) answered %v, want the throttle", err)
	}
	if f := e.fails("", loginMutation, map[string]any{"e": "ghost@demo.clinic", "p": "guess"}, "UNAUTHENTICATED"); !strings.Contains(f.Message, "too many") {
		t.Errorf("the seventh attempt (this replica) answered %q, want the throttle", f.Message)
	}
}

// TestPatientSignInThrottleIsSharedByReplicas: portal sign-in failures
// against a patient's email on one replica count on another, as staff
// ones do (TestSignInThrottleIsSharedByReplicas): once throttled, even the
// right password is refused on both.
func TestPatientSignInThrottleIsSharedByReplicas(t *testing.T) {
	e := newEnv(t)
	other, err := auth.New(e.db.Client, auth.Config{Secret: []byte(strings.Repeat("k", 32)), Now: e.clock.Now, Dialect: e.db.Dialect},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// The same client address on both replicas: failures are counted per
	// (address, email).
	ctx := auth.NewClientContext(viewer.NewPendingContext(context.Background()), auth.Meta{IP: "127.0.0.1"})
	liam := demo.PortalEmails[1]
	for i := range 5 {
		if i%2 == 0 {
			e.fails("", patientLoginMutation, map[string]any{"e": liam, "p": "guess"}, "UNAUTHENTICATED")
		} else if _, err := other.PatientLogin(ctx, liam, "guess"); err != auth.ErrInvalidCredentials {
			t.Fatalf("attempt %d on the other replica: %v", i+1, err)
		}
	}
	if _, err := other.PatientLogin(ctx, liam, demo.Password); err != auth.ErrThrottled {
		t.Errorf("the sixth attempt (other replica, right password) answered %v, want the throttle", err)
	}
	if f := e.fails("", patientLoginMutation, map[string]any{"e": liam, "p": demo.Password}, "UNAUTHENTICATED"); !strings.Contains(f.Message, "too many") {
		t.Errorf("the seventh attempt (this replica, right password) answered %q, want the throttle", f.Message)
	}
}

// streamError returns the first error of a subscription (an error frame,
// or a next frame carrying errors), or the complete that ended it.
func streamError(t *testing.T, s *subscription) map[string]any {
	t.Helper()
	for {
		msg, err := s.c.read(5 * time.Second)
		if err != nil {
			t.Fatalf("the stream did not end: %v", err)
		}
		if p, _ := msg["payload"].(map[string]any); msg["type"] != "next" || p["errors"] != nil {
			return msg
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

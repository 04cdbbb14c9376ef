package graph_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/ent/usertoken"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Portal access (issue 12, SPEC §12): staff invite a patient by email or
// SMS, the patient sets a password with the link and is signed in, and
// staff take the access away again.

const (
	invitePatientMutation = `mutation($id: ID!, $via: ContactChannel!) {
  invitePatient(patientID: $id, via: $via) { url token expiresAt user { id } patient { id firstName portalAccess } } }`
	acceptPatientMutation = `mutation($t: String!, $p: String!) {
  acceptPatientInvitation(token: $t, password: $p) { accessToken refreshToken patient { id firstName portalAccess } } }`
	portalPassword = "a long portal password"
)

type patientInvitation struct {
	URL, Token, ExpiresAt string
	User                  *struct{ ID string }
	Patient               struct {
		ID, FirstName string
		PortalAccess  bool
	}
}

// patientByName finds a demo patient's id by first name.
func (e *env) patientByName(first string) string {
	e.t.Helper()
	return string(e.db.Client.Patient.Query().Where(patient.FirstName(first)).OnlyIDX(viewer.NewSystemContext(context.Background(), "test")))
}

func (e *env) invitePatient(token, patientID, via string) patientInvitation {
	e.t.Helper()
	var out struct{ InvitePatient patientInvitation }
	e.ok(token, invitePatientMutation, map[string]any{"id": patientID, "via": via}, &out)
	return out.InvitePatient
}

// portalWrites counts the portal links and outbox rows kept for a patient
// and address: an invitation refused must leave both unchanged.
func (e *env) portalWrites(patientID, address string) (links, messages int) {
	ctx := viewer.NewSystemContext(context.Background(), "test")
	links = e.db.Client.UserToken.Query().Where(usertoken.PatientID(pulid.ID(patientID))).CountX(ctx)
	messages = e.db.Client.OutboxMessage.Query().Where(outboxmessage.Recipient(address)).CountX(ctx)
	return links, messages
}

// TestPatientInvitationByEmail: a nurse invites a patient by email; a
// second invitation replaces the first link (its email is never sent); the
// link read from a real SMTP conversation carries the practice's name and
// no clinical detail; a refused password changes nothing; accepting signs
// the patient in as themself whatever Authorization header came with it,
// and later they sign in with the password; the link works once, an
// expired one not at all, and one request accepts with one password only.
func TestPatientInvitationByEmail(t *testing.T) {
	e := newEnv(t)
	inbox := newSMTPInbox(t)
	kim := e.login(demo.KimEmail)
	amelia := e.patientByName("Amelia")

	first := e.invitePatient(kim.AccessToken, amelia, "EMAIL")
	if first.User != nil || first.Patient.ID != amelia || first.Patient.PortalAccess ||
		!strings.HasPrefix(first.URL, "http://localhost:8080/portal/accept-invitation?token=") {
		t.Fatalf("invitePatient = %+v", first)
	}
	if exp, err := time.Parse(time.RFC3339, first.ExpiresAt); err != nil || exp.Sub(e.clock.Now()) < 7*24*time.Hour-time.Minute {
		t.Errorf("the invitation expires at %s, want in 7 days", first.ExpiresAt)
	}
	second := e.invitePatient(kim.AccessToken, amelia, "EMAIL")
	e.deliverEmail(inbox)
	mail := inbox.all()
	if len(mail) != 1 || !strings.Contains(mail[0], "To: amelia.jones@example.com") ||
		!strings.Contains(mail[0], "Subject: Your patient portal invitation from Harbourside Medical Centre") {
		t.Fatalf("the inbox holds %q, want one invitation to Amelia (the replaced one is not sent)", mail)
	}
	m := tokenInLink.FindStringSubmatch(mail[0])
	if m == nil || !strings.Contains(mail[0], "http://localhost:8080/portal/accept-invitation?token=") || m[2] != second.Token {
		t.Fatalf("the email carries no link to the second invitation: %q", mail[0])
	}
	for _, clinical := range []string{"2001-09-14", "P0005", "Jones"} {
		if strings.Contains(strings.SplitN(mail[0], "\r\n\r\n", 2)[1], clinical) {
			t.Errorf("the invitation email mentions %q", clinical)
		}
	}
	token := m[2]

	// The replaced link opens nothing; a short password changes nothing.
	e.fails("", acceptPatientMutation, map[string]any{"t": first.Token, "p": portalPassword}, "BAD_USER_INPUT")
	if bad := e.fails("", acceptPatientMutation, map[string]any{"t": token, "p": "short"}, "BAD_USER_INPUT"); !strings.Contains(bad.Message, "12 characters") {
		t.Errorf("a short password is refused with %q", bad.Message)
	}
	// One request, one password: the budget holds for this flow too.
	r := e.do("", `mutation($t: String!) {
	  a: acceptPatientInvitation(token: $t, password: "a long portal password") { accessToken }
	  b: patientLogin(email: "amelia.jones@example.com", password: "a long portal password") { accessToken } }`, map[string]any{"t": token})
	if len(r.Errors) == 0 || r.Errors[0].Code() != "RESOURCE_EXHAUSTED" {
		t.Fatalf("two password fields in one request answered %+v", r)
	}

	// Accepting ignores whoever the request was signed in as (here the
	// nurse): the answer is the patient's own session.
	var out struct {
		AcceptPatientInvitation struct {
			AccessToken, RefreshToken string
			Patient                   struct {
				ID, FirstName string
				PortalAccess  bool
			}
		}
	}
	e.ok(kim.AccessToken, acceptPatientMutation, map[string]any{"t": token, "p": portalPassword}, &out)
	acc := out.AcceptPatientInvitation
	if acc.Patient.ID != amelia || acc.Patient.FirstName != "Amelia" || !acc.Patient.PortalAccess || !strings.HasPrefix(acc.RefreshToken, "wr_ps") {
		t.Fatalf("acceptPatientInvitation = %+v", acc)
	}
	var convs struct{ PatientConversations struct{ TotalCount int } }
	e.ok(acc.AccessToken, `{ patientConversations { totalCount } }`, nil, &convs)
	e.fails(acc.AccessToken, `{ me { id } }`, nil, "FORBIDDEN") // a patient, not the nurse
	e.fails("", acceptPatientMutation, map[string]any{"t": token, "p": "another long password"}, "BAD_USER_INPUT")
	if links, _ := e.portalWrites(amelia, "amelia.jones@example.com"); links != 2 {
		t.Errorf("%d portal links kept, want the two issued", links)
	}
	if _, msgs := e.portalWrites(amelia, "amelia.jones@example.com"); msgs != 0 {
		t.Errorf("the outbox still keeps %d messages with a used or replaced link", msgs)
	}
	var login struct{ PatientLogin struct{ AccessToken string } }
	e.ok("", `mutation($e: String!, $p: String!) { patientLogin(email: $e, password: $p) { accessToken } }`,
		map[string]any{"e": "amelia.jones@example.com", "p": portalPassword}, &login)
	var rec struct{ Node struct{ PortalAccess bool } }
	e.ok(kim.AccessToken, `query($id: ID!) { node(id: $id) { ... on Patient { portalAccess } } }`, map[string]any{"id": amelia}, &rec)
	if !rec.Node.PortalAccess {
		t.Error("staff read portalAccess false after the patient accepted")
	}

	// An expired link: seven days and a minute later it changes nothing.
	noah := e.patientByName("Noah")
	late := e.invitePatient(kim.AccessToken, noah, "EMAIL")
	e.clock.Advance(7*24*time.Hour + time.Minute)
	e.fails("", acceptPatientMutation, map[string]any{"t": late.Token, "p": portalPassword}, "BAD_USER_INPUT")
	e.fails("", `mutation($e: String!, $p: String!) { patientLogin(email: $e, password: $p) { accessToken } }`,
		map[string]any{"e": "noah.smith@example.com", "p": portalPassword}, "UNAUTHENTICATED")
}

// TestPatientInvitationRefusals: a channel the patient opted out of, or has
// no address for, is BAD_USER_INPUT with the reason and writes nothing; an
// SMS invitation goes to the patient's mobile with the link and nothing
// clinical.
func TestPatientInvitationRefusals(t *testing.T) {
	e := newEnv(t)
	kim := e.login(demo.KimEmail)
	amelia, noah, charlotte := e.patientByName("Amelia"), e.patientByName("Noah"), e.patientByName("Charlotte")

	e.ok(kim.AccessToken, `mutation($id: ID!) { setPatientConsent(patientID: $id, email: OPTED_OUT) { id } }`, map[string]any{"id": amelia}, nil)
	bad := e.fails(kim.AccessToken, invitePatientMutation, map[string]any{"id": amelia, "via": "EMAIL"}, "BAD_USER_INPUT")
	if !strings.Contains(bad.Message, "opted out of EMAIL") {
		t.Errorf("an opted-out channel is refused with %q", bad.Message)
	}
	if links, msgs := e.portalWrites(amelia, "amelia.jones@example.com"); links != 0 || msgs != 0 {
		t.Errorf("the refused invitation wrote %d links and %d messages", links, msgs)
	}
	if bad := e.fails(kim.AccessToken, invitePatientMutation, map[string]any{"id": amelia, "via": "SMS"}, "BAD_USER_INPUT"); !strings.Contains(bad.Message, "no mobile") {
		t.Errorf("an SMS invitation without a mobile is refused with %q", bad.Message)
	}
	if bad := e.fails(kim.AccessToken, invitePatientMutation, map[string]any{"id": charlotte, "via": "SMS"}, "BAD_USER_INPUT"); !strings.Contains(bad.Message, "no email") {
		t.Errorf("an invitation without an email on record is refused with %q", bad.Message)
	}

	// An SMS opt-out refuses an SMS invitation; a recorded yes lifts it.
	e.ok(kim.AccessToken, `mutation($id: ID!) { setPatientConsent(patientID: $id, sms: OPTED_OUT) { id } }`, map[string]any{"id": noah}, nil)
	e.fails(kim.AccessToken, invitePatientMutation, map[string]any{"id": noah, "via": "SMS"}, "BAD_USER_INPUT")
	if links, msgs := e.portalWrites(noah, "+61411000004"); links != 0 || msgs != 0 {
		t.Errorf("the refused SMS invitation wrote %d links and %d messages", links, msgs)
	}
	e.ok(kim.AccessToken, `mutation($id: ID!) { setPatientConsent(patientID: $id, sms: OPTED_IN) { id } }`, map[string]any{"id": noah}, nil)
	inv := e.invitePatient(kim.AccessToken, noah, "SMS")
	ctx := viewer.NewSystemContext(context.Background(), "test")
	sms := e.db.Client.OutboxMessage.Query().Where(outboxmessage.Recipient("+61411000004")).OnlyX(ctx)
	if sms.Channel != outboxmessage.ChannelSMS || !sms.PatientFacing || !strings.Contains(sms.Body, inv.URL) ||
		!strings.HasPrefix(sms.Body, "Harbourside Medical Centre invites you to its patient portal") || strings.Contains(sms.Body, "Smith") {
		t.Errorf("the SMS invitation is %+v", sms)
	}

	// Two records sharing an address cannot both sign in by it.
	e.ok(demo.IntegrationKey, `mutation { upsertPatient(input: {externalID: "twin", patientNumber: "TW1", firstName: "Twin", lastName: "Smith", email: "noah.smith@example.com"}) { id } }`, nil, nil)
	var acc struct{ AcceptPatientInvitation struct{ AccessToken string } }
	e.ok("", acceptPatientMutation, map[string]any{"t": inv.Token, "p": portalPassword}, &acc)
	e.fails(kim.AccessToken, invitePatientMutation, map[string]any{"id": e.patientByName("Twin"), "via": "EMAIL"}, "CONFLICT")
}

// TestPatientPortalAccessRevoked: taking a patient's access away ends their
// open stream at once with PORTAL_ACCESS_REVOKED, refuses their access and
// refresh tokens, their password and any invitation issued before; a new
// invitation gives the access back.
func TestPatientPortalAccessRevoked(t *testing.T) {
	e := newEnv(t)
	kim := e.login(demo.KimEmail)
	olivia := e.patientByName("Olivia")
	access, refresh := e.portalLogin(demo.PortalEmails[0])
	pending := e.invitePatient(kim.AccessToken, olivia, "EMAIL")
	sub := e.listen(t, access, messageAdded, nil)

	var out struct {
		RevokePatientPortalAccess struct {
			ID           string
			PortalAccess bool
		}
	}
	e.ok(kim.AccessToken, `mutation($id: ID!) { revokePatientPortalAccess(patientID: $id) { id portalAccess } }`, map[string]any{"id": olivia}, &out)
	if out.RevokePatientPortalAccess.ID != olivia || out.RevokePatientPortalAccess.PortalAccess {
		t.Fatalf("revokePatientPortalAccess = %+v", out.RevokePatientPortalAccess)
	}
	if reason := closeReason(t, sub.c, 5*time.Second); !strings.Contains(reason, "PORTAL_ACCESS_REVOKED") {
		t.Errorf("the patient's stream ended with %s, want PORTAL_ACCESS_REVOKED", reason)
	}
	e.fails(access, `{ patientConversations { totalCount } }`, nil, "UNAUTHENTICATED")
	e.fails("", `mutation($r: String!) { patientRefreshSession(refreshToken: $r) { accessToken } }`, map[string]any{"r": refresh}, "UNAUTHENTICATED")
	e.fails("", `mutation($e: String!, $p: String!) { patientLogin(email: $e, password: $p) { accessToken } }`,
		map[string]any{"e": demo.PortalEmails[0], "p": demo.Password}, "UNAUTHENTICATED")
	e.fails("", acceptPatientMutation, map[string]any{"t": pending.Token, "p": portalPassword}, "BAD_USER_INPUT")
	// Revoking again answers the same.
	e.ok(kim.AccessToken, `mutation($id: ID!) { revokePatientPortalAccess(patientID: $id) { portalAccess } }`, map[string]any{"id": olivia}, nil)

	again := e.invitePatient(kim.AccessToken, olivia, "EMAIL")
	var acc struct{ AcceptPatientInvitation struct{ AccessToken string } }
	e.ok("", acceptPatientMutation, map[string]any{"t": again.Token, "p": portalPassword}, &acc)
	e.ok(acc.AcceptPatientInvitation.AccessToken, `{ patientConversations { totalCount } }`, nil, nil)
}

// TestCareTeamBadgeAloneSeesNewPatientConversation: a care-team member
// whose only stream is unreadBadge (the navigation badge, without a
// channelUpdated stream) sees a conversation a patient starts counted at
// once, as the dashboard counts it.
func TestCareTeamBadgeAloneSeesNewPatientConversation(t *testing.T) {
	e := newEnv(t)
	chen := e.login(demo.ChenEmail)
	olivia, _ := e.portalLogin(demo.PortalEmails[0])
	badge := e.listen(t, chen.AccessToken, `subscription { unreadBadge { total channels { channel { id } unread } } }`, nil)
	before := badgeTotal(t, badge.next(5*time.Second))
	var out struct{ StartPatientConversation struct{ ID string } }
	e.ok(olivia, `mutation { startPatientConversation(input: {topic: "Repeat prescription", body: "Could I have a repeat?"}) { id } }`, nil, &out)
	if d := awaitBadge(t, badge, before+1); !strings.Contains(asJSON(d), out.StartPatientConversation.ID) {
		t.Fatalf("Dr Chen's badge = %v, want the new conversation in it", d)
	}
}

package graph_test

// The authorization matrix (issue 9): every Query, Mutation and Subscription
// field of the executable schema, run as every kind of principal — and, for
// fields that take an id, with an id the principal may see, one it may not
// and one that does not exist — against the outcome the table below
// declares. A schema field without a row fails the test, so a new field
// cannot go unchecked.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/whisper-health/whisper/ent/notification"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/graph/generated"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// The principals, by the short names the table uses.
const (
	pAnon     = "anon"     // no token
	pExpired  = "expired"  // a staff access token past its lifetime
	pNoAccess = "noaccess" // a staff user without ACCESS_WHISPER (no groups, no grants)
	pStaff    = "staff"    // nurse Kim: ACCESS_WHISPER
	pAdmin    = "admin"    // ACCESS_WHISPER + WHISPER_ADMIN only
	pPCM      = "pcm"      // PATIENT_CONNECT_MANAGE only
	pDir      = "dir"      // DIRECTORY_MANAGE only
	pInteg    = "integ"    // the demo integration key (service account, INTEGRATION)
	pSvc      = "svc"      // a service account holding ACCESS_WHISPER, by its API key
	pPatient  = "patient"  // portal patient Olivia Brown
)

var matrixPrincipals = []string{pAnon, pExpired, pNoAccess, pStaff, pAdmin, pPCM, pDir, pInteg, pSvc, pPatient}

// ok is the outcome of a cell that succeeds; any other outcome is an
// extensions.code.
const ok = "ok"

// The id variants of a cell.
const (
	vNone    = "-"
	vVisible = "visible"
	vForeign = "foreign"
	vMissing = "missing"
)

// matrixRow is one schema field (or one case of it, "Query.node/message") and
// what every principal gets.
type matrixRow struct {
	field string
	doc   string
	// vars builds the variables; id is the id under test ("" without one).
	vars func(f *matrixFixture, p, id string) map[string]any
	// id, when set, makes three cells per principal: visible, foreign (when
	// the kind has one) and missing.
	id *idKind
	// want is the outcome per principal, as "names:outcome; …". anon and
	// expired are UNAUTHENTICATED unless named; "*" is everyone else.
	want string
	// foreign and missing override the outcomes of the other id variants;
	// by default they are NOT_FOUND where the visible id succeeds, and the
	// visible id's refusal where the principal may not do this at all.
	foreign, missing string
}

// idKind says which id a principal gets for each variant.
type idKind struct {
	name    string
	visible func(f *matrixFixture, p string) string
	// foreign is an existing id this principal may not see; nil when every
	// such row is visible to everyone who may call the field.
	foreign func(f *matrixFixture, p string) string
}

// Variables helpers.
func noVars(*matrixFixture, string, string) map[string]any { return nil }

func idVar(name string) func(*matrixFixture, string, string) map[string]any {
	return func(_ *matrixFixture, _ string, id string) map[string]any { return map[string]any{name: id} }
}

// matrixTable is the declarative table: one row per schema field.
var matrixTable = []matrixRow{
	// ------------------------------------------------------------ Query
	{field: "Query.node/conversation", doc: `query($id: ID!) { node(id: $id) { id } }`, vars: idVar("id"), id: conversationID,
		want: "staff admin patient:ok; *:NOT_FOUND"},
	{field: "Query.node/message", doc: `query($id: ID!) { node(id: $id) { id } }`, vars: idVar("id"), id: conversationMessageID,
		want: "staff admin patient:ok; *:NOT_FOUND"},
	// A portal patient reads the staff of their own conversations (Kim
	// started theirs), by name and job title (issue 12).
	{field: "Query.node/user", doc: `query($id: ID!) { node(id: $id) { id } }`, vars: idVar("id"), id: staffUserID,
		want: "staff admin pcm dir integ patient:ok; *:NOT_FOUND"},
	{field: "Query.nodes", doc: `query($id: ID!) { nodes(ids: [$id]) { id } }`, vars: idVar("id"), id: conversationID,
		want: "staff admin patient:ok; *:NOT_FOUND"},
	{field: "Query.me", doc: `{ me { id } }`, vars: noVars,
		want: "noaccess staff admin pcm dir integ svc:ok; patient:FORBIDDEN"},
	{field: "Query.users", doc: `{ users { totalCount } }`, vars: noVars,
		// noaccess and svc: filtered to themselves.
		want: "noaccess staff admin pcm dir integ svc:ok; patient:FORBIDDEN"},
	{field: "Query.securityGroups", doc: `{ securityGroups { id } }`, vars: noVars,
		want: "staff admin pcm dir integ:ok; *:FORBIDDEN"},
	{field: "Query.patients", doc: `{ patients { totalCount } }`, vars: noVars,
		// A portal patient: filtered to their own record.
		want: "staff admin pcm dir integ patient:ok; *:FORBIDDEN"},
	{field: "Query.sessions", doc: `{ sessions { id } }`, vars: noVars,
		want: "noaccess staff admin pcm dir integ svc:ok; patient:FORBIDDEN"},
	{field: "Query.channels", doc: `{ channels { totalCount } }`, vars: noVars,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Query.messages", doc: `query($id: ID!) { messages(channelID: $id) { totalCount } }`, vars: idVar("id"), id: channelID,
		want: "staff admin patient:ok; *:NOT_FOUND"},
	{field: "Query.labels", doc: `{ labels { id } }`, vars: noVars,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Query.patientConversations", doc: `{ patientConversations { totalCount } }`, vars: noVars,
		want: "staff admin patient:ok; *:FORBIDDEN"},
	// One patient's conversations (the patient dashboard); a portal patient
	// may name only themself.
	{field: "Query.patientConversations/patient", doc: `query($id: ID!) { patientConversations(patientID: $id) { totalCount } }`,
		vars: idVar("id"), id: patientID, want: "staff admin patient:ok; *:FORBIDDEN"},
	{field: "Query.conversationStats", doc: `{ conversationStats { totalConversations } }`, vars: noVars,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Query.practiceSettings", doc: `{ practiceSettings { name timeZone } }`, vars: noVars,
		want: "noaccess staff admin pcm dir:ok; *:FORBIDDEN"},
	{field: "Query.notifications", doc: `{ notifications { totalCount } }`, vars: noVars,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Query.bookings", doc: `{ bookings { totalCount } }`, vars: noVars,
		want: "staff admin pcm dir integ:ok; *:FORBIDDEN"},
	{field: "Query.bookingTypes", doc: `{ bookingTypes { id } }`, vars: noVars,
		want: "staff admin pcm dir integ:ok; *:FORBIDDEN"},
	{field: "Query.auditLog", doc: `{ auditLog { totalCount } }`, vars: noVars,
		want: "admin:ok; *:FORBIDDEN"},
	{field: "Query.accessLog", doc: `{ accessLog { totalCount } }`, vars: noVars,
		want: "admin:ok; *:FORBIDDEN"},
	{field: "Query.observedChannels", doc: `query($id: ID!) { observedChannels(userID: $id) { totalCount } }`, vars: idVar("id"), id: staffUserID,
		want: "admin:ok; *:FORBIDDEN"},
	{field: "Query.observedMessages", doc: `query($u: ID!, $id: ID!) { observedMessages(userID: $u, channelID: $id) { totalCount } }`,
		vars: func(f *matrixFixture, _ string, id string) map[string]any {
			return map[string]any{"u": f.kim, "id": id}
		},
		id: observedChannelID, want: "admin:ok; *:FORBIDDEN"},
	{field: "Query.programs", doc: `{ programs { totalCount } }`, vars: noVars,
		want: "staff admin pcm:ok; *:FORBIDDEN"},
	{field: "Query.templates", doc: `{ templates { totalCount } }`, vars: noVars,
		want: "staff admin pcm:ok; *:FORBIDDEN"},
	{field: "Query.enrollments", doc: `{ enrollments { totalCount } }`, vars: noVars,
		want: "staff admin pcm:ok; *:FORBIDDEN"},
	{field: "Query.deliveries", doc: `{ deliveries { totalCount } }`, vars: noVars,
		want: "pcm:ok; *:FORBIDDEN"},
	{field: "Query.directoryLog", doc: `{ directoryLog { totalCount } }`, vars: noVars,
		want: "dir:ok; *:FORBIDDEN"},

	// ------------------------------------------------- Mutation: sign-in
	{field: "Mutation.login", doc: `mutation($e: String!) { login(email: $e, password: "wrong-password") { accessToken } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any {
			return map[string]any{"e": f.unique("nobody") + "@matrix.test"}
		},
		want: "*:UNAUTHENTICATED"},
	{field: "Mutation.patientLogin", doc: `mutation($e: String!) { patientLogin(email: $e, password: "wrong-password") { accessToken } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any {
			return map[string]any{"e": f.unique("nobody") + "@matrix.test"}
		},
		want: "*:UNAUTHENTICATED"},
	{field: "Mutation.refreshSession", doc: `mutation { refreshSession(refreshToken: "wr_not-a-refresh-token") { accessToken } }`, vars: noVars,
		want: "*:UNAUTHENTICATED"},
	// Each logout cell signs out a session of its own (see matrixFixture.fresh).
	{field: "Mutation.logout", doc: `mutation { logout }`, vars: noVars,
		want: "noaccess staff admin pcm dir patient:ok; integ svc:UNAUTHENTICATED"},
	{field: "Mutation.patientRefreshSession", doc: `mutation { patientRefreshSession(refreshToken: "wr_not-a-refresh-token") { accessToken } }`, vars: noVars,
		want: "*:UNAUTHENTICATED"},
	{field: "Mutation.revokeSession", doc: `mutation($id: ID!) { revokeSession(id: $id) { id } }`, vars: idVar("id"), id: sessionID,
		// A service account's own session (it signs in by key, but has the row).
		want: "noaccess staff admin pcm dir integ svc:ok; patient:FORBIDDEN"},

	// ------------------------------------------------- Mutation: directory
	{field: "Mutation.createServiceAccount", doc: `mutation($e: String!) { createServiceAccount(input: {name: "Feed", email: $e, permissions: [INTEGRATION]}) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any {
			return map[string]any{"e": f.unique("feed") + "@feeds.test"}
		},
		want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.createAPIKey", doc: `mutation($id: ID!) { createAPIKey(serviceAccountID: $id, name: "k") { key } }`, vars: idVar("id"), id: serviceAccountID,
		want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.revokeAPIKey", doc: `mutation($id: ID!) { revokeAPIKey(id: $id) { id } }`, vars: idVar("id"), id: apiKeyID,
		want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.updateSecurityGroupMembers", doc: `mutation($id: ID!, $u: ID!) { updateSecurityGroupMembers(input: {securityGroupID: $id, addUserIDs: [$u]}) { id } }`,
		vars: func(f *matrixFixture, _, id string) map[string]any { return map[string]any{"id": id, "u": f.kim} },
		id:   securityGroupID, want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.setPatientArrivedAlerts", doc: `mutation($id: ID!) { setPatientArrivedAlerts(userID: $id, enabled: true) { id } }`, vars: idVar("id"), id: selfUserID,
		want: "staff admin dir:ok; *:FORBIDDEN", foreign: "dir:ok; *:FORBIDDEN", missing: "dir:NOT_FOUND; *:FORBIDDEN"},
	{field: "Mutation.updatePreferences", doc: `mutation { updatePreferences(input: {openOnStartup: true}) { id } }`, vars: noVars,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.createUser", doc: `mutation($e: String!) { createUser(input: {name: "Matrix New", email: $e}) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any {
			return map[string]any{"e": f.unique("new") + "@matrix.test"}
		},
		want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.updateUser", doc: `mutation($id: ID!) { updateUser(input: {id: $id, jobTitle: "Matrix"}) { id } }`,
		vars: idVar("id"), id: freshUserID, want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.deactivateUser", doc: `mutation($id: ID!) { deactivateUser(id: $id) { id } }`,
		vars: idVar("id"), id: freshUserID, want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.reactivateUser", doc: `mutation($id: ID!) { reactivateUser(id: $id) { id } }`,
		vars: idVar("id"), id: freshUserID, want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.setUserPermissions", doc: `mutation($id: ID!) { setUserPermissions(userID: $id, permissions: [ACCESS_WHISPER]) { id } }`,
		vars: idVar("id"), id: freshUserID, want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.revokeUserSessions", doc: `mutation($id: ID!) { revokeUserSessions(userID: $id) }`,
		vars: idVar("id"), id: freshUserID, want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.inviteUser", doc: `mutation($id: ID!) { inviteUser(userID: $id) { url } }`,
		vars: idVar("id"), id: freshUserID, want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.createSecurityGroup", doc: `mutation($n: String!) { createSecurityGroup(input: {name: $n, permissions: [ACCESS_WHISPER]}) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any { return map[string]any{"n": f.unique("Group")} },
		want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.updateSecurityGroup", doc: `mutation($id: ID!, $n: String!) { updateSecurityGroup(input: {id: $id, name: $n}) { id } }`,
		vars: func(f *matrixFixture, _, id string) map[string]any {
			return map[string]any{"id": id, "n": f.unique("Group")}
		},
		id: freshGroupID, want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.deleteSecurityGroup", doc: `mutation($id: ID!) { deleteSecurityGroup(id: $id) }`,
		vars: idVar("id"), id: freshGroupID, want: "dir:ok; *:FORBIDDEN"},
	// Tokens are the credential: anyone may present one; a bad one is
	// BAD_USER_INPUT. These ignore the Authorization header (SPEC §15), so
	// an expired access token changes nothing.
	{field: "Mutation.acceptInvitation", doc: `mutation { acceptInvitation(token: "not-a-token", password: "long enough password") { accessToken } }`,
		vars: noVars, want: "anon expired:BAD_USER_INPUT; *:BAD_USER_INPUT"},
	{field: "Mutation.resetPassword", doc: `mutation { resetPassword(token: "not-a-token", password: "long enough password") { accessToken } }`,
		vars: noVars, want: "anon expired:BAD_USER_INPUT; *:BAD_USER_INPUT"},
	{field: "Mutation.requestPasswordReset", doc: `mutation($e: String!) { requestPasswordReset(email: $e) }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any {
			return map[string]any{"e": f.unique("nobody") + "@matrix.test"}
		},
		want: "anon expired:ok; *:ok"},
	// A wrong current password (a right one would change the fixture's).
	{field: "Mutation.changePassword", doc: `mutation { changePassword(currentPassword: "not the password", newPassword: "a new long password") }`,
		vars: noVars, want: "noaccess staff admin pcm dir:BAD_USER_INPUT; *:FORBIDDEN"},
	{field: "Mutation.upsertStaff", doc: `mutation($x: String!, $e: String!) { upsertStaff(input: {externalID: $x, name: "Matrix Feed", email: $e, securityGroupNames: ["Default"]}) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any {
			x := f.unique("st")
			return map[string]any{"x": x, "e": x + "@feed.test"}
		},
		want: "integ:ok; *:FORBIDDEN"},

	// ------------------------------------------------- Mutation: messenger
	{field: "Mutation.openConversation", doc: `mutation($u: ID!) { openConversation(input: {userIDs: [$u]}) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any { return map[string]any{"u": f.chen} },
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.updateCustomGroup", doc: `mutation($id: ID!, $n: String!) { updateCustomGroup(input: {channelID: $id, name: $n}) { id } }`,
		vars: func(f *matrixFixture, _, id string) map[string]any {
			return map[string]any{"id": id, "n": f.unique("Group")}
		},
		id: channelID, want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.sendMessage", doc: `mutation($id: ID!) { sendMessage(input: {channelID: $id, body: "matrix"}) { id } }`, vars: idVar("id"), id: channelID,
		want: "staff admin patient:ok; *:FORBIDDEN"},
	{field: "Mutation.replyToMessage", doc: `mutation($id: ID!) { replyToMessage(input: {messageID: $id, body: "matrix reply", toAll: true}) { id } }`, vars: idVar("id"), id: messageID,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.markChannelRead", doc: `mutation($id: ID!) { markChannelRead(channelID: $id) { id } }`, vars: idVar("id"), id: channelID,
		want: "staff admin patient:ok; *:FORBIDDEN"}, // a portal patient keeps a read mark in their own conversations
	{field: "Mutation.markMessageUnread", doc: `mutation($id: ID!) { markMessageUnread(messageID: $id) { id } }`, vars: idVar("id"), id: messageID,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.createLabel", doc: `mutation($n: String!) { createLabel(name: $n) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any { return map[string]any{"n": f.unique("Label")} },
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.renameLabel", doc: `mutation($id: ID!, $n: String!) { renameLabel(id: $id, name: $n) { id } }`,
		vars: func(f *matrixFixture, _, id string) map[string]any {
			return map[string]any{"id": id, "n": f.unique("Label")}
		},
		id: labelID, want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.deleteLabel", doc: `mutation($id: ID!) { deleteLabel(id: $id) }`, vars: idVar("id"), id: labelID,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.labelMessage", doc: `mutation($id: ID!, $l: ID!) { labelMessage(messageID: $id, labelID: $l) { id } }`,
		vars: func(f *matrixFixture, p, id string) map[string]any {
			return map[string]any{"id": id, "l": f.freshLabel(f.ownerOf(p))}
		},
		id: messageID, want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.unlabelMessage", doc: `mutation($id: ID!, $l: ID!) { unlabelMessage(messageID: $id, labelID: $l) { id } }`,
		vars: func(f *matrixFixture, p, id string) map[string]any {
			return map[string]any{"id": id, "l": f.freshLabel(f.ownerOf(p))}
		},
		id: messageID, want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.updatePracticeSettings", doc: `mutation { updatePracticeSettings(input: {name: "Harbourside Medical Centre"}) { name } }`, vars: noVars,
		want: "dir:ok; *:FORBIDDEN"},
	{field: "Mutation.sendAlert", doc: `mutation { sendAlert(body: "matrix alert") { id } }`, vars: noVars,
		want: "admin:ok; *:FORBIDDEN"},
	{field: "Mutation.startPatientConversation", doc: `mutation($id: ID!) { startPatientConversation(input: {patientID: $id, topic: "Matrix", body: "hello"}) { id } }`,
		vars: idVar("id"), id: patientID,
		// A portal patient starts conversations about themself. An unknown
		// id inside an input is BAD_USER_INPUT naming the field, and for a
		// patient another patient's id is as unknown as a missing one.
		want: "staff admin patient:ok; *:FORBIDDEN", missing: "staff admin patient:BAD_USER_INPUT; *:FORBIDDEN",
		foreign: "patient:BAD_USER_INPUT; *:FORBIDDEN"},

	// ------------------------------------- Mutation: practice records
	{field: "Mutation.upsertPatient", doc: `mutation($x: String!) { upsertPatient(input: {externalID: $x, patientNumber: $x, firstName: "Mat", lastName: "Rix"}) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any { return map[string]any{"x": f.unique("mx")} },
		want: "dir integ:ok; *:FORBIDDEN"},
	{field: "Mutation.upsertBookingType", doc: `mutation($x: String!) { upsertBookingType(input: {externalID: $x, name: $x}) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any { return map[string]any{"x": f.unique("bt")} },
		want: "dir integ:ok; *:FORBIDDEN"},
	{field: "Mutation.upsertBooking", doc: `mutation($x: String!, $id: ID!, $d: ID!, $t: Time!) { upsertBooking(input: {externalID: $x, patientID: $id, doctorID: $d, startsAt: $t}) { id } }`,
		vars: func(f *matrixFixture, _, id string) map[string]any {
			return map[string]any{"x": f.unique("bk"), "id": id, "d": f.chen, "t": f.e.clock.Now().Add(48 * time.Hour).Format(time.RFC3339)}
		},
		id: patientID, want: "dir integ:ok; *:FORBIDDEN", missing: "dir integ:BAD_USER_INPUT; *:FORBIDDEN"},
	{field: "Mutation.upsertReferral", doc: `mutation($x: String!, $id: ID!, $t: Time!) { upsertReferral(input: {externalID: $x, patientID: $id, referralDate: $t}) { id } }`,
		vars: func(f *matrixFixture, _, id string) map[string]any {
			return map[string]any{"x": f.unique("rf"), "id": id, "t": f.e.clock.Now().Format(time.RFC3339)}
		},
		id: patientID, want: "dir integ:ok; *:FORBIDDEN", missing: "dir integ:BAD_USER_INPUT; *:FORBIDDEN"},
	{field: "Mutation.setBookingStatus", doc: `mutation($id: ID!) { setBookingStatus(bookingID: $id, status: BOOKED) { id } }`, vars: idVar("id"), id: bookingID,
		want: "staff admin dir integ:ok; *:FORBIDDEN"},
	{field: "Mutation.createNotification", doc: `mutation($u: ID!) { createNotification(input: {kind: ANNOUNCEMENT, title: "Matrix", userIDs: [$u]}) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any { return map[string]any{"u": f.kim} },
		want: "dir integ:ok; *:FORBIDDEN"},
	{field: "Mutation.acknowledgeNotification", doc: `mutation($id: ID!) { acknowledgeNotification(id: $id) { id } }`, vars: idVar("id"), id: notificationID,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.replyToArrival", doc: `mutation($id: ID!) { replyToArrival(notificationID: $id, body: "on my way") { id } }`, vars: idVar("id"), id: arrivalID,
		want: "staff admin:ok; *:FORBIDDEN"},

	// ------------------------------------------- Mutation: Patient Connect
	{field: "Mutation.createTemplate", doc: `mutation($n: String!) { createTemplate(input: {kind: SMS, name: $n, body: "Hi {{patient.firstName}}"}) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any { return map[string]any{"n": f.unique("Template")} },
		want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.updateTemplate", doc: `mutation($id: ID!, $n: String!) { updateTemplate(input: {id: $id, name: $n}) { id } }`,
		vars: func(f *matrixFixture, _, id string) map[string]any {
			return map[string]any{"id": id, "n": f.unique("Template")}
		},
		id: templateID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.createProgram", doc: `mutation($n: String!) { createProgram(input: {name: $n, type: GENERAL}) { id } }`,
		vars: func(f *matrixFixture, _, _ string) map[string]any { return map[string]any{"n": f.unique("Program")} },
		want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.updateProgram", doc: `mutation($id: ID!, $n: String!) { updateProgram(input: {id: $id, name: $n}) { id } }`,
		vars: func(f *matrixFixture, _, id string) map[string]any {
			return map[string]any{"id": id, "n": f.unique("Program")}
		},
		id: programID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.addProgramAction", doc: `mutation($id: ID!) { addProgramAction(input: {programID: $id, type: PAUSE, offset: 1, unit: DAYS, relation: AFTER}) { id } }`,
		vars: idVar("id"), id: programID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.updateProgramAction", doc: `mutation($id: ID!) { updateProgramAction(input: {id: $id, type: PAUSE, offset: 2, unit: DAYS, relation: AFTER}) { id } }`,
		vars: idVar("id"), id: actionID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.removeProgramAction", doc: `mutation($id: ID!) { removeProgramAction(id: $id) { id } }`,
		vars: idVar("id"), id: actionID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.moveProgramAction", doc: `mutation($id: ID!) { moveProgramAction(id: $id, position: 0) { id } }`,
		vars: idVar("id"), id: actionID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.setProgramEnabled", doc: `mutation($id: ID!) { setProgramEnabled(id: $id, enabled: true) { id } }`,
		vars: idVar("id"), id: programID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.previewProgram", doc: `mutation($id: ID!) { previewProgram(input: {programID: $id, patientIDs: []}) { cycle } }`,
		vars: idVar("id"), id: programID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.setPatientConsent", doc: `mutation($id: ID!) { setPatientConsent(patientID: $id, email: UNKNOWN) { id emailConsent } }`,
		vars: idVar("id"), id: patientID,
		// The care team records a patient's consent; a portal patient
		// changes theirs by keyword or link, never here.
		want: "staff admin:ok; *:FORBIDDEN"},
	// Portal access (issue 12): the care team invites; the care team and
	// directory managers take it away; each cell has a patient of its own.
	{field: "Mutation.invitePatient", doc: `mutation($id: ID!) { invitePatient(patientID: $id, via: EMAIL) { url patient { id } } }`,
		vars: idVar("id"), id: freshPatientID, want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Mutation.revokePatientPortalAccess", doc: `mutation($id: ID!) { revokePatientPortalAccess(patientID: $id) { id portalAccess } }`,
		vars: idVar("id"), id: freshPatientID, want: "staff admin dir:ok; *:FORBIDDEN"},
	// The token is the credential, as for acceptInvitation.
	{field: "Mutation.acceptPatientInvitation", doc: `mutation { acceptPatientInvitation(token: "not-a-token", password: "long enough password") { accessToken } }`,
		vars: noVars, want: "anon expired:BAD_USER_INPUT; *:BAD_USER_INPUT"},
	{field: "Mutation.setBookingTypePrograms", doc: `mutation($id: ID!) { setBookingTypePrograms(bookingTypeID: $id, programIDs: []) { id } }`,
		vars: idVar("id"), id: bookingTypeID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.enrollPatient", doc: `mutation($id: ID!, $pt: ID!) { enrollPatient(input: {programID: $id, patientID: $pt}) { id } }`,
		vars: func(f *matrixFixture, _, id string) map[string]any {
			return map[string]any{"id": id, "pt": f.freshPatient()}
		},
		id: programID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.pauseEnrollment", doc: `mutation($id: ID!) { pauseEnrollment(id: $id) { id } }`,
		vars: idVar("id"), id: activeEnrollmentID, want: "pcm:ok; *:FORBIDDEN"},
	{field: "Mutation.resumeEnrollment", doc: `mutation($id: ID!) { resumeEnrollment(id: $id) { id } }`,
		vars: idVar("id"), id: pausedEnrollmentID, want: "pcm:ok; *:FORBIDDEN"},
	// The fresh enrolment is not waiting at a pause action, so the
	// manager's advance is refused for its state, after the permission.
	{field: "Mutation.advanceEnrollment", doc: `mutation($id: ID!) { advanceEnrollment(id: $id) { id } }`,
		vars: idVar("id"), id: activeEnrollmentID, want: "pcm:BAD_USER_INPUT; *:FORBIDDEN"},
	{field: "Mutation.cancelEnrollment", doc: `mutation($id: ID!) { cancelEnrollment(id: $id) { id } }`,
		vars: idVar("id"), id: activeEnrollmentID, want: "pcm:ok; *:FORBIDDEN"},

	// ------------------------------------------------------ Subscription
	// A portal patient's streams cover their own conversations (issue 12).
	{field: "Subscription.messageAdded/all", doc: `subscription { messageAdded { id } }`, vars: noVars,
		want: "staff admin patient:ok; *:FORBIDDEN"},
	{field: "Subscription.messageAdded/channel", doc: `subscription($id: ID) { messageAdded(channelID: $id) { id } }`, vars: idVar("id"), id: channelID,
		want: "staff admin patient:ok; *:FORBIDDEN"},
	{field: "Subscription.unreadBadge", doc: `subscription { unreadBadge { total } }`, vars: noVars,
		want: "staff admin patient:ok; *:FORBIDDEN"},
	{field: "Subscription.channelUpdated", doc: `subscription { channelUpdated { type } }`, vars: noVars,
		want: "staff admin patient:ok; *:FORBIDDEN"},
	{field: "Subscription.conversationStatsUpdated", doc: `subscription { conversationStatsUpdated { totalConversations } }`, vars: noVars,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Subscription.notificationAdded", doc: `subscription { notificationAdded { id } }`, vars: noVars,
		want: "staff admin:ok; *:FORBIDDEN"},
	{field: "Subscription.observeUser", doc: `subscription($id: ID!) { observeUser(userID: $id) { id } }`, vars: idVar("id"), id: staffUserID,
		want: "admin:ok; *:FORBIDDEN"},
}

// ------------------------------------------------------------- id kinds

func isCare(p string) bool { return p == pStaff || p == pAdmin }

var (
	// channelID: the custom group of Kim and the admin (care staff), the
	// patient's own conversation (patient), and for everyone else the
	// patient conversation the care team shares — the one they must not reach.
	channelID = &idKind{name: "channel",
		visible: func(f *matrixFixture, p string) string {
			if isCare(p) {
				return f.group
			}
			return f.pcOlivia
		},
		foreign: func(f *matrixFixture, p string) string {
			if p == pPatient {
				return f.pcLiam
			}
			return f.private
		}}
	messageID = &idKind{name: "message",
		visible: func(f *matrixFixture, p string) string {
			if isCare(p) {
				return f.msgGroup
			}
			return f.msgOlivia
		},
		foreign: func(f *matrixFixture, p string) string {
			if p == pPatient {
				return f.msgLiam
			}
			return f.msgPrivate
		}}
	conversationID = &idKind{name: "conversation",
		visible: func(f *matrixFixture, _ string) string { return f.pcOlivia },
		foreign: func(f *matrixFixture, p string) string {
			if p == pPatient {
				return f.pcLiam
			}
			return f.private
		}}
	conversationMessageID = &idKind{name: "conversation message",
		visible: func(f *matrixFixture, _ string) string { return f.msgOlivia },
		foreign: func(f *matrixFixture, p string) string {
			if p == pPatient {
				return f.msgLiam
			}
			return f.msgPrivate
		}}
	// observedChannelID: a channel of the observed user (Kim), and one she
	// is not in.
	observedChannelID = &idKind{name: "observed channel",
		visible: func(f *matrixFixture, _ string) string { return f.group },
		foreign: func(f *matrixFixture, _ string) string { return f.private }}
	staffUserID = &idKind{name: "user",
		visible: func(f *matrixFixture, _ string) string { return f.kim }}
	selfUserID = &idKind{name: "own user",
		visible: func(f *matrixFixture, p string) string { return f.ownerOf(p) },
		foreign: func(f *matrixFixture, _ string) string { return f.chen }}
	labelID = &idKind{name: "label",
		visible: func(f *matrixFixture, p string) string { return f.freshLabel(f.ownerOf(p)) },
		foreign: func(f *matrixFixture, _ string) string { return f.freshLabel(f.chen) }}
	notificationID = &idKind{name: "notification",
		visible: func(f *matrixFixture, p string) string { return f.freshNotification(f.ownerOf(p), false) },
		foreign: func(f *matrixFixture, _ string) string { return f.freshNotification(f.chen, false) }}
	arrivalID = &idKind{name: "arrival",
		visible: func(f *matrixFixture, p string) string { return f.freshNotification(f.ownerOf(p), true) },
		foreign: func(f *matrixFixture, _ string) string { return f.freshNotification(f.chen, true) }}
	sessionID = &idKind{name: "session",
		visible: func(f *matrixFixture, p string) string { return f.freshSession(f.ownerOf(p)) },
		foreign: func(f *matrixFixture, _ string) string { return f.freshSession(f.chen) }}
	patientID = &idKind{name: "patient",
		visible: func(f *matrixFixture, _ string) string { return f.olivia },
		foreign: func(f *matrixFixture, p string) string {
			if p == pPatient {
				return f.liam
			}
			return ""
		}}
	// bookingID: a fresh PENDING booking, so setting BOOKED changes it (a
	// change to nothing must be refused alike).
	bookingID = &idKind{name: "booking",
		visible: func(f *matrixFixture, _ string) string { return f.freshBooking() }}
	bookingTypeID = &idKind{name: "booking type",
		visible: func(f *matrixFixture, _ string) string { return f.bookingType }}
	securityGroupID = &idKind{name: "security group",
		visible: func(f *matrixFixture, _ string) string { return f.nurses }}
	// freshUserID: a staff user of its own per cell, so deactivating or
	// signing out one changes no other cell.
	freshUserID = &idKind{name: "fresh user",
		visible: func(f *matrixFixture, _ string) string { return f.freshUser() }}
	// freshPatientID: a patient of its own per cell, with an email address
	// (portal invitations sign in by email).
	freshPatientID = &idKind{name: "fresh patient",
		visible: func(f *matrixFixture, _ string) string { return f.freshPortalPatient() }}
	freshGroupID = &idKind{name: "fresh security group",
		visible: func(f *matrixFixture, _ string) string { return f.freshGroup() }}
	serviceAccountID = &idKind{name: "service account",
		visible: func(f *matrixFixture, _ string) string { return f.svcUser }}
	apiKeyID = &idKind{name: "api key",
		visible: func(f *matrixFixture, _ string) string { return f.freshAPIKey() }}
	templateID = &idKind{name: "template",
		visible: func(f *matrixFixture, _ string) string { return f.template }}
	programID = &idKind{name: "program",
		visible: func(f *matrixFixture, _ string) string { return f.program }}
	actionID = &idKind{name: "program action",
		visible: func(f *matrixFixture, _ string) string { return f.freshAction() }}
	activeEnrollmentID = &idKind{name: "enrolment",
		visible: func(f *matrixFixture, _ string) string { return f.freshEnrollment(false) }}
	pausedEnrollmentID = &idKind{name: "paused enrolment",
		visible: func(f *matrixFixture, _ string) string { return f.freshEnrollment(true) }}
)

// ---------------------------------------------------------- expectations

// parseWant reads "names:outcome; …" into an outcome per principal.
func parseWant(spec string) (map[string]string, error) {
	out := map[string]string{}
	var rest string
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		names, outcome, found := strings.Cut(part, ":")
		if !found {
			return nil, fmt.Errorf("%q: want names:outcome", part)
		}
		outcome = strings.TrimSpace(outcome)
		for _, n := range strings.Fields(names) {
			if n == "*" {
				rest = outcome
				continue
			}
			if !known(n) {
				return nil, fmt.Errorf("%q: unknown principal %q", spec, n)
			}
			out[n] = outcome
		}
	}
	for _, p := range []string{pAnon, pExpired} {
		if _, set := out[p]; !set {
			out[p] = "UNAUTHENTICATED"
		}
	}
	for _, p := range matrixPrincipals {
		if _, set := out[p]; !set {
			if rest == "" {
				return nil, fmt.Errorf("%q says nothing of %s", spec, p)
			}
			out[p] = rest
		}
	}
	return out, nil
}

func known(p string) bool {
	for _, q := range matrixPrincipals {
		if p == q {
			return true
		}
	}
	return false
}

// otherID is the default outcome of a foreign or missing id: a principal
// that may not use the field at all is refused alike, whatever the id;
// anyone else finds nothing.
func otherID(visible string) string {
	if visible == "UNAUTHENTICATED" || visible == "FORBIDDEN" {
		return visible
	}
	return "NOT_FOUND"
}

// ---------------------------------------------------------------- fixture

type matrixFixture struct {
	e   *env
	t   *testing.T
	ctx context.Context // the system viewer, for seeding
	n   int

	tok   map[string]string // principal → bearer token
	users map[string]string // principal → its user id (staff and service accounts)
	email map[string]string // principal → sign-in email (staff)

	kim, chen, patel       string
	olivia, liam           string
	group, private         string // channels
	pcOlivia, pcLiam       string // patient conversations
	msgGroup, msgPrivate   string
	msgOlivia, msgLiam     string
	svcUser, integUser     string
	nurses, booking        string
	bookingType, template  string
	program                string
	expiredToken, kimToken string
}

func (f *matrixFixture) unique(prefix string) string {
	f.n++
	return fmt.Sprintf("%s-%d-%d", prefix, f.n, time.Now().UnixNano()%1e6)
}

// ownerOf is the user a principal acts as; Kim for those that are no user.
func (f *matrixFixture) ownerOf(p string) string {
	if id := f.users[p]; id != "" {
		return id
	}
	return f.kim
}

func newMatrixFixture(t *testing.T, e *env) *matrixFixture {
	t.Helper()
	ctx := viewer.NewSystemContext(context.Background(), "matrix seed")
	c := e.db.Client
	f := &matrixFixture{e: e, t: t, ctx: ctx, tok: map[string]string{}, users: map[string]string{}, email: map[string]string{}}

	// An expired token: signed an hour ago, with a 15-minute lifetime.
	e.clock.Advance(-time.Hour)
	f.expiredToken = e.login(demo.ChenEmail).AccessToken
	e.clock.Advance(time.Hour)
	f.tok[pExpired] = f.expiredToken

	kim := c.User.Query().Where(user.EmailEQ(demo.KimEmail)).OnlyX(ctx)
	f.kim = string(kim.ID)
	f.chen = string(c.User.Query().Where(user.EmailEQ(demo.ChenEmail)).OnlyX(ctx).ID)
	f.patel = string(c.User.Query().Where(user.EmailEQ(demo.PatelEmail)).OnlyX(ctx).ID)
	f.integUser = string(c.User.Query().Where(user.EmailEQ("integration@demo.clinic")).OnlyX(ctx).ID)
	for p, perms := range map[string][]string{
		pNoAccess: nil,
		pAdmin:    {string(viewer.AccessWhisper), string(viewer.WhisperAdmin)},
		pPCM:      {string(viewer.PatientConnectManage)},
		pDir:      {string(viewer.DirectoryManage)},
	} {
		u := c.User.Create().SetName("Matrix " + p).SetEmail(p + "@matrix.test").SetPasswordHash(kim.PasswordHash).
			SetPermissions(perms).SaveX(ctx)
		f.users[p] = string(u.ID)
		f.email[p] = u.Email
	}
	f.users[pStaff] = f.kim
	f.email[pStaff] = demo.KimEmail
	for p, addr := range f.email {
		f.tok[p] = e.login(addr).AccessToken
	}
	f.kimToken = f.tok[pStaff]
	f.tok[pInteg] = demo.IntegrationKey
	f.users[pInteg] = f.integUser

	// The service account holding ACCESS_WHISPER, made as an administrator would.
	var sa struct{ CreateServiceAccount struct{ ID string } }
	e.ok(f.tok[pDir], `mutation { createServiceAccount(input: {name: "Matrix SA", email: "sa@matrix.test", permissions: [ACCESS_WHISPER]}) { id } }`, nil, &sa)
	f.svcUser = sa.CreateServiceAccount.ID
	f.users[pSvc] = f.svcUser
	var key struct{ CreateAPIKey struct{ Key string } }
	e.ok(f.tok[pDir], `mutation($id: ID!) { createAPIKey(serviceAccountID: $id, name: "matrix") { key } }`, map[string]any{"id": f.svcUser}, &key)
	f.tok[pSvc] = key.CreateAPIKey.Key

	f.tok[pPatient] = f.patientToken()

	// Patients, and a patient conversation for each portal patient.
	f.olivia = e.patientID(f.kimToken, "P0001")
	f.liam = e.patientID(f.kimToken, "P0002")
	f.pcOlivia, f.msgOlivia = f.startConversation(f.olivia)
	f.pcLiam, f.msgLiam = f.startConversation(f.liam)

	// A custom group of Kim, the admin and Dr Chen, with a message of Kim's.
	f.group = e.open(f.kimToken, map[string]any{"userIDs": []string{f.users[pAdmin], f.chen}, "name": "Matrix group"}).ID
	f.msgGroup = e.send(f.kimToken, f.group, "group message", nil).ID

	// A private channel of Dr Chen and Dr Patel.
	ch := c.Channel.Create().SetKind("INDIVIDUAL").SetName("").SetLastSeq(1).SetMessageCount(1).SaveX(ctx)
	c.ChannelMember.Create().SetChannelID(ch.ID).SetUserID(pulid.ID(f.chen)).SaveX(ctx)
	c.ChannelMember.Create().SetChannelID(ch.ID).SetUserID(pulid.ID(f.patel)).SaveX(ctx)
	m := c.Message.Create().SetChannelID(ch.ID).SetSeq(1).SetSenderID(pulid.ID(f.chen)).SetBody("private").SaveX(ctx)
	f.private, f.msgPrivate = string(ch.ID), string(m.ID)

	f.nurses = e.groupID(f.kimToken, "Nurses")
	f.bookingType = e.bookingTypeID(f.kimToken, "Standard Consultation")
	var bk struct {
		Bookings struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.ok(f.kimToken, `{ bookings(first: 1) { edges { node { id } } } }`, nil, &bk)
	f.booking = bk.Bookings.Edges[0].Node.ID

	// A program with one SMS action, enabled.
	f.template = e.template(f.tok[pPCM], "SMS", "Hi {{patient.firstName}}")
	f.program = e.program(f.tok[pPCM], map[string]any{"name": "Matrix program", "type": "GENERAL"},
		map[string]any{"type": "SMS", "templateID": f.template, "offset": 30, "unit": "DAYS", "relation": "AFTER"})
	e.ok(f.tok[pPCM], `mutation($id: ID!) { setProgramEnabled(id: $id, enabled: true) { id } }`, map[string]any{"id": f.program}, nil)
	return f
}

func (f *matrixFixture) patientToken() string {
	var out struct{ PatientLogin struct{ AccessToken string } }
	f.e.ok("", `mutation($e: String!, $p: String!) { patientLogin(email: $e, password: $p) { accessToken } }`,
		map[string]any{"e": demo.PortalEmails[0], "p": demo.Password}, &out)
	return out.PatientLogin.AccessToken
}

func (f *matrixFixture) startConversation(patient string) (channel, message string) {
	var out struct{ StartPatientConversation struct{ ID string } }
	f.e.ok(f.kimToken, `mutation($p: ID!) { startPatientConversation(input: {patientID: $p, topic: "Results", body: "Your results are in"}) { id } }`,
		map[string]any{"p": patient}, &out)
	ms := f.e.messages(f.kimToken, out.StartPatientConversation.ID)
	return out.StartPatientConversation.ID, ms[0].ID
}

// fresh returns a token of p's own that the cell may end (logout).
func (f *matrixFixture) fresh(p string) string {
	switch p {
	case pAnon, pExpired:
		return f.tok[p]
	case pPatient:
		return f.patientToken()
	case pInteg, pSvc:
		key, _, err := f.e.dir.CreateAPIKey(f.ctx, pulid.ID(f.users[p]), f.unique("logout"))
		if err != nil {
			f.t.Fatalf("creating an API key: %v", err)
		}
		return key
	}
	return f.e.login(f.email[p]).AccessToken
}

func (f *matrixFixture) freshLabel(owner string) string {
	return string(f.e.db.Client.Label.Create().SetOwnerID(pulid.ID(owner)).SetName(f.unique("Label")).SaveX(f.ctx).ID)
}

func (f *matrixFixture) freshNotification(to string, arrival bool) string {
	create := f.e.db.Client.Notification.Create().SetRecipientID(pulid.ID(to)).SetTitle("Matrix").
		SetKind(notification.KindANNOUNCEMENT).SetDeliverAt(f.e.clock.Now())
	if arrival {
		create.SetKind(notification.KindARRIVAL).SetFromID(pulid.ID(f.patel)).SetPatientID(pulid.ID(f.olivia)).SetBookingID(pulid.ID(f.booking))
	}
	return string(create.SaveX(f.ctx).ID)
}

func (f *matrixFixture) freshSession(owner string) string {
	now := f.e.clock.Now()
	return string(f.e.db.Client.Session.Create().SetUserID(pulid.ID(owner)).SetRefreshHash(f.unique("hash")).
		SetExpiresAt(now.Add(24 * time.Hour)).SetLastUsedAt(now).SaveX(f.ctx).ID)
}

func (f *matrixFixture) freshUser() string {
	return string(f.e.db.Client.User.Create().SetName("Matrix Fresh").SetEmail(f.unique("fresh") + "@matrix.test").SaveX(f.ctx).ID)
}

func (f *matrixFixture) freshGroup() string {
	return string(f.e.db.Client.SecurityGroup.Create().SetName(f.unique("Matrix group")).SaveX(f.ctx).ID)
}

func (f *matrixFixture) freshAPIKey() string {
	_, k, err := f.e.dir.CreateAPIKey(f.ctx, pulid.ID(f.svcUser), f.unique("key"))
	if err != nil {
		f.t.Fatalf("creating an API key: %v", err)
	}
	return string(k.ID)
}

func (f *matrixFixture) freshPatient() string {
	x := f.unique("mp")
	var out struct{ UpsertPatient struct{ ID string } }
	f.e.ok(demo.IntegrationKey, `mutation($x: String!) { upsertPatient(input: {externalID: $x, patientNumber: $x, firstName: "Mat", lastName: "Rix", mobile: "+61400000099"}) { id } }`,
		map[string]any{"x": x}, &out)
	return out.UpsertPatient.ID
}

func (f *matrixFixture) freshPortalPatient() string {
	x := f.unique("mpp")
	var out struct{ UpsertPatient struct{ ID string } }
	f.e.ok(demo.IntegrationKey, `mutation($x: String!, $e: String!) { upsertPatient(input: {externalID: $x, patientNumber: $x, firstName: "Mat", lastName: "Rix", email: $e}) { id } }`,
		map[string]any{"x": x, "e": x + "@patients.test"}, &out)
	return out.UpsertPatient.ID
}

func (f *matrixFixture) freshBooking() string {
	return string(f.e.db.Client.Booking.Create().SetExternalID(f.unique("bk")).SetPatientID(pulid.ID(f.olivia)).
		SetDoctorID(pulid.ID(f.chen)).SetStartsAt(f.e.clock.Now().Add(72 * time.Hour)).SetStatus("PENDING").SaveX(f.ctx).ID)
}

func (f *matrixFixture) freshAction() string {
	var out struct {
		AddProgramAction struct{ Actions []struct{ ID string } }
	}
	f.e.ok(f.tok[pPCM], `mutation($id: ID!) { addProgramAction(input: {programID: $id, type: PAUSE, offset: 60, unit: DAYS, relation: AFTER}) { actions { id } } }`,
		map[string]any{"id": f.program}, &out)
	as := out.AddProgramAction.Actions
	return as[len(as)-1].ID
}

func (f *matrixFixture) freshEnrollment(paused bool) string {
	id := f.e.enroll(f.tok[pPCM], f.program, f.freshPatient(), nil)
	if paused {
		f.e.ok(f.tok[pPCM], `mutation($id: ID!) { pauseEnrollment(id: $id) { id } }`, map[string]any{"id": id}, nil)
	}
	return id
}

// missingLike is a well-formed id of the same type as id that names nothing.
func missingLike(id string) string { return string(pulid.New(id[:2])) }

// ------------------------------------------------------------------ cells

// outcome is what a cell answered: ok, or a code with the error's message
// and extensions (compared between foreign and missing ids).
type outcome struct {
	code   string
	detail string
}

func (o outcome) String() string {
	if o.code == ok {
		return ok
	}
	return fmt.Sprintf("%s (%s)", o.code, o.detail)
}

// errOutcome reads the first error; the rest of the errors say the same.
func errOutcome(errs []gqlError) outcome {
	e := errs[0]
	code := e.Code()
	if code == "" {
		code = "NO_CODE"
	}
	ext, _ := json.Marshal(e.Extensions)
	return outcome{code: code, detail: e.Message + " " + string(ext)}
}

// call runs one operation over HTTP. An HTTP refusal before GraphQL (401)
// is UNAUTHENTICATED whatever its body.
func (f *matrixFixture) call(token, doc string, vars map[string]any) outcome {
	body, _ := json.Marshal(map[string]any{"query": doc, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, f.e.srv.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("posting: %v", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	_ = json.Unmarshal(raw, &r)
	switch {
	case len(r.Errors) > 0:
		return errOutcome(r.Errors)
	case res.StatusCode == http.StatusUnauthorized:
		return outcome{code: "UNAUTHENTICATED", detail: fmt.Sprintf("HTTP 401 %s", raw)}
	case res.StatusCode != http.StatusOK:
		return outcome{code: fmt.Sprintf("HTTP_%d", res.StatusCode), detail: string(raw)}
	}
	return outcome{code: ok}
}

// cell is one run: a row, a principal and an id variant.
type cell struct {
	row     *matrixRow
	p       string
	variant string
	id      string
	want    string
	got     outcome
}

func (c *cell) name() string { return fmt.Sprintf("%s as %s (id %s)", c.row.field, c.p, c.variant) }

// cellsOf expands a row into its cells (ids are made when the cell runs).
func cellsOf(r *matrixRow) ([]*cell, error) {
	want, err := parseWant(r.want)
	if err != nil {
		return nil, err
	}
	var foreign, missing map[string]string
	if r.foreign != "" {
		if foreign, err = parseWant(r.foreign); err != nil {
			return nil, err
		}
	}
	if r.missing != "" {
		if missing, err = parseWant(r.missing); err != nil {
			return nil, err
		}
	}
	var out []*cell
	for _, p := range matrixPrincipals {
		if r.id == nil {
			out = append(out, &cell{row: r, p: p, variant: vNone, want: want[p]})
			continue
		}
		out = append(out, &cell{row: r, p: p, variant: vVisible, want: want[p]})
		fw, mw := otherID(want[p]), otherID(want[p])
		if foreign != nil {
			fw = foreign[p]
		}
		if missing != nil {
			mw = missing[p]
		}
		out = append(out, &cell{row: r, p: p, variant: vForeign, want: fw}, &cell{row: r, p: p, variant: vMissing, want: mw})
	}
	return out, nil
}

// prepare picks the cell's id and token and builds its variables; it
// reports false for a foreign variant the id kind does not have.
func (f *matrixFixture) prepare(c *cell) (token string, vars map[string]any, run bool) {
	token = f.tok[c.p]
	if c.row.field == "Mutation.logout" {
		token = f.fresh(c.p)
	}
	if c.row.id != nil {
		switch c.variant {
		case vVisible:
			c.id = c.row.id.visible(f, c.p)
		case vForeign:
			if c.row.id.foreign == nil {
				return "", nil, false
			}
			if c.id = c.row.id.foreign(f, c.p); c.id == "" {
				return "", nil, false
			}
		case vMissing:
			c.id = missingLike(c.row.id.visible(f, c.p))
		}
	}
	return token, c.row.vars(f, c.p, c.id), true
}

// ------------------------------------------------------------ subscriptions

// subSocket is one principal's websocket, carrying all its subscription cells.
type subSocket struct {
	p      string
	c      *wsClient
	refuse outcome // set when connection_init was refused
	cells  map[string]*cell
	open   map[string]bool
}

// dialMatrix opens a graphql-transport-ws socket; a refused connection_init
// is reported as the outcome, not a failure.
func (f *matrixFixture) dialMatrix(token string) (*wsClient, *outcome) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(f.e.srv.URL, "http") + "/graphql"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		f.t.Fatalf("dialing websocket: %v", err)
	}
	f.t.Cleanup(func() { conn.CloseNow() })
	c := newWSClient(f.t, conn)
	init := map[string]any{}
	if token != "" {
		init["Authorization"] = "Bearer " + token
	}
	c.send(map[string]any{"type": "connection_init", "payload": init})
	msg, err := c.read(5 * time.Second)
	switch {
	case err != nil:
		o := outcome{code: "UNAUTHENTICATED", detail: "connection_init refused: " + err.Error()}
		return nil, &o
	case msg["type"] == "connection_ack":
		return c, nil
	case msg["type"] == "connection_error" || msg["type"] == "error":
		b, _ := json.Marshal(msg)
		o := outcome{code: "UNAUTHENTICATED", detail: string(b)}
		if containsCode(msg, "UNAUTHENTICATED") {
			return nil, &o
		}
		o.code = "INIT_ERROR"
		return nil, &o
	}
	f.t.Fatalf("after connection_init got %v", msg)
	return nil, nil
}

// frameOutcome classifies a subscription frame; done is false for frames
// that say nothing yet.
func frameOutcome(msg map[string]any) (outcome, bool) {
	switch msg["type"] {
	case "next":
		p, _ := msg["payload"].(map[string]any)
		if raw, has := p["errors"]; has && raw != nil {
			b, _ := json.Marshal(raw)
			var errs []gqlError
			_ = json.Unmarshal(b, &errs)
			if len(errs) > 0 {
				return errOutcome(errs), true
			}
		}
		return outcome{code: ok}, true
	case "error":
		b, _ := json.Marshal(msg["payload"])
		var errs []gqlError
		_ = json.Unmarshal(b, &errs)
		if len(errs) == 0 {
			return outcome{code: "NO_CODE", detail: string(b)}, true
		}
		return errOutcome(errs), true
	case "complete":
		return outcome{code: "COMPLETE", detail: "completed without an event or error"}, true
	}
	return outcome{}, false
}

// runSubscriptions runs the subscription cells: one socket per principal,
// every subscription on it, then events every accepted subscription of
// care staff receives; a subscription is ok when its first frame is an
// event, or when no error has come by the time the events have been
// delivered to the others (a refusal is sent before any event).
func (f *matrixFixture) runSubscriptions(t *testing.T, cells []*cell) {
	sockets := map[string]*subSocket{}
	for _, p := range matrixPrincipals {
		s := &subSocket{p: p, cells: map[string]*cell{}, open: map[string]bool{}}
		sockets[p] = s
		c, refused := f.dialMatrix(f.tok[p])
		if refused != nil {
			s.refuse = *refused
			continue
		}
		s.c = c
	}
	for i, c := range cells {
		s := sockets[c.p]
		_, vars, run := f.prepare(c)
		if !run {
			c.want = ""
			continue
		}
		if s.c == nil {
			c.got = s.refuse
			continue
		}
		id := fmt.Sprintf("c%d", i)
		s.cells[id] = c
		s.open[id] = true
		s.c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": c.row.doc, "variables": vars}})
	}
	// Events for every subscription a care-staff member may hold: a message
	// in the group and in a patient conversation, a rename of the group, a
	// notification to every fixture user.
	f.e.send(f.kimToken, f.group, "subscription probe", nil)
	f.e.send(f.kimToken, f.pcOlivia, "subscription probe", nil)
	f.e.ok(f.kimToken, `mutation($id: ID!) { updateCustomGroup(input: {channelID: $id, name: "Matrix group (probe)"}) { id } }`, map[string]any{"id": f.group}, nil)
	var to []string
	for _, p := range []string{pNoAccess, pStaff, pAdmin, pPCM, pDir} {
		to = append(to, f.users[p])
	}
	f.e.ok(demo.IntegrationKey, `mutation($u: [ID!]) { createNotification(input: {kind: ANNOUNCEMENT, title: "probe", userIDs: $u}) { id } }`, map[string]any{"u": to}, nil)

	// Every socket is read at once, so one silent subscription holds up
	// no other principal's; the bound ends early once all have answered.
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for _, p := range matrixPrincipals {
		s := sockets[p]
		if s.c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.collect(deadline)
		}()
	}
	wg.Wait()
}

// collect reads the socket's frames until every subscription has answered
// or the deadline passes; one that has not answered by then was accepted.
func (s *subSocket) collect(deadline time.Time) {
	for len(s.open) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		msg, err := s.c.read(left)
		if err == context.DeadlineExceeded {
			break
		}
		if err != nil {
			for id := range s.open {
				s.cells[id].got = outcome{code: "CLOSED", detail: err.Error()}
			}
			s.open = map[string]bool{}
			break
		}
		id, _ := msg["id"].(string)
		if !s.open[id] {
			continue
		}
		if o, done := frameOutcome(msg); done {
			s.cells[id].got = o
			delete(s.open, id)
		}
	}
	for id := range s.open {
		s.cells[id].got = outcome{code: ok}
	}
}

// ------------------------------------------------------------------- test

func TestAuthorizationMatrix(t *testing.T) {
	// Coverage: every schema field has a row, every row names a field.
	schema := generated.NewExecutableSchema(generated.Config{Resolvers: &graph.Resolver{}}).Schema()
	inSchema := map[string]bool{}
	for kind, def := range map[string]*ast.Definition{"Query": schema.Query, "Mutation": schema.Mutation, "Subscription": schema.Subscription} {
		if def == nil {
			continue
		}
		for _, fd := range def.Fields {
			if !strings.HasPrefix(fd.Name, "__") {
				inSchema[kind+"."+fd.Name] = true
			}
		}
	}
	rowFields := map[string]bool{}
	for _, r := range matrixTable {
		field, _, _ := strings.Cut(r.field, "/")
		rowFields[field] = true
		if !inSchema[field] {
			t.Errorf("the matrix has a row for %s, which is not in the schema", r.field)
		}
	}
	var missingRows []string
	for f := range inSchema {
		if !rowFields[f] {
			missingRows = append(missingRows, f)
		}
	}
	sort.Strings(missingRows)
	for _, f := range missingRows {
		t.Errorf("schema field %s has no row in the authorization matrix", f)
	}

	var cells []*cell
	for i := range matrixTable {
		cs, err := cellsOf(&matrixTable[i])
		if err != nil {
			t.Fatalf("row %s: %v", matrixTable[i].field, err)
		}
		cells = append(cells, cs...)
	}

	e := newEnv(t)
	start := time.Now()
	f := newMatrixFixture(t, e)
	t.Logf("fixture ready in %v", time.Since(start).Round(time.Millisecond))

	var subs, https []*cell
	for _, c := range cells {
		if strings.HasPrefix(c.row.field, "Subscription.") {
			subs = append(subs, c)
		} else {
			https = append(https, c)
		}
	}
	// Sign-outs last, so no other cell of the principal depends on them.
	sort.SliceStable(https, func(i, j int) bool {
		return https[i].row.field != "Mutation.logout" && https[j].row.field == "Mutation.logout"
	})
	f.runSubscriptions(t, subs)
	for _, c := range https {
		token, vars, run := f.prepare(c)
		if !run {
			c.want = ""
			continue
		}
		c.got = f.call(token, c.row.doc, vars)
	}

	// Compare, and check a foreign id and a missing one answer alike.
	ran, mismatches := 0, 0
	byKey := map[string]*cell{}
	for _, c := range cells {
		if c.want == "" {
			continue // a variant this id kind does not have
		}
		ran++
		byKey[c.row.field+"|"+c.p+"|"+c.variant] = c
		if c.got.code != c.want {
			mismatches++
			t.Errorf("MISMATCH %s: got %s, want %s", c.name(), c.got, c.want)
		}
	}
	leaks := 0
	for _, c := range cells {
		if c.variant != vForeign || c.want == "" || c.want == ok {
			continue
		}
		m := byKey[c.row.field+"|"+c.p+"|"+vMissing]
		if m == nil || m.want != c.want {
			continue
		}
		if c.got != m.got {
			leaks++
			t.Errorf("LEAK %s as %s: a foreign id answers %s, a missing one %s", c.row.field, c.p, c.got, m.got)
		}
	}
	t.Logf("authorization matrix: %d fields, %d rows, %d cells run, %d mismatches, %d foreign/missing differences (%v)",
		len(inSchema), len(matrixTable), ran, mismatches, leaks, time.Since(start).Round(time.Millisecond))
}

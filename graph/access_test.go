package graph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/viewer"
)

// seedPrivate creates rows that belong to one user and must stay invisible
// to others: a label of Dr Chen's, a channel between Chen and Patel with a
// message, and a user with no permissions at all.
func seedPrivate(t *testing.T, e *env) (label, channel, message, loner string) {
	t.Helper()
	ctx := viewer.NewSystemContext(context.Background(), "test seed")
	c := e.db.Client
	chen := c.User.Query().Where(userEmail(demo.ChenEmail)).OnlyX(ctx)
	patel := c.User.Query().Where(userEmail(demo.PatelEmail)).OnlyX(ctx)
	l := c.Label.Create().SetOwnerID(chen.ID).SetName("Follow up").SaveX(ctx)
	ch := c.Channel.Create().SetKind("INDIVIDUAL").SetName("").SetLastSeq(1).SetMessageCount(1).SaveX(ctx)
	c.ChannelMember.Create().SetChannelID(ch.ID).SetUserID(chen.ID).SaveX(ctx)
	c.ChannelMember.Create().SetChannelID(ch.ID).SetUserID(patel.ID).SaveX(ctx)
	m := c.Message.Create().SetChannelID(ch.ID).SetSeq(1).SetSenderID(chen.ID).SetBody("Can you see Mrs Brown at 3?").SaveX(ctx)
	pw := c.User.Query().Where(userEmail(demo.KimEmail)).OnlyX(ctx).PasswordHash
	lon := c.User.Create().SetName("Casey Locum").SetEmail("locum@demo.clinic").SetPasswordHash(pw).SaveX(ctx)
	return string(l.ID), string(ch.ID), string(m.ID), string(lon.ID)
}

func TestNodeHonoursAccessRules(t *testing.T) {
	e := newEnv(t)
	label, channel, message, loner := seedPrivate(t, e)
	chen := e.login(demo.ChenEmail)
	patel := e.login(demo.PatelEmail)
	kim := e.login(demo.KimEmail)
	locum := e.login("locum@demo.clinic")
	var session struct{ Sessions []struct{ ID string } }
	e.ok(chen.AccessToken, `{ sessions { id } }`, nil, &session)
	chenSession := session.Sessions[0].ID

	const node = `query($id: ID!) { node(id: $id) { id __typename } }`
	cases := []struct {
		name  string
		token string
		id    string
		code  string // "" means visible
	}{
		{"owner sees own label", chen.AccessToken, label, ""},
		{"colleague cannot see label", patel.AccessToken, label, "NOT_FOUND"},
		{"integration cannot see label", demo.IntegrationKey, label, "NOT_FOUND"},
		{"member sees channel", patel.AccessToken, channel, ""},
		{"non-member cannot see channel", kim.AccessToken, channel, "NOT_FOUND"},
		{"member sees message", patel.AccessToken, message, ""},
		{"non-member cannot see message", kim.AccessToken, message, "NOT_FOUND"},
		{"integration cannot read messages", demo.IntegrationKey, message, "NOT_FOUND"},
		{"owner sees own session", chen.AccessToken, chenSession, ""},
		{"others cannot see a session", patel.AccessToken, chenSession, "NOT_FOUND"},
		{"staff see colleagues", kim.AccessToken, chen.User.ID, ""},
		{"user without permissions sees self", locum.AccessToken, loner, ""},
		{"user without permissions cannot see others", locum.AccessToken, chen.User.ID, "NOT_FOUND"},
		{"anonymous sees nothing", "", chen.User.ID, "UNAUTHENTICATED"},
		{"malformed id", chen.AccessToken, "us'; DROP TABLE users; --", "NOT_FOUND"},
		{"unknown prefix", chen.AccessToken, "zz01JD3F4M5X8Q9R2T6V7W8Y9Z0A", "NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			if tc.code != "" {
				e.fails(tc.token, node, map[string]any{"id": tc.id}, tc.code)
				return
			}
			var out struct{ Node *struct{ ID string } }
			e.ok(tc.token, node, map[string]any{"id": tc.id}, &out)
			if out.Node == nil || out.Node.ID != tc.id {
				t.Errorf("node = %+v, want %s", out.Node, tc.id)
			}
		})
	}
}

func TestEdgesDoNotLeak(t *testing.T) {
	e := newEnv(t)
	_, _, message, _ := seedPrivate(t, e)
	chen := e.login(demo.ChenEmail)
	patel := e.login(demo.PatelEmail)
	// Patel is a member and sees the message, but not Chen's label on it.
	ctx := viewer.NewSystemContext(context.Background(), "test seed")
	lbl := e.db.Client.Label.Query().OnlyX(ctx)
	e.db.Client.Label.UpdateOne(lbl).AddMessageIDs(pulidOf(message)).ExecX(ctx)
	const q = `query($id: ID!) { node(id: $id) { ... on Message { body labels { name } channel { members { email } } } } }`
	var chenView, patelView struct {
		Node struct {
			Body   string
			Labels []struct{ Name string }
		}
	}
	e.ok(chen.AccessToken, q, map[string]any{"id": message}, &chenView)
	e.ok(patel.AccessToken, q, map[string]any{"id": message}, &patelView)
	if len(chenView.Node.Labels) != 1 {
		t.Errorf("Chen sees labels %v on his message, want his one label", chenView.Node.Labels)
	}
	if len(patelView.Node.Labels) != 0 {
		t.Errorf("Patel sees Chen's labels %v, want none", patelView.Node.Labels)
	}
}

func TestDirectoryQueries(t *testing.T) {
	e := newEnv(t)
	_, _, _, _ = seedPrivate(t, e)
	kim := e.login(demo.KimEmail)
	locum := e.login("locum@demo.clinic")

	var users struct {
		Users struct {
			TotalCount int
			Edges      []struct{ Node struct{ Email string } }
		}
	}
	e.ok(kim.AccessToken, `{ users(search: "dr") { totalCount edges { node { email } } } }`, nil, &users)
	if users.Users.TotalCount != 2 {
		t.Errorf("search dr finds %d users, want the 2 doctors", users.Users.TotalCount)
	}
	e.ok(kim.AccessToken, `{ users { totalCount edges { node { email } } } }`, nil, &users)
	for _, edge := range users.Users.Edges {
		if strings.HasPrefix(edge.Node.Email, "integration@") {
			t.Errorf("the directory lists service account %s", edge.Node.Email)
		}
	}
	if users.Users.TotalCount != 6 {
		t.Errorf("directory has %d users, want 6 staff", users.Users.TotalCount)
	}
	// Paging: two pages of three cover everyone once.
	var p1, p2 struct {
		Users struct {
			Edges    []struct{ Node struct{ Email string } }
			PageInfo struct {
				EndCursor   string
				HasNextPage bool
			}
		}
	}
	const pageQ = `query($after: String) { users(first: 3, after: $after) { edges { node { email } } pageInfo { endCursor hasNextPage } } }`
	e.ok(kim.AccessToken, pageQ, nil, &p1)
	e.ok(kim.AccessToken, pageQ, map[string]any{"after": p1.Users.PageInfo.EndCursor}, &p2)
	if !p1.Users.PageInfo.HasNextPage || len(p1.Users.Edges) != 3 || len(p2.Users.Edges) != 3 || p2.Users.PageInfo.HasNextPage {
		t.Errorf("pages: %+v then %+v, want 3 + 3 with no third page", p1.Users, p2.Users)
	}

	var locumUsers struct{ Users struct{ TotalCount int } }
	e.ok(locum.AccessToken, `{ users { totalCount } }`, nil, &locumUsers)
	if locumUsers.Users.TotalCount != 1 {
		t.Errorf("a user without ACCESS_WHISPER sees %d users, want only themself", locumUsers.Users.TotalCount)
	}
	e.fails(locum.AccessToken, `{ securityGroups { name } }`, nil, "FORBIDDEN")
	e.fails(locum.AccessToken, `{ patients { totalCount } }`, nil, "FORBIDDEN")

	var groups struct {
		SecurityGroups []struct {
			Name        string
			Permissions []string
		}
	}
	e.ok(kim.AccessToken, `{ securityGroups { name permissions } }`, nil, &groups)
	perms := map[string]string{}
	for _, g := range groups.SecurityGroups {
		perms[g.Name] = strings.Join(g.Permissions, ",")
	}
	if perms["Default"] != "ACCESS_WHISPER" || !strings.Contains(perms["HMS-Administrator"], "WHISPER_ADMIN") {
		t.Errorf("group permissions = %v", perms)
	}

	var pats struct {
		Patients struct {
			TotalCount int
			Edges      []struct {
				Node struct{ PatientNumber, Initials string }
			}
		}
	}
	e.ok(kim.AccessToken, `{ patients(search: "olivia brown") { totalCount edges { node { patientNumber initials } } } }`, nil, &pats)
	if pats.Patients.TotalCount != 1 || pats.Patients.Edges[0].Node.PatientNumber != "P0001" || pats.Patients.Edges[0].Node.Initials != "OB" {
		t.Errorf("search olivia brown = %+v, want P0001 OB", pats.Patients)
	}
	e.ok(kim.AccessToken, `{ patients(search: "P001") { totalCount } }`, nil, &pats)
	if pats.Patients.TotalCount != 3 {
		t.Errorf("search P001 finds %d, want P0010-P0012", pats.Patients.TotalCount)
	}
}

func TestPreferences(t *testing.T) {
	e := newEnv(t)
	kim := e.login(demo.KimEmail)
	var out struct {
		UpdatePreferences struct {
			Preferences struct{ KeepHidden, NeverReceiveDirect, OpenOnNewMessage bool }
		}
	}
	e.ok(kim.AccessToken, `mutation { updatePreferences(input: {keepHidden: true, neverReceiveDirect: true}) {
		preferences { keepHidden neverReceiveDirect openOnNewMessage } } }`, nil, &out)
	p := out.UpdatePreferences.Preferences
	if !p.KeepHidden || !p.NeverReceiveDirect || !p.OpenOnNewMessage {
		t.Errorf("preferences = %+v, want keepHidden and neverReceiveDirect on, openOnNewMessage untouched (on)", p)
	}
	e.fails("", `mutation { updatePreferences(input: {keepHidden: true}) { id } }`, nil, "UNAUTHENTICATED")
}

// TestMembershipRulesAtTheDataLayer checks the membership rules directly
// against the ent client, as a member: no resolver can add a third person to
// an individual channel, or anyone to a group channel.
func TestMembershipRulesAtTheDataLayer(t *testing.T) {
	e := newEnv(t)
	chen, patel, kim := e.login(demo.ChenEmail), e.login(demo.PatelEmail), e.login(demo.KimEmail)
	ind := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID}})
	grp := e.open(chen.AccessToken, map[string]any{"securityGroupIDs": []string{e.groupID(chen.AccessToken, "Doctors")}})
	custom := e.open(chen.AccessToken, map[string]any{"userIDs": []string{patel.User.ID, kim.User.ID}})
	ctx := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Staff, UserID: pulidOf(chen.User.ID),
		Perms: viewer.PermSet(viewer.AccessWhisper)})
	admin := e.userID(chen.AccessToken, demo.AdminEmail)
	for name, tc := range map[string]struct {
		channel string
		allowed bool
	}{
		"third member of an individual channel": {ind.ID, false},
		"member of a group channel":             {grp.ID, false},
		"member of a custom group":              {custom.ID, true},
	} {
		t.Run(name, func(t *testing.T) {
			err := e.db.Client.ChannelMember.Create().SetChannelID(pulidOf(tc.channel)).SetUserID(pulidOf(admin)).Exec(ctx)
			if got := err == nil; got != tc.allowed {
				t.Errorf("allowed = %v (%v), want %v", got, err, tc.allowed)
			}
		})
	}
}

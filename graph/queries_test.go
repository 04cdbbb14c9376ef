package graph_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/viewer"
)

// countingDriver counts the statements the request path sends to the
// database, in and out of transactions.
type countingDriver struct {
	dialect.Driver
	n *atomic.Int64
}

func (d countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Exec(ctx, query, args, v)
}

func (d countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Query(ctx, query, args, v)
}

func (d countingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return countingTx{Tx: tx, n: d.n}, nil
}

// sqlConn is what entsql's driver and transactions offer besides
// dialect.Driver, and the services use for raw statements.
type sqlConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (d countingDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	d.n.Add(1)
	return d.Driver.(sqlConn).ExecContext(ctx, query, args...)
}

func (d countingDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	d.n.Add(1)
	return d.Driver.(sqlConn).QueryContext(ctx, query, args...)
}

func (d countingDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	tx, err := d.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	}).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return countingTx{Tx: tx, n: d.n}, nil
}

func (t countingTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t.n.Add(1)
	return t.Tx.(sqlConn).ExecContext(ctx, query, args...)
}

func (t countingTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	t.n.Add(1)
	return t.Tx.(sqlConn).QueryContext(ctx, query, args...)
}

type countingTx struct {
	dialect.Tx
	n *atomic.Int64
}

func (t countingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.n.Add(1)
	return t.Tx.Exec(ctx, query, args, v)
}

func (t countingTx) Query(ctx context.Context, query string, args, v any) error {
	t.n.Add(1)
	return t.Tx.Query(ctx, query, args, v)
}

// newCountingEnv is newEnv whose request path counts its statements.
func newCountingEnv(t *testing.T) (*env, *atomic.Int64) {
	n := new(atomic.Int64)
	e := newEnv(t, withRequestClient(func(db *store.DB) *ent.Client {
		return ent.NewClient(ent.Driver(countingDriver{Driver: entsql.OpenDB(string(db.Dialect), db.SQL), n: n}))
	}))
	return e, n
}

// statements runs an operation that must succeed and returns how many
// statements it took.
func (e *env) statements(n *atomic.Int64, token, query string, vars map[string]any, out any) int64 {
	e.t.Helper()
	e.ok(token, query, vars, nil) // warm the session check
	before := n.Load()
	e.ok(token, query, vars, out)
	return n.Load() - before
}

// addStaff creates extra staff users in the Default group.
func (e *env) addStaff(count int) []string {
	e.t.Helper()
	ctx := viewer.NewSystemContext(context.Background(), "test")
	def := e.db.Client.SecurityGroup.Query().Where(securitygroup.Name("Default")).OnlyX(ctx)
	var ids []string
	for i := range count {
		u := e.db.Client.User.Create().
			SetName(fmt.Sprintf("Extra %02d", i)).
			SetEmail(fmt.Sprintf("extra%02d@demo.clinic", i)).
			AddSecurityGroups(def).
			SaveX(ctx)
		ids = append(ids, string(u.ID))
	}
	return ids
}

func TestUsersPageStatementsDoNotGrowWithRows(t *testing.T) {
	e, n := newCountingEnv(t)
	e.addStaff(10)
	admin := e.login(demo.AdminEmail)
	const q = `query($n: Int) { users(first: $n) { edges { node { name permissions securityGroups { name } } } } }`
	type page struct {
		Users struct {
			Edges []struct {
				Node struct {
					Name        string
					Permissions []string
				}
			}
		}
	}
	var small, large page
	few := e.statements(n, admin.AccessToken, q, map[string]any{"n": 2}, &small)
	many := e.statements(n, admin.AccessToken, q, map[string]any{"n": 15}, &large)
	if len(small.Users.Edges) != 2 || len(large.Users.Edges) != 15 {
		t.Fatalf("pages of %d and %d users, want 2 and 15", len(small.Users.Edges), len(large.Users.Edges))
	}
	for _, edge := range large.Users.Edges {
		if len(edge.Node.Permissions) == 0 {
			t.Errorf("%s has no permissions, want those of the Default group at least", edge.Node.Name)
		}
	}
	if many != few {
		t.Errorf("users page of 2 took %d statements, of 15 took %d; want the same (no query per user)", few, many)
	}
}

func TestChannelsPageStatementsDoNotGrowWithRows(t *testing.T) {
	e, n := newCountingEnv(t)
	others := e.addStaff(8)
	chen := e.login(demo.ChenEmail)
	for i, id := range others {
		var open struct{ OpenConversation struct{ ID string } }
		e.ok(chen.AccessToken, `mutation($u: ID!) { openConversation(input: {userIDs: [$u]}) { id } }`,
			map[string]any{"u": id}, &open)
		e.ok(chen.AccessToken, `mutation($c: ID!, $b: String!) { sendMessage(input: {channelID: $c, body: $b}) { id } }`,
			map[string]any{"c": open.OpenConversation.ID, "b": fmt.Sprintf("hello %02d", i)}, nil)
	}
	var groups struct{ SecurityGroups []struct{ ID, Name string } }
	e.ok(chen.AccessToken, `{ securityGroups { id name } }`, nil, &groups)
	for _, g := range groups.SecurityGroups {
		if g.Name != "Doctors" && g.Name != "Default" {
			continue
		}
		var open struct{ OpenConversation struct{ ID string } }
		e.ok(chen.AccessToken, `mutation($g: ID!) { openConversation(input: {securityGroupIDs: [$g]}) { id } }`,
			map[string]any{"g": g.ID}, &open)
		e.ok(chen.AccessToken, `mutation($c: ID!) { sendMessage(input: {channelID: $c, body: "to the group"}) { id } }`,
			map[string]any{"c": open.OpenConversation.ID}, nil)
	}
	const q = `query($n: Int) { channels(first: $n, filter: {includeHidden: true}) { edges { node {
		kind name unreadCount counterpart { name } lastMessage { body } securityGroup { name } } } } }`
	type page struct {
		Channels struct {
			Edges []struct {
				Node struct {
					Kind          string
					Name          string
					Counterpart   *struct{ Name string }
					LastMessage   *struct{ Body string }
					SecurityGroup *struct{ Name string }
				}
			}
		}
	}
	var small, large page
	few := e.statements(n, chen.AccessToken, q, map[string]any{"n": 2}, &small)
	many := e.statements(n, chen.AccessToken, q, map[string]any{"n": 50}, &large)
	if len(small.Channels.Edges) != 2 || len(large.Channels.Edges) <= len(others) {
		t.Fatalf("pages of %d and %d channels, want 2 and more than %d", len(small.Channels.Edges), len(large.Channels.Edges), len(others))
	}
	individual, grouped := 0, 0
	for _, edge := range large.Channels.Edges {
		c := edge.Node
		if c.Kind == "GROUP" {
			if c.SecurityGroup != nil && c.SecurityGroup.Name == "" {
				t.Errorf("group channel %q has a security group without a name", c.Name)
			}
			if c.SecurityGroup != nil {
				grouped++
			}
		}
		if c.Kind != "INDIVIDUAL" {
			continue
		}
		individual++
		if c.Counterpart == nil || c.Counterpart.Name != c.Name {
			t.Errorf("individual channel %q has counterpart %+v, want the other person, named like the channel", c.Name, c.Counterpart)
		}
		if c.LastMessage == nil || c.LastMessage.Body == "" {
			t.Errorf("channel %q has last message %+v, want the message sent", c.Name, c.LastMessage)
		}
	}
	if individual < len(others) {
		t.Errorf("%d individual channels listed, want at least %d", individual, len(others))
	}
	if grouped < 2 {
		t.Errorf("no group channel with its security group listed, want Dr Chen's group channels")
	}
	if many != few {
		t.Errorf("channels page of 2 took %d statements, of %d took %d; want the same (no query per channel)", few, len(large.Channels.Edges), many)
	}
}

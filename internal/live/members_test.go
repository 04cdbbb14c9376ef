package live_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/directory"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// expect reads stream until a message with body want arrives, failing if
// one of never comes first (the stream is in release order, so a message
// released before want and not delivered by then never is).
func expect(t *testing.T, stream <-chan *ent.Message, want string, never ...string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-stream:
			if !ok {
				t.Fatalf("the stream ended waiting for %q", want)
			}
			if slices.Contains(never, m.Body) {
				t.Fatalf("%q was delivered to a viewer who was no longer a member", m.Body)
			}
			if m.Body == want {
				return
			}
		case <-timeout:
			t.Fatalf("%q never arrived", want)
		}
	}
}

// TestKeptMembersFollowEveryMembershipWriter checks that the hub's kept
// member sets never decide a release on a membership that changed: through
// each kind of writer — a custom group's members, a security group's
// members (its group channel follows), deactivation and reactivation, and
// SQL that bypasses ent — a member removed before a send never receives it
// on their all-channels stream, and a member added before a send does. Each
// channel's set is kept by a delivery before the change.
func TestKeptMembersFollowEveryMembershipWriter(t *testing.T) {
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour})
	db, msgr, hub, as := f.db, f.msgr, f.hub, f.as
	chen, patel, kim, admin := as(demo.ChenEmail), as(demo.PatelEmail), as(demo.KimEmail), as(demo.AdminEmail)
	patelID, kimID := viewer.FromContext(patel).UserID, viewer.FromContext(kim).UserID
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	authn, err := auth.New(db.Client, auth.Config{Secret: []byte(strings.Repeat("k", 32))}, log)
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.New(db.Client, f.bus, authn, msgr, log, directory.Config{})
	send := func(ch pulid.ID, body string) {
		t.Helper()
		if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: ch, Body: body}); err != nil {
			t.Fatalf("sending %q: %v", body, err)
		}
	}
	subCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subscribe := func(as context.Context) <-chan *ent.Message {
		t.Helper()
		ctx, stop := context.WithCancel(as)
		context.AfterFunc(subCtx, stop)
		s, err := hub.Messages(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	patelStream, kimStream := subscribe(patel), subscribe(kim)

	dm, err := msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{patelID}})
	if err != nil {
		t.Fatal(err)
	}
	group, err := msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{patelID, kimID}})
	if err != nil {
		t.Fatal(err)
	}
	send(group.ID, "g1")
	expect(t, patelStream, "g1")
	expect(t, kimStream, "g1")

	// A custom group's members, changed by its member.
	if _, err := msgr.UpdateCustomGroup(chen, messenger.UpdateInput{ChannelID: group.ID, RemoveUserIDs: []pulid.ID{patelID}}); err != nil {
		t.Fatal(err)
	}
	send(group.ID, "g2")
	send(dm.ID, "dm1")
	expect(t, patelStream, "dm1", "g2")
	if _, err := msgr.UpdateCustomGroup(chen, messenger.UpdateInput{ChannelID: group.ID, AddUserIDs: []pulid.ID{patelID}}); err != nil {
		t.Fatal(err)
	}
	send(group.ID, "g3")
	expect(t, patelStream, "g3")

	// A security group's members: its group channel follows.
	doctors := db.Client.SecurityGroup.Query().Where(securitygroup.Name("Doctors")).OnlyIDX(viewer.NewSystemContext(context.Background(), "test"))
	doc, err := msgr.EnsureGroupChannel(admin, doctors)
	if err != nil {
		t.Fatal(err)
	}
	send(doc.ID, "d1")
	expect(t, patelStream, "d1")
	if _, err := dir.UpdateSecurityGroupMembers(admin, doctors, nil, []pulid.ID{patelID}); err != nil {
		t.Fatal(err)
	}
	send(doc.ID, "d2")
	send(dm.ID, "dm2")
	expect(t, patelStream, "dm2", "d2")
	if _, err := dir.UpdateSecurityGroupMembers(admin, doctors, []pulid.ID{patelID}, nil); err != nil {
		t.Fatal(err)
	}
	send(doc.ID, "d3")
	expect(t, patelStream, "d3")

	// Statements that bypass ent and its hooks.
	sctx := viewer.NewSystemContext(context.Background(), "test")
	q := "DELETE FROM channel_members WHERE channel_id = ? AND user_id = ?"
	if db.Dialect.IsPostgres() {
		q = "DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2"
	}
	if _, err := db.SQL.ExecContext(sctx, q, string(doc.ID), string(patelID)); err != nil {
		t.Fatal(err)
	}
	send(doc.ID, "d4")
	send(dm.ID, "dm3")
	expect(t, patelStream, "dm3", "d4")
	db.Client.ChannelMember.Create().SetChannelID(doc.ID).SetUserID(patelID).ExecX(sctx)
	send(doc.ID, "d5")
	expect(t, patelStream, "d5")

	// Deactivation takes Kim out of the custom group; reactivation puts
	// Kim back.
	send(group.ID, "g4")
	expect(t, kimStream, "g4")
	expect(t, patelStream, "g4")
	if _, err := dir.DeactivateUser(admin, kimID); err != nil {
		t.Fatal(err)
	}
	if db.Client.ChannelMember.Query().Where(channelmember.ChannelID(group.ID), channelmember.UserID(kimID)).ExistX(sctx) {
		t.Fatal("a deactivated user is still a member of the custom group")
	}
	send(group.ID, "g5")
	// Released to everyone at once: once Patel has it, whether Kim gets
	// it was decided, before Kim is back.
	expect(t, patelStream, "g5")
	if _, err := dir.ReactivateUser(admin, kimID); err != nil {
		t.Fatal(err)
	}
	send(group.ID, "g6")
	expect(t, kimStream, "g6", "g5")
}

// TestHubReadsMembersOnlyWhenTheyChange counts the hub's reads of members:
// releases to a channel whose membership did not change read none; a
// change makes the next release read that channel's members once.
func TestHubReadsMembersOnlyWhenTheyChange(t *testing.T) {
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour})
	db, msgr, hub, as := f.db, f.msgr, f.hub, f.as
	chen, patel, kim := as(demo.ChenEmail), as(demo.PatelEmail), as(demo.KimEmail)
	patelID, kimID := viewer.FromContext(patel).UserID, viewer.FromContext(kim).UserID
	var reads atomic.Int64
	db.Client.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			if _, ok := q.(*ent.ChannelMemberQuery); ok {
				if v := viewer.FromContext(ctx); v != nil && strings.HasPrefix(v.Reason, "live hub: read the members") {
					reads.Add(1)
				}
			}
			return next.Query(ctx, q)
		})
	}))
	group, err := msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{patelID, kimID}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(patel)
	defer cancel()
	stream, err := hub.Messages(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(body string) {
		t.Helper()
		if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: group.ID, Body: body}); err != nil {
			t.Fatal(err)
		}
		expect(t, stream, body)
	}
	send("first")
	if n := reads.Load(); n != 1 {
		t.Fatalf("the first release read members %d times, want 1", n)
	}
	for _, body := range []string{"second", "third", "fourth"} {
		send(body)
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("three more releases, membership unchanged: %d member reads in all, want 1", n)
	}
	if _, err := msgr.UpdateCustomGroup(chen, messenger.UpdateInput{ChannelID: group.ID, RemoveUserIDs: []pulid.ID{kimID}}); err != nil {
		t.Fatal(err)
	}
	send("after the change")
	send("and one more")
	if n := reads.Load(); n != 2 {
		t.Errorf("after a membership change: %d member reads in all, want 2", n)
	}
}

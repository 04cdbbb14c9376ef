package live_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// TestBadgeFirstEventReadsOnceAtDelivery: subscribing to unreadBadge reads
// nothing — the first event, read when it is delivered, is also where the
// stream's state starts (a reconnect storm read everything twice) — and
// that first event counts a message sent after the subscription began, and
// later messages still make badges due.
func TestBadgeFirstEventReadsOnceAtDelivery(t *testing.T) {
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour})
	db, msgr, hub, as := f.db, f.msgr, f.hub, f.as
	chen, patel := as(demo.ChenEmail), as(demo.PatelEmail)
	// queries counts the statements run as Patel (the badge's reads).
	var queries atomic.Int64
	pv := viewer.FromContext(patel)
	db.Client.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			if viewer.FromContext(ctx) == pv {
				queries.Add(1)
			}
			return next.Query(ctx, q)
		})
	}))
	conv, err := msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{viewer.FromContext(patel).UserID}})
	if err != nil {
		t.Fatal(err)
	}
	total := func(b *live.Badge) int {
		n, err := b.Total(patel)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The unread count now, from a first subscription.
	octx, ocancel := context.WithCancel(patel)
	other, err := hub.Badge(octx)
	if err != nil {
		t.Fatal(err)
	}
	start := total(<-other)
	ocancel()

	sctx, cancel := context.WithCancel(patel)
	defer cancel()
	before := queries.Load()
	badges, err := hub.Badge(sctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := queries.Load() - before; n != 0 {
		t.Errorf("subscribing ran %d queries, want none (the first event reads)", n)
	}
	first := <-badges
	if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: conv.ID, Body: "after subscribing"}); err != nil {
		t.Fatal(err)
	}
	before = queries.Load()
	if got := total(first); got != start+1 {
		t.Errorf("first event read at delivery says %d unread, want %d (it counts the message sent before it was read)", got, start+1)
	}
	if queries.Load() == before {
		t.Error("the first event's figures were not read at delivery")
	}
	if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: conv.ID, Body: "later"}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b := <-badges:
			if total(b) == start+2 {
				return
			}
		case <-timeout:
			t.Fatalf("no badge with %d unread after a later message", start+2)
		}
	}
}

// TestFirstBadgeReadsItsChannelsInOneStatement: a badge's figures come from
// two statements — its channels (the viewer's memberships with their read
// marks, and the patient conversations they see without one) and its
// notification counts — and each kind of line counts as it should: a
// care-team member's own channel from their read mark, a patient
// conversation they have not joined from its first message, a member's
// patient conversation from their read mark, and a portal patient's own
// conversation from the patient's read mark, without the staff channels.
func TestFirstBadgeReadsItsChannelsInOneStatement(t *testing.T) {
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour})
	db, msgr, hub, as := f.db, f.msgr, f.hub, f.as
	chen, patel := as(demo.ChenEmail), as(demo.PatelEmail)
	sctx := viewer.NewSystemContext(context.Background(), "test")
	pv := viewer.FromContext(patel)
	// Only the statements of the figures read for the event are counted:
	// they are read as reader, a copy of the viewer (the hub's own reloads
	// run as the subscription's context, after membership events).
	reader := *pv
	var queries atomic.Int64
	db.Client.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			if viewer.FromContext(ctx) == &reader {
				queries.Add(1)
			}
			return next.Query(ctx, q)
		})
	}))
	direct, err := msgr.Open(chen, messenger.OpenInput{UserIDs: []pulid.ID{pv.UserID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"one", "two"} {
		if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: direct.ID, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	olivia := db.Client.Patient.Query().Where(patient.Email(demo.PortalEmails[0])).OnlyX(sctx)
	liam := db.Client.Patient.Query().Where(patient.IDNEQ(olivia.ID)).FirstX(sctx)
	unjoined, err := msgr.StartPatientConversation(chen, messenger.StartPatientInput{PatientID: olivia.ID, Topic: "Results", Body: "first"})
	if err != nil {
		t.Fatal(err)
	}
	joined, err := msgr.StartPatientConversation(patel, messenger.StartPatientInput{PatientID: olivia.ID, Topic: "Referral", Body: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := msgr.Send(chen, messenger.SendInput{ChannelID: joined.ID, Body: "reply"}); err != nil {
		t.Fatal(err)
	}
	others, err := msgr.StartPatientConversation(chen, messenger.StartPatientInput{PatientID: liam.ID, Topic: "Bloods", Body: "about Liam"})
	if err != nil {
		t.Fatal(err)
	}

	// lines subscribes as ctx and reads the first event's lines as rctx.
	lines := func(ctx, rctx context.Context) map[pulid.ID]int {
		t.Helper()
		bctx, cancel := context.WithCancel(ctx)
		defer cancel()
		badges, err := hub.Badge(bctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := (<-badges).Counts(rctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[pulid.ID]int{}
		for _, l := range c.Channels {
			out[l.Channel.ID] = l.Unread
		}
		return out
	}
	got := lines(patel, viewer.NewContext(context.Background(), &reader))
	if n := queries.Load(); n != 2 {
		t.Errorf("the first badge's figures ran %d statements, want 2 (its channels, its notifications)", n)
	}
	want := map[pulid.ID]int{direct.ID: 2, unjoined.ID: 1, joined.ID: 1, others.ID: 1}
	for id, n := range want {
		if got[id] != n {
			t.Errorf("Patel's badge counts %d unread in %s, want %d (all lines: %v)", got[id], id, n, got)
		}
	}

	// Olivia, signed in to the portal, has read nothing of either
	// conversation about her: one message in the one Chen started, two in
	// the one Patel started. Liam's conversation and the staff channels are
	// not hers.
	portal := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Patient, PatientID: olivia.ID})
	got = lines(portal, portal)
	if len(got) != 2 || got[unjoined.ID] != 1 || got[joined.ID] != 2 {
		t.Errorf("Olivia's badge lines are %v, want only %s: 1 and %s: 2", got, unjoined.ID, joined.ID)
	}
}

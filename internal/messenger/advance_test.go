package messenger

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// The send path checks membership inside its single UPDATE … RETURNING
// (advance) instead of asking the Message policy first. This proves the
// store primitive and the rulebook give the same answer, for every kind of
// principal: a member, a non-member, a removed member, a portal patient in
// their own conversation, in another patient's and in a staff channel. Each
// attempt runs in a transaction that is rolled back, so the cases do not
// disturb each other.
func TestAdvanceAgreesWithTheMessagePolicy(t *testing.T) {
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test seed")
	c := db.Client
	staff := func(name, email string) *viewer.Viewer { return staffViewer(sctx, c, name, email) }
	member, outsider, leaver := staff("Dr Chen", "chen@x.test"), staff("Dr Patel", "patel@x.test"), staff("Kim", "kim@x.test")
	group := c.Channel.Create().SetKind(channel.KindCUSTOM_GROUP).SetName("Rounds").SaveX(sctx)
	c.ChannelMember.Create().SetChannelID(group.ID).SetUserID(member.UserID).ExecX(sctx)
	c.ChannelMember.Create().SetChannelID(group.ID).SetUserID(leaver.UserID).ExecX(sctx)
	c.ChannelMember.Delete().Where(channelmember.ChannelID(group.ID), channelmember.UserID(leaver.UserID)).ExecX(sctx)

	pat := func(n string) *ent.Patient {
		return c.Patient.Create().SetExternalID("x" + n).SetPatientNumber(n).SetFirstName("Pat").SetLastName(n).SaveX(sctx)
	}
	olivia, liam := pat("P1"), pat("P2")
	conv := func(p *ent.Patient) *ent.Channel {
		return c.Channel.Create().SetKind(channel.KindPATIENT).SetPatientID(p.ID).SetTopic("Results").SaveX(sctx)
	}
	own, other := conv(olivia), conv(liam)
	portal := &viewer.Viewer{Kind: viewer.Patient, PatientID: olivia.ID}

	s := quietService(db)
	cases := []struct {
		name string
		v    *viewer.Viewer
		ch   pulid.ID
		want bool
	}{
		{"member", member, group.ID, true},
		{"non-member", outsider, group.ID, false},
		{"removed member", leaver, group.ID, false},
		{"patient in their own conversation", portal, own.ID, true},
		{"patient in another patient's conversation", portal, other.ID, false},
		{"patient in a staff channel", portal, group.ID, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vctx := viewer.NewContext(ctx, tc.v)
			primitive := attempt(t, c, func(tx *ent.Tx) (bool, error) {
				if tc.v.Kind == viewer.Patient {
					// The patient's send reads the channel as the patient,
					// then advances it without a member.
					if _, err := tx.Channel.Query().Where(channel.ID(tc.ch)).Only(vctx); ent.IsNotFound(err) {
						return false, nil
					} else if err != nil {
						return false, err
					}
					a, err := s.advance(vctx, tx.Client(), tc.ch, "", false)
					return a.ok, err
				}
				a, err := s.advance(vctx, tx.Client(), tc.ch, tc.v.UserID, true)
				return a.ok, err
			})
			policy := attempt(t, c, func(tx *ent.Tx) (bool, error) {
				create := tx.Message.Create().SetChannelID(tc.ch).SetSeq(1).SetBody("hello")
				if tc.v.Kind == viewer.Patient {
					create.SetSenderPatientID(tc.v.PatientID)
				} else {
					create.SetSenderID(tc.v.UserID)
				}
				err := create.Exec(vctx)
				if errors.Is(err, privacy.Deny) {
					return false, nil
				}
				return err == nil, err
			})
			if primitive != policy || policy != tc.want {
				t.Errorf("advance allows = %v, policy allows = %v, want both %v", primitive, policy, tc.want)
			}
		})
	}
}

// attempt runs fn in a transaction that is always rolled back.
func attempt(t *testing.T, c *ent.Client, fn func(tx *ent.Tx) (bool, error)) bool {
	t.Helper()
	tx, err := c.Tx(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	ok, err := fn(tx)
	if err != nil {
		t.Fatalf("attempt: %v", err)
	}
	return ok
}

// A send finds its sender's membership under the channel's lock once: its
// statement says the membership holds as of the lock, and the Message
// policy takes that finding (for that channel and that sender only)
// instead of reading the membership again.
func TestASendFindsTheMembershipOnceUnderTheLock(t *testing.T) {
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test seed")
	c := db.Client
	staff := func(name, email string) *viewer.Viewer { return staffViewer(sctx, c, name, email) }
	member, outsider := staff("Dr Chen", "chen@x.test"), staff("Dr Patel", "patel@x.test")
	group := c.Channel.Create().SetKind(channel.KindCUSTOM_GROUP).SetName("Rounds").SaveX(sctx)
	elsewhere := c.Channel.Create().SetKind(channel.KindCUSTOM_GROUP).SetName("Theatre").SaveX(sctx)
	c.ChannelMember.Create().SetChannelID(group.ID).SetUserID(member.UserID).ExecX(sctx)
	s := quietService(db)

	if !attempt(t, c, func(tx *ent.Tx) (bool, error) {
		a, err := s.advance(viewer.NewContext(ctx, member), tx.Client(), group.ID, member.UserID, true)
		return a.ok && a.memberLocked, err
	}) {
		t.Error("a member's send did not find the membership as of the lock")
	}

	post := func(v *viewer.Viewer, proofChannel, proofUser pulid.ID) bool {
		return attempt(t, c, func(tx *ent.Tx) (bool, error) {
			vctx := rule.WithLockedMembership(viewer.NewContext(ctx, v), proofChannel, proofUser, channel.KindCUSTOM_GROUP)
			err := tx.Message.Create().SetChannelID(group.ID).SetSeq(1).SetBody("hello").SetSenderID(v.UserID).Exec(vctx)
			if errors.Is(err, privacy.Deny) {
				return false, nil
			}
			return err == nil, err
		})
	}
	// The finding is taken as it stands — that is what spares the read, so
	// only a statement that holds the channel's lock may make one…
	if !post(outsider, group.ID, outsider.UserID) {
		t.Error("the policy read the membership again despite the send's finding")
	}
	// …and only for its own channel and sender: anyone else is read.
	if post(outsider, group.ID, member.UserID) {
		t.Error("a finding about another member let a non-member post")
	}
	if post(outsider, elsewhere.ID, outsider.UserID) {
		t.Error("a finding about another channel let a non-member post")
	}
	if !post(member, elsewhere.ID, member.UserID) {
		t.Error("a member was refused when the finding was about another channel")
	}
}

// The send reads the other party of an individual channel in the statement
// that advances it (PostgreSQL) or right after (SQLite): the fields the
// send and the auto-reply need arrive intact on both databases.
func TestAdvanceReadsTheOtherParty(t *testing.T) {
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test seed")
	c := db.Client
	until := time.Date(2031, 3, 4, 17, 30, 0, 0, time.UTC)
	me := c.User.Create().SetName("Dr Chen").SetEmail("chen@x.test").SaveX(sctx)
	them := c.User.Create().SetName("Dr Patel").SetEmail("patel@x.test").SetMobile("+15550100").
		SetNeverReceiveDirect(true).SetStaffAutoReply("Away until Monday").SetStaffAutoReplyUntil(until).SaveX(sctx)
	ch := c.Channel.Create().SetKind(channel.KindINDIVIDUAL).SaveX(sctx)
	c.ChannelMember.Create().SetChannelID(ch.ID).SetUserID(me.ID).ExecX(sctx)
	c.ChannelMember.Create().SetChannelID(ch.ID).SetUserID(them.ID).ExecX(sctx)

	s := quietService(db)
	v := &viewer.Viewer{Kind: viewer.Staff, UserID: me.ID, Perms: viewer.PermSet(viewer.AccessWhisper)}
	var got *ent.User
	attempt(t, c, func(tx *ent.Tx) (bool, error) {
		a, err := s.advance(viewer.NewContext(ctx, v), tx.Client(), ch.ID, me.ID, true)
		got = a.party
		return a.ok, err
	})
	switch {
	case got == nil:
		t.Fatal("no other party")
	case got.ID != them.ID || got.Name != "Dr Patel" || !got.NeverReceiveDirect:
		t.Errorf("party = %s %q never=%v, want %s %q never=true", got.ID, got.Name, got.NeverReceiveDirect, them.ID, "Dr Patel")
	case got.Mobile == nil || *got.Mobile != "+15550100":
		t.Errorf("party mobile = %v, want +15550100", got.Mobile)
	case got.StaffAutoReply == nil || *got.StaffAutoReply != "Away until Monday":
		t.Errorf("party auto-reply = %v", got.StaffAutoReply)
	case got.StaffAutoReplyUntil == nil || !got.StaffAutoReplyUntil.Equal(until):
		t.Errorf("party auto-reply until = %v, want %v", got.StaffAutoReplyUntil, until)
	}
}

// A transaction begun elsewhere (a directory change that posts membership
// notices in several channels) may take its id before it announces itself
// as a message writer, so the live stream may release positions above its
// id meanwhile. Every message it then writes — not only the first — must
// be placed above what was committed before it announced itself, or the
// live stream would skip it.
func TestLateAnnouncedTransactionPlacesEveryMessageAbove(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("SQLite serialises writers")
	}
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test")
	c := db.Client
	group := func(name string) pulid.ID {
		return c.Channel.Create().SetKind(channel.KindCUSTOM_GROUP).SetName(name).SaveX(sctx).ID
	}
	a, b, other := group("A"), group("B"), group("Other")
	s := quietService(db)

	// The caller's transaction takes its id first…
	late, err := c.Tx(sctx)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Rollback()
	var own int64
	rows, err := late.QueryContext(sctx, "SELECT pg_current_xact_id()::text::bigint")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	if err := rows.Scan(&own); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	// …a send commits meanwhile, above it…
	var committed int64
	if err := s.tx.Run(sctx, func(tx *ent.Tx, _ func(...pubsub.Event)) error {
		adv, err := s.advance(sctx, tx.Client(), other, "", false)
		committed = adv.txid
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if committed <= own {
		t.Fatalf("the committed send's stream id %d is not above the open transaction's id %d", committed, own)
	}
	// …then the caller's transaction writes in two channels.
	for _, ch := range []pulid.ID{a, b} {
		adv, err := s.advance(sctx, late.Client(), ch, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if adv.txid <= committed {
			t.Errorf("a message of the late transaction got stream id %d, not above %d committed before it announced itself", adv.txid, committed)
		}
	}
}

// A member removed while their send waits for the channel's lock cannot
// post: the send's UPDATE checks membership on a snapshot from before it
// waited, and the removal raised the channel's member_version, so the
// send's finding does not hold and the message policy reads the
// membership again after the lock.
func TestRemovalWhileASendWaitsRefusesTheSend(t *testing.T) {
	if !testdb.Postgres() {
		t.Skip("SQLite serialises writers: a send never waits on a removal in progress")
	}
	db := testdb.Open(t)
	ctx := context.Background()
	sctx := viewer.NewSystemContext(ctx, "test seed")
	c := db.Client
	chen := c.User.Create().SetName("Dr Chen").SetEmail("chen@x.test").SaveX(sctx)
	kim := c.User.Create().SetName("Kim").SetEmail("kim@x.test").SaveX(sctx)
	group := c.Channel.Create().SetKind(channel.KindCUSTOM_GROUP).SetName("Rounds").SaveX(sctx)
	c.ChannelMember.Create().SetChannelID(group.ID).SetUserID(chen.ID).ExecX(sctx)
	c.ChannelMember.Create().SetChannelID(group.ID).SetUserID(kim.ID).ExecX(sctx)
	s := quietService(db)

	// The removal holds the channel's row and has deleted Kim's membership…
	removal, err := c.Tx(sctx)
	if err != nil {
		t.Fatal(err)
	}
	defer removal.Rollback()
	if _, err := removal.ExecContext(sctx, "UPDATE channels SET updated_at = updated_at WHERE id = $1", group.ID); err != nil {
		t.Fatal(err)
	}
	removal.ChannelMember.Delete().Where(channelmember.ChannelID(group.ID), channelmember.UserID(kim.ID)).ExecX(sctx)

	// …while Kim's send waits for that row.
	kimCtx := viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.Staff, UserID: kim.ID, Perms: viewer.PermSet(viewer.AccessWhisper)})
	sent := make(chan error, 1)
	go func() {
		_, err := s.Send(kimCtx, SendInput{ChannelID: group.ID, Body: "still here?"})
		sent <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for waiting := 0; waiting == 0; {
		rows, err := c.QueryContext(sctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		_ = rows.Scan(&waiting)
		rows.Close()
		select {
		case err := <-sent:
			t.Fatalf("the send finished (%v) before the removal committed", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the send never waited for the channel's lock")
		}
	}
	if err := removal.Commit(); err != nil {
		t.Fatal(err)
	}
	err = <-sent
	// A denial of the rulebook, which the API answers as FORBIDDEN.
	if e, ok := apperr.As(err); !errors.Is(err, privacy.Deny) && (!ok || e.Code != apperr.Forbidden) {
		t.Errorf("a send by a member removed while it waited answered %v, want a denial", err)
	}
	if n := c.Message.Query().Where(message.SenderID(kim.ID)).CountX(sctx); n != 0 {
		t.Errorf("%d messages from the removed member were stored", n)
	}
}

// staffViewer creates a staff user who may use Whisper and returns them as
// a viewer.
func staffViewer(sctx context.Context, c *ent.Client, name, email string) *viewer.Viewer {
	u := c.User.Create().SetName(name).SetEmail(email).SaveX(sctx)
	return &viewer.Viewer{Kind: viewer.Staff, UserID: u.ID, Perms: viewer.PermSet(viewer.AccessWhisper)}
}

// quietService is a messenger over db with an in-process bus and no log.
func quietService(db *store.DB) *Service {
	return New(db.Client, pubsub.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Dialect: db.Dialect})
}

package messenger

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
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
	staff := func(name, email string) *viewer.Viewer {
		u := c.User.Create().SetName(name).SetEmail(email).SaveX(sctx)
		return &viewer.Viewer{Kind: viewer.Staff, UserID: u.ID, Perms: viewer.PermSet(viewer.AccessWhisper)}
	}
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

	s := New(c, pubsub.NewMemory(), slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Dialect: db.Dialect})
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

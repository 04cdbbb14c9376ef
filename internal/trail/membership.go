package trail

import (
	"context"
	"fmt"

	"entgo.io/ent"

	gen "github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/channelmember"
	"github.com/whisper-health/whisper/ent/membershipspan"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// RecordMembershipSpans keeps the membership history the audit log reads:
// creating a ChannelMember opens a span at the channel's current sequence
// number, deleting one closes the user's open span there. It runs in the
// mutation's own transaction, so history and membership never disagree.
func RecordMembershipSpans() ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			cm, ok := m.(*gen.ChannelMemberMutation)
			if !ok {
				return next.Mutate(ctx, m)
			}
			sctx := viewer.NewSystemContext(ctx, "trail: record membership history")
			switch {
			case cm.Op().Is(ent.OpCreate):
				v, err := next.Mutate(ctx, m)
				if err != nil {
					return v, err
				}
				chID, _ := cm.ChannelID()
				userID, _ := cm.UserID()
				seq, err := lastSeq(sctx, cm.Client(), chID)
				if err != nil {
					return nil, err
				}
				if err := cm.Client().MembershipSpan.Create().
					SetChannelID(chID).SetUserID(userID).SetJoinedSeq(seq).
					Exec(sctx); err != nil {
					return nil, fmt.Errorf("recording membership: %w", err)
				}
				return v, nil
			case cm.Op().Is(ent.OpDelete) || cm.Op().Is(ent.OpDeleteOne):
				ids, err := cm.IDs(sctx)
				if err != nil {
					return nil, err
				}
				rows, err := cm.Client().ChannelMember.Query().Where(channelmember.IDIn(ids...)).All(sctx)
				if err != nil {
					return nil, err
				}
				v, err := next.Mutate(ctx, m)
				if err != nil {
					return v, err
				}
				seqs := map[pulid.ID]int64{}
				for _, r := range rows {
					seq, ok := seqs[r.ChannelID]
					if !ok {
						if seq, err = lastSeq(sctx, cm.Client(), r.ChannelID); err != nil {
							return nil, err
						}
						seqs[r.ChannelID] = seq
					}
					if err := cm.Client().MembershipSpan.Update().
						Where(membershipspan.ChannelID(r.ChannelID), membershipspan.UserID(r.UserID), membershipspan.LeftSeqIsNil()).
						SetLeftSeq(seq).
						Exec(sctx); err != nil {
						return nil, fmt.Errorf("recording membership end: %w", err)
					}
				}
				return v, nil
			}
			return next.Mutate(ctx, m)
		})
	}
}

func lastSeq(ctx context.Context, c *gen.Client, ch pulid.ID) (int64, error) {
	got, err := c.Channel.Query().Where(channel.ID(ch)).Only(ctx)
	if gen.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading channel position: %w", err)
	}
	return got.LastSeq, nil
}

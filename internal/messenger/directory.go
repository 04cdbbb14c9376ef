package messenger

import (
	"context"
	"github.com/whisper-health/whisper/internal/rule"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
)

// UpdateSecurityGroupMembers adds and removes members of a security group
// (DIRECTORY_MANAGE, by policy) and, in the same transaction, brings the
// group's channel and every custom group that includes it in step.
func (s *Service) UpdateSecurityGroupMembers(ctx context.Context, groupID pulid.ID, add, remove []pulid.ID) (*ent.SecurityGroup, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	var g *ent.SecurityGroup
	err := s.tx.Run(ctx, func(tx *ent.Tx, emit func(...pubsub.Event)) error {
		// Adding members to a group that does not exist would fail on a
		// foreign key; say what is wrong instead.
		if _, err := tx.SecurityGroup.Get(ctx, groupID); err != nil {
			return err
		}
		var err error
		g, err = tx.SecurityGroup.UpdateOneID(groupID).
			AddMemberIDs(add...).
			RemoveMemberIDs(remove...).
			Save(ctx)
		if err != nil {
			return err
		}
		if _, err := s.ensureGroupChannelTx(ctx, tx.Client(), g.ID, emit); err != nil {
			return err
		}
		return s.SyncSecurityGroup(ctx, tx.Client(), g.ID, emit)
	})
	if err != nil {
		return nil, err
	}
	return g.Unwrap(), nil
}

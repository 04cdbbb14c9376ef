package messenger

import (
	"context"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
)

// The directory (users, security groups) changes who may be in which
// channel; these keep the messenger's channels in step, inside the
// directory's transaction (c is its client, emit collects the events to
// publish after commit). They run as the messenger worker: group channels
// belong to no one user.

// FollowSecurityGroup brings a security group's channel (created if
// missing) and every custom group that includes the group in step with the
// group's members.
func (s *Service) FollowSecurityGroup(ctx context.Context, c *ent.Client, groupID pulid.ID, emit func(...pubsub.Event)) error {
	if _, err := s.ensureGroupChannelTx(ctx, c, groupID, emit); err != nil {
		return err
	}
	return s.SyncSecurityGroup(ctx, c, groupID, emit)
}

// GroupDependents returns the channels whose members depend on a security
// group: its group channel and the custom groups that include it. Read them
// before the group is deleted, and SyncChannels them after.
func (s *Service) GroupDependents(ctx context.Context, c *ent.Client, groupID pulid.ID) ([]pulid.ID, error) {
	return c.Channel.Query().
		Where(channel.Or(
			channel.UniqueKey(groupKey(groupID)),
			channel.HasCustomGroupsWith(securitygroup.ID(groupID)),
			channel.UniqueKey(alertKey),
		)).
		IDs(system(ctx, "find the channels that follow a security group"))
}

// SyncChannels brings the given channels' members in step with what they
// are made of (a group channel whose group is gone ends up empty).
func (s *Service) SyncChannels(ctx context.Context, c *ent.Client, ids []pulid.ID, emit func(...pubsub.Event)) error {
	sctx := system(ctx, "bring channels in step with a directory change")
	chans, err := c.Channel.Query().Where(channel.IDIn(ids...)).All(sctx)
	if err != nil {
		return err
	}
	visited := map[pulid.ID]bool{}
	for _, ch := range chans {
		if _, err := s.resync(sctx, c, ch, emit, visited); err != nil {
			return err
		}
	}
	return nil
}

// SyncUser brings every channel a user belongs to through the directory —
// the group channels of their security groups, the custom groups that
// include them or their groups, and the alert channel — in step after the
// user was deactivated, reactivated or changed permissions: only active
// users with ACCESS_WHISPER stay.
func (s *Service) SyncUser(ctx context.Context, c *ent.Client, userID pulid.ID, emit func(...pubsub.Event)) error {
	sctx := system(ctx, "bring a user's group channels in step with their account")
	groups, err := c.SecurityGroup.Query().Where(securitygroup.HasMembersWith(user.ID(userID))).IDs(sctx)
	if err != nil {
		return err
	}
	keys := []string{alertKey}
	for _, g := range groups {
		keys = append(keys, groupKey(g))
	}
	ids, err := c.Channel.Query().
		Where(channel.Or(
			channel.UniqueKeyIn(keys...),
			channel.HasCustomGroupsWith(securitygroup.IDIn(groups...)),
			channel.HasCustomUsersWith(user.ID(userID)),
		)).
		IDs(sctx)
	if err != nil {
		return err
	}
	return s.SyncChannels(ctx, c, ids, emit)
}

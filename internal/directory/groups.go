package directory

import (
	"context"
	"fmt"
	"github.com/whisper-health/whisper/internal/txn"
	"slices"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/directorylogentry"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// GroupChange changes a security group; nil fields stay.
type GroupChange struct {
	ID          pulid.ID
	Name        *string
	Permissions *[]viewer.Permission
}

// CreateSecurityGroup creates a security group (and its group channel).
func (s *Service) CreateSecurityGroup(ctx context.Context, name string, perms []viewer.Permission) (*ent.SecurityGroup, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, apperr.Invalid("name", "name must not be empty")
	}
	grants := permNames(viewer.SortedPermissions(permNames(perms)))
	var g *ent.SecurityGroup
	err := s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		if err := groupNameFree(ctx, c, name, ""); err != nil {
			return err
		}
		var err error
		if g, err = c.SecurityGroup.Create().SetName(name).SetPermissions(grants).Save(ctx); err != nil {
			return err
		}
		if err := s.msgr.FollowSecurityGroup(ctx, c, g.ID, emit); err != nil {
			return err
		}
		return s.record(ctx, c, entry{action: directorylogentry.ActionGROUP_CREATED, group: g,
			detail: "permissions: " + list(grants)})
	})
	if err != nil {
		return nil, err
	}
	return g.Unwrap(), nil
}

// UpdateSecurityGroup renames a security group or replaces its
// permissions. Built-in groups keep their names. Members whose effective
// permissions change have their open sockets ended at once (they reconnect
// with the new permissions), and their channels follow.
func (s *Service) UpdateSecurityGroup(ctx context.Context, in GroupChange) (*ent.SecurityGroup, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	old, err := s.client.SecurityGroup.Get(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	var changes []string
	var name string
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
		switch {
		case name == "":
			return nil, apperr.Invalid("name", "name must not be empty")
		case name == old.Name:
			name = ""
		case IsBuiltIn(old.Name):
			return nil, apperr.New(apperr.Conflict, "the built-in group %s cannot be renamed", old.Name)
		default:
			changes = append(changes, fmt.Sprintf("name %q → %q", old.Name, name))
		}
	}
	var grants []string
	if in.Permissions != nil {
		grants = permNames(viewer.SortedPermissions(permNames(*in.Permissions)))
		if prev := permNames(viewer.SortedPermissions(old.Permissions)); !slices.Equal(prev, grants) {
			changes = append(changes, fmt.Sprintf("permissions %s → %s", list(prev), list(grants)))
		} else {
			grants = nil
			in.Permissions = nil
		}
	}
	if len(changes) == 0 {
		return old, nil
	}
	var g *ent.SecurityGroup
	var affected []pulid.ID
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		members, err := c.User.Query().Where(user.HasSecurityGroupsWith(securitygroup.ID(old.ID))).
			IDs(system(ctx, "find the members of a security group whose permissions change"))
		if err != nil {
			return err
		}
		before := map[pulid.ID][]viewer.Permission{}
		for _, m := range members {
			if before[m], err = permissionsOf(ctx, c, m); err != nil {
				return err
			}
		}
		upd := c.SecurityGroup.UpdateOneID(old.ID)
		if name != "" {
			if err := groupNameFree(ctx, c, name, old.ID); err != nil {
				return err
			}
			upd.SetName(name)
		}
		if in.Permissions != nil {
			upd.SetPermissions(grants)
		}
		if g, err = upd.Save(ctx); err != nil {
			return err
		}
		for _, m := range members {
			after, err := permissionsOf(ctx, c, m)
			if err != nil {
				return err
			}
			if !slices.Equal(before[m], after) {
				affected = append(affected, m)
			}
		}
		if name != "" || len(affected) > 0 {
			// The group channel is named after the group; ACCESS_WHISPER
			// decides who may stay in channels.
			if err := s.msgr.FollowSecurityGroup(ctx, c, g.ID, emit); err != nil {
				return err
			}
		}
		return s.record(ctx, c, entry{action: directorylogentry.ActionGROUP_UPDATED, group: g, detail: strings.Join(changes, "; ")})
	})
	if err != nil {
		return nil, err
	}
	s.endAccess(ctx, pubsub.EndAccessChanged, affected...)
	return g.Unwrap(), nil
}

// DeleteSecurityGroup deletes a security group; built-in groups are
// refused (CONFLICT). Its members leave its channel and the custom groups
// that included it, and lose its permissions at once.
func (s *Service) DeleteSecurityGroup(ctx context.Context, id pulid.ID) error {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return err
	}
	old, err := s.client.SecurityGroup.Get(ctx, id)
	if err != nil {
		return err
	}
	if IsBuiltIn(old.Name) {
		return apperr.New(apperr.Conflict, "the built-in group %s cannot be deleted", old.Name)
	}
	var members []pulid.ID
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		var err error
		members, err = c.User.Query().Where(user.HasSecurityGroupsWith(securitygroup.ID(id))).
			IDs(system(ctx, "find the members of a security group being deleted"))
		if err != nil {
			return err
		}
		chans, err := s.msgr.GroupDependents(ctx, c, id)
		if err != nil {
			return err
		}
		// Memberships and inclusions in custom groups go with the group.
		if err := c.SecurityGroup.UpdateOneID(id).ClearMembers().Exec(ctx); err != nil {
			return err
		}
		if err := c.SecurityGroup.DeleteOneID(id).Exec(ctx); err != nil {
			return err
		}
		if err := s.msgr.SyncChannels(ctx, c, chans, emit); err != nil {
			return err
		}
		return s.record(ctx, c, entry{action: directorylogentry.ActionGROUP_DELETED, group: old,
			detail: fmt.Sprintf("%d members", len(members))})
	})
	if err != nil {
		return err
	}
	s.endAccess(ctx, pubsub.EndAccessChanged, members...)
	return nil
}

// UpdateSecurityGroupMembers adds and removes members of a security group
// and, in the same transaction, brings the group's channel and every custom
// group that includes it in step. Members whose permissions change have
// their sockets ended.
func (s *Service) UpdateSecurityGroupMembers(ctx context.Context, groupID pulid.ID, add, remove []pulid.ID) (*ent.SecurityGroup, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	var g *ent.SecurityGroup
	var affected []pulid.ID
	err := s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		// Adding members to a group that does not exist would fail on a
		// foreign key; say what is wrong instead.
		if _, err := c.SecurityGroup.Get(ctx, groupID); err != nil {
			return err
		}
		touched := pulid.Dedupe(append(append([]pulid.ID{}, add...), remove...))
		before := map[pulid.ID][]viewer.Permission{}
		for _, u := range touched {
			p, err := permissionsOf(ctx, c, u)
			if ent.IsNotFound(err) {
				continue // the update below says which
			}
			if err != nil {
				return err
			}
			before[u] = p
		}
		var err error
		g, err = c.SecurityGroup.UpdateOneID(groupID).
			AddMemberIDs(add...).
			RemoveMemberIDs(remove...).
			Save(ctx)
		if err != nil {
			return err
		}
		for u, b := range before {
			after, err := permissionsOf(ctx, c, u)
			if err != nil {
				return err
			}
			if !slices.Equal(b, after) {
				affected = append(affected, u)
			}
		}
		if err := s.msgr.FollowSecurityGroup(ctx, c, g.ID, emit); err != nil {
			return err
		}
		var detail []string
		if len(add) > 0 {
			detail = append(detail, fmt.Sprintf("added %s", s.userNames(ctx, c, add)))
		}
		if len(remove) > 0 {
			detail = append(detail, fmt.Sprintf("removed %s", s.userNames(ctx, c, remove)))
		}
		return s.record(ctx, c, entry{action: directorylogentry.ActionGROUP_MEMBERS_CHANGED, group: g, detail: strings.Join(detail, "; ")})
	})
	if err != nil {
		return nil, err
	}
	s.endAccess(ctx, pubsub.EndAccessChanged, affected...)
	return g.Unwrap(), nil
}

// userNames lists users by name for the directory log.
func (s *Service) userNames(ctx context.Context, c *ent.Client, ids []pulid.ID) string {
	us, err := c.User.Query().Where(user.IDIn(ids...)).Order(ent.Asc(user.FieldName)).
		All(system(ctx, "name the users in a directory-log entry"))
	if err != nil {
		return fmt.Sprintf("%d users", len(ids))
	}
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = u.Name
	}
	return list(names)
}

// groupNameFree refuses a name another group already has (CONFLICT).
func groupNameFree(ctx context.Context, c *ent.Client, name string, self pulid.ID) error {
	taken, err := c.SecurityGroup.Query().Where(securitygroup.NameEqualFold(name), securitygroup.IDNEQ(self)).Exist(ctx)
	if err != nil {
		return err
	}
	if taken {
		return apperr.New(apperr.Conflict, "a security group named %q already exists", name)
	}
	return nil
}

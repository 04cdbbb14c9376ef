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
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// UserInput creates a staff user (createUser).
type UserInput struct {
	Name, Email      string
	Mobile, JobTitle *string
	SecurityGroupIDs []pulid.ID
}

// UserChange changes a staff user (updateUser); nil fields stay.
type UserChange struct {
	ID                                          pulid.ID
	Name, Email, Mobile, JobTitle               *string
	AddSecurityGroupIDs, RemoveSecurityGroupIDs []pulid.ID
}

// CreateUser adds a staff user, without a password (invite them to set
// one), to the given security groups; the groups' channels follow.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (*ent.User, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	name, email, err := profile(in.Name, in.Email)
	if err != nil {
		return nil, err
	}
	groups, err := s.groups(ctx, "securityGroupIDs", in.SecurityGroupIDs)
	if err != nil {
		return nil, err
	}
	var u *ent.User
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		if err := emailFree(ctx, c, email, ""); err != nil {
			return err
		}
		u, err = c.User.Create().
			SetName(name).SetEmail(email).
			SetNillableMobile(trimmed(in.Mobile)).SetNillableJobTitle(trimmed(in.JobTitle)).
			AddSecurityGroupIDs(in.SecurityGroupIDs...).
			Save(ctx)
		if err != nil {
			return err
		}
		for _, g := range groups {
			if err := s.msgr.FollowSecurityGroup(ctx, c, g.ID, emit); err != nil {
				return err
			}
		}
		return s.record(ctx, c, entry{action: directorylogentry.ActionUSER_CREATED, user: u,
			detail: fmt.Sprintf("email %s; groups: %s", email, groupNames(groups))})
	})
	if err != nil {
		return nil, err
	}
	return u.Unwrap(), nil
}

// UpdateUser changes a staff user's profile and security groups; the
// groups' channels and custom groups follow, and when the user's
// permissions change their open sockets end (they reconnect with the new
// permissions).
func (s *Service) UpdateUser(ctx context.Context, in UserChange) (*ent.User, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	return s.updateUser(ctx, in)
}

func (s *Service) updateUser(ctx context.Context, in UserChange) (*ent.User, error) {
	old, err := s.staff(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	add, err := s.groups(ctx, "addSecurityGroupIDs", in.AddSecurityGroupIDs)
	if err != nil {
		return nil, err
	}
	remove, err := s.groups(ctx, "removeSecurityGroupIDs", in.RemoveSecurityGroupIDs)
	if err != nil {
		return nil, err
	}
	var changes []string
	var sets []func(*ent.UserUpdateOne)
	set := func(f func(*ent.UserUpdateOne)) { sets = append(sets, f) }
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" {
			return nil, apperr.Invalid("name", "name must not be empty")
		}
		if name != old.Name {
			changes = append(changes, fmt.Sprintf("name %q → %q", old.Name, name))
			set(func(u *ent.UserUpdateOne) { u.SetName(name) })
		}
	}
	var email string
	if in.Email != nil {
		email = auth.NormalizeEmail(*in.Email)
		if !strings.Contains(email, "@") {
			return nil, apperr.Invalid("email", "email must be an address")
		}
		if email != old.Email {
			changes = append(changes, fmt.Sprintf("email %s → %s", old.Email, email))
			set(func(u *ent.UserUpdateOne) { u.SetEmail(email) })
		} else {
			email = ""
		}
	}
	for _, f := range []struct {
		label string
		to    *string
		from  *string
		set   func(*ent.UserUpdateOne, string)
		clear func(*ent.UserUpdateOne)
	}{
		{"mobile", in.Mobile, old.Mobile,
			func(u *ent.UserUpdateOne, v string) { u.SetMobile(v) }, func(u *ent.UserUpdateOne) { u.ClearMobile() }},
		{"job title", in.JobTitle, old.JobTitle,
			func(u *ent.UserUpdateOne, v string) { u.SetJobTitle(v) }, func(u *ent.UserUpdateOne) { u.ClearJobTitle() }},
	} {
		if f.to == nil {
			continue
		}
		v := strings.TrimSpace(*f.to)
		if v == deref(f.from) {
			continue
		}
		changes = append(changes, fmt.Sprintf("%s %q → %q", f.label, deref(f.from), v))
		if v == "" {
			set(f.clear)
		} else {
			set(func(u *ent.UserUpdateOne) { f.set(u, v) })
		}
	}
	if len(add) > 0 {
		changes = append(changes, "added to "+groupNames(add))
		set(func(u *ent.UserUpdateOne) { u.AddSecurityGroupIDs(ids(add)...) })
	}
	if len(remove) > 0 {
		changes = append(changes, "removed from "+groupNames(remove))
		set(func(u *ent.UserUpdateOne) { u.RemoveSecurityGroupIDs(ids(remove)...) })
	}
	if len(changes) == 0 {
		return old, nil
	}
	var u *ent.User
	var lost bool
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		if email != "" {
			if err := emailFree(ctx, c, email, old.ID); err != nil {
				return err
			}
		}
		before, err := permissionsOf(ctx, c, old.ID)
		if err != nil {
			return err
		}
		upd := c.User.UpdateOneID(old.ID)
		for _, f := range sets {
			f(upd)
		}
		if u, err = upd.Save(ctx); err != nil {
			return err
		}
		for _, g := range append(add, remove...) {
			if err := s.msgr.FollowSecurityGroup(ctx, c, g.ID, emit); err != nil {
				return err
			}
		}
		after, err := permissionsOf(ctx, c, old.ID)
		if err != nil {
			return err
		}
		lost = !slices.Equal(before, after)
		return s.record(ctx, c, entry{action: directorylogentry.ActionUSER_UPDATED, user: u, detail: strings.Join(changes, "; ")})
	})
	if err != nil {
		return nil, err
	}
	if lost {
		s.endAccess(ctx, pubsub.EndAccessChanged, old.ID)
	}
	return u.Unwrap(), nil
}

// DeactivateUser deactivates a staff user at once: every session is
// revoked (their sockets end with USER_DEACTIVATED), sign-in is refused
// like a wrong password, and they leave their group channels; their
// messages and the audit history stay.
func (s *Service) DeactivateUser(ctx context.Context, id pulid.ID) (*ent.User, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	if v := viewer.FromContext(ctx); v.UserID == id {
		return nil, apperr.New(apperr.Conflict, "you cannot deactivate yourself")
	}
	return s.setActive(ctx, id, false)
}

// ReactivateUser lets a deactivated staff user sign in again and puts them
// back in their group channels.
func (s *Service) ReactivateUser(ctx context.Context, id pulid.ID) (*ent.User, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	return s.setActive(ctx, id, true)
}

func (s *Service) setActive(ctx context.Context, id pulid.ID, active bool) (*ent.User, error) {
	old, err := s.staff(ctx, id)
	if err != nil {
		return nil, err
	}
	if old.Active == active {
		return old, nil
	}
	var u *ent.User
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		var err error
		if u, err = c.User.UpdateOneID(id).SetActive(active).Save(ctx); err != nil {
			return err
		}
		if err := s.msgr.SyncUser(ctx, c, id, emit); err != nil {
			return err
		}
		action := directorylogentry.ActionUSER_REACTIVATED
		if !active {
			action = directorylogentry.ActionUSER_DEACTIVATED
		}
		return s.record(ctx, c, entry{action: action, user: u})
	})
	if err != nil {
		return nil, err
	}
	if !active {
		// After commit: a session re-checked from now on finds the user
		// inactive, so no socket can outlive the revocation.
		if _, err := s.auth.RevokeUserSessions(ctx, id, auth.ReasonUserDeactivated, ""); err != nil {
			return nil, err
		}
	}
	return u.Unwrap(), nil
}

// SetUserPermissions replaces a user's direct grants. When their effective
// permissions change, their open sockets end (they reconnect with the new
// permissions) and their channels follow (ACCESS_WHISPER).
func (s *Service) SetUserPermissions(ctx context.Context, id pulid.ID, perms []viewer.Permission) (*ent.User, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	old, err := s.client.User.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	names := viewer.SortedPermissions(permNames(perms))
	grants := make([]string, len(names))
	for i, p := range names {
		grants[i] = string(p)
	}
	var u *ent.User
	var changed bool
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		before, err := permissionsOf(ctx, c, id)
		if err != nil {
			return err
		}
		if u, err = c.User.UpdateOneID(id).SetPermissions(grants).Save(ctx); err != nil {
			return err
		}
		after, err := permissionsOf(ctx, c, id)
		if err != nil {
			return err
		}
		if changed = !slices.Equal(before, after); changed {
			if err := s.msgr.SyncUser(ctx, c, id, emit); err != nil {
				return err
			}
		}
		return s.record(ctx, c, entry{action: directorylogentry.ActionPERMISSIONS_SET, user: u,
			detail: fmt.Sprintf("direct grants: %s → %s", list(old.Permissions), list(grants))})
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.endAccess(ctx, pubsub.EndAccessChanged, id)
	}
	return u.Unwrap(), nil
}

// RevokeUserSessions signs a user out everywhere and returns how many
// sessions ended.
func (s *Service) RevokeUserSessions(ctx context.Context, id pulid.ID) (int, error) {
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return 0, err
	}
	u, err := s.client.User.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	n, err := s.auth.RevokeUserSessions(ctx, id, auth.ReasonRevokedByAdministrator, "")
	if err != nil {
		return 0, err
	}
	if err := s.record(ctx, s.client, entry{action: directorylogentry.ActionSESSIONS_REVOKED, user: u,
		detail: fmt.Sprintf("%d sessions", n)}); err != nil {
		return 0, err
	}
	return n, nil
}

// staff finds a staff user as the viewer (a service account is not one).
func (s *Service) staff(ctx context.Context, id pulid.ID) (*ent.User, error) {
	u, err := s.client.User.Query().Where(user.ID(id), user.KindEQ(user.KindSTAFF)).Only(ctx)
	if err != nil {
		return nil, err
	}
	return u, nil
}

// groups loads security groups by id as the viewer; one that does not
// exist is BAD_USER_INPUT naming field.
func (s *Service) groups(ctx context.Context, field string, ids []pulid.ID) ([]*ent.SecurityGroup, error) {
	ids = pulid.Dedupe(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	gs, err := s.client.SecurityGroup.Query().Where(securitygroup.IDIn(ids...)).Order(ent.Asc(securitygroup.FieldName)).All(ctx)
	if err != nil {
		return nil, err
	}
	if len(gs) != len(ids) {
		return nil, apperr.Invalid(field, "no such security group")
	}
	return gs, nil
}

// permissionsOf is a user's effective permissions, sorted.
func permissionsOf(ctx context.Context, c *ent.Client, id pulid.ID) ([]viewer.Permission, error) {
	u, err := c.User.Query().Where(user.ID(id)).WithSecurityGroups().
		Only(system(ctx, "read a user's effective permissions before and after a change"))
	if err != nil {
		return nil, err
	}
	var names []string
	for p, ok := range auth.EffectivePermissions(u) {
		if ok {
			names = append(names, string(p))
		}
	}
	return viewer.SortedPermissions(names), nil
}

// emailFree refuses an email another user already has (CONFLICT).
func emailFree(ctx context.Context, c *ent.Client, email string, self pulid.ID) error {
	taken, err := c.User.Query().Where(user.EmailEQ(email), user.IDNEQ(self)).
		Exist(system(ctx, "check that an email is not another user's"))
	if err != nil {
		return err
	}
	if taken {
		return apperr.New(apperr.Conflict, "another user already has this email")
	}
	return nil
}

func profile(name, email string) (string, string, error) {
	name, email = strings.TrimSpace(name), auth.NormalizeEmail(email)
	if name == "" {
		return "", "", apperr.Invalid("name", "name must not be empty")
	}
	if !strings.Contains(email, "@") {
		return "", "", apperr.Invalid("email", "email must be an address")
	}
	return name, email, nil
}

func trimmed(p *string) *string {
	if p == nil {
		return nil
	}
	v := strings.TrimSpace(*p)
	if v == "" {
		return nil
	}
	return &v
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func ids(gs []*ent.SecurityGroup) []pulid.ID {
	out := make([]pulid.ID, len(gs))
	for i, g := range gs {
		out[i] = g.ID
	}
	return out
}

func groupNames(gs []*ent.SecurityGroup) string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.Name
	}
	return list(names)
}

func list(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func permNames(ps []viewer.Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}

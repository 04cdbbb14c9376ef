package directory

import (
	"context"
	"errors"
	"github.com/whisper-health/whisper/internal/txn"
	"slices"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/directorylogentry"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/ent/usertoken"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// ErrAdminExists refuses a bootstrap when the practice already has an
// active user who manages the directory.
var ErrAdminExists = errors.New("an active user with DIRECTORY_MANAGE already exists; sign in as them and invite others")

// BootstrapAdmin makes the first administrator of an empty practice
// (`whisper bootstrap-admin`): it creates the built-in security groups if
// they are missing, puts the user (created, or found by email) in both and
// returns their invitation. It runs as the server itself — nobody exists to
// act as — and refuses with ErrAdminExists once an active user holds
// DIRECTORY_MANAGE.
func (s *Service) BootstrapAdmin(ctx context.Context, name, email string) (*Invitation, error) {
	ctx = system(ctx, "bootstrap-admin: the first administrator, before anyone exists")
	name, email, err := profile(name, email)
	if err != nil {
		return nil, err
	}
	var inv *Invitation
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		staff, err := c.User.Query().Where(user.KindEQ(user.KindSTAFF), user.Active(true)).WithSecurityGroups().All(ctx)
		if err != nil {
			return err
		}
		for _, u := range staff {
			if rule.DirectoryManager.Holds(&viewer.Viewer{Kind: viewer.Staff, UserID: u.ID, Perms: auth.EffectivePermissions(u)}) {
				return ErrAdminExists
			}
		}
		var groups []*ent.SecurityGroup
		for _, b := range BuiltInGroups {
			g, err := c.SecurityGroup.Query().Where(securitygroup.Name(b.Name)).Only(ctx)
			if ent.IsNotFound(err) {
				g, err = c.SecurityGroup.Create().SetName(b.Name).SetPermissions(permNames(b.Permissions)).Save(ctx)
				if err == nil {
					err = s.record(ctx, c, entry{action: directorylogentry.ActionGROUP_CREATED, group: g,
						detail: "built-in; permissions: " + list(g.Permissions)})
				}
			}
			if err != nil {
				return err
			}
			groups = append(groups, g)
		}
		u, err := c.User.Query().Where(user.Email(email), user.KindEQ(user.KindSTAFF)).Only(ctx)
		switch {
		case ent.IsNotFound(err):
			u, err = c.User.Create().SetName(name).SetEmail(email).AddSecurityGroups(groups...).Save(ctx)
		case err == nil:
			var have []*ent.SecurityGroup
			if have, err = c.User.QuerySecurityGroups(u).All(ctx); err != nil {
				return err
			}
			upd := c.User.UpdateOne(u).SetActive(true)
			for _, g := range groups {
				if !slices.ContainsFunc(have, func(h *ent.SecurityGroup) bool { return h.ID == g.ID }) {
					upd.AddSecurityGroups(g)
				}
			}
			u, err = upd.Save(ctx)
		}
		if err != nil {
			return err
		}
		for _, g := range groups {
			if err := s.msgr.FollowSecurityGroup(ctx, c, g.ID, emit); err != nil {
				return err
			}
		}
		if err := s.record(ctx, c, entry{action: directorylogentry.ActionADMINISTRATOR_BOOTSTRAPPED, user: u,
			detail: "groups: " + groupNames(groups)}); err != nil {
			return err
		}
		inv, err = s.issue(ctx, c, u, usertoken.PurposeINVITATION, nil)
		return err
	})
	return inv, err
}

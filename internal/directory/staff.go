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
)

// StaffRecord is a staff member as the practice system knows them
// (upsertStaff). Mobile and job title are the record's: absent means none.
type StaffRecord struct {
	ExternalID, Name, Email string
	Mobile, JobTitle        *string
	// SecurityGroupNames, when set, is the complete list of (existing)
	// groups the user belongs to.
	SecurityGroupNames *[]string
	// Active, when set, activates or deactivates the user (deactivation
	// as deactivateUser).
	Active *bool
}

// UpsertStaff creates or updates the staff user the practice system knows
// by ExternalID. A repeated push changes nothing and logs nothing. A staff
// user created in Whisper with the same email (and no external id yet) is
// adopted rather than duplicated.
func (s *Service) UpsertStaff(ctx context.Context, in StaffRecord) (*ent.User, error) {
	if _, err := rule.StaffFeed.Check(ctx); err != nil {
		return nil, err
	}
	ext := strings.TrimSpace(in.ExternalID)
	if ext == "" {
		return nil, apperr.Invalid("externalID", "externalID must not be empty")
	}
	name, email, err := profile(in.Name, in.Email)
	if err != nil {
		return nil, err
	}
	var want []*ent.SecurityGroup
	if in.SecurityGroupNames != nil {
		names := slices.Compact(slices.Sorted(slices.Values(*in.SecurityGroupNames)))
		if want, err = s.client.SecurityGroup.Query().Where(securitygroup.NameIn(names...)).All(ctx); err != nil {
			return nil, err
		}
		if len(want) != len(names) {
			return nil, apperr.Invalid("securityGroupNames", "every name must be an existing security group")
		}
	}
	mobile, job := trimmed(in.Mobile), trimmed(in.JobTitle)
	var u *ent.User
	var deactivated, permsChanged bool
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		old, err := c.User.Query().Where(user.ExternalID(ext)).WithSecurityGroups().Only(ctx)
		if ent.IsNotFound(err) {
			old, err = c.User.Query().
				Where(user.Email(email), user.KindEQ(user.KindSTAFF), user.ExternalIDIsNil()).
				WithSecurityGroups().Only(ctx)
		}
		if ent.IsNotFound(err) {
			return s.createStaff(ctx, c, emit, ext, name, email, mobile, job, want, in.Active, &u)
		}
		if err != nil {
			return err
		}
		if old.Kind != user.KindSTAFF {
			return apperr.New(apperr.Conflict, "externalID names a service account")
		}
		var changes []string
		upd := c.User.UpdateOneID(old.ID)
		if deref(old.ExternalID) != ext {
			changes = append(changes, "linked to the practice system as "+ext)
			upd.SetExternalID(ext)
		}
		if old.Name != name {
			changes = append(changes, fmt.Sprintf("name %q → %q", old.Name, name))
			upd.SetName(name)
		}
		if old.Email != email {
			if err := emailFree(ctx, c, email, old.ID); err != nil {
				return err
			}
			changes = append(changes, fmt.Sprintf("email %s → %s", old.Email, email))
			upd.SetEmail(email)
		}
		if deref(old.Mobile) != deref(mobile) {
			changes = append(changes, fmt.Sprintf("mobile %q → %q", deref(old.Mobile), deref(mobile)))
			if mobile == nil {
				upd.ClearMobile()
			} else {
				upd.SetMobile(*mobile)
			}
		}
		if deref(old.JobTitle) != deref(job) {
			changes = append(changes, fmt.Sprintf("job title %q → %q", deref(old.JobTitle), deref(job)))
			if job == nil {
				upd.ClearJobTitle()
			} else {
				upd.SetJobTitle(*job)
			}
		}
		var follow []pulid.ID
		if in.SecurityGroupNames != nil {
			have := map[pulid.ID]*ent.SecurityGroup{}
			for _, g := range old.Edges.SecurityGroups {
				have[g.ID] = g
			}
			var add, remove []*ent.SecurityGroup
			for _, g := range want {
				if have[g.ID] == nil {
					add = append(add, g)
				}
				delete(have, g.ID)
			}
			for _, g := range have {
				remove = append(remove, g)
			}
			if len(add) > 0 {
				changes = append(changes, "added to "+groupNames(add))
				upd.AddSecurityGroupIDs(ids(add)...)
			}
			if len(remove) > 0 {
				changes = append(changes, "removed from "+groupNames(remove))
				upd.RemoveSecurityGroupIDs(ids(remove)...)
			}
			follow = append(ids(add), ids(remove)...)
		}
		activeChanged := in.Active != nil && *in.Active != old.Active
		if activeChanged {
			upd.SetActive(*in.Active)
		}
		if len(changes) == 0 && !activeChanged {
			u = old
			return nil
		}
		before, err := permissionsOf(ctx, c, old.ID)
		if err != nil {
			return err
		}
		if u, err = upd.Save(ctx); err != nil {
			return err
		}
		for _, g := range follow {
			if err := s.msgr.FollowSecurityGroup(ctx, c, g, emit); err != nil {
				return err
			}
		}
		if activeChanged {
			if err := s.msgr.SyncUser(ctx, c, old.ID, emit); err != nil {
				return err
			}
		}
		after, err := permissionsOf(ctx, c, old.ID)
		if err != nil {
			return err
		}
		permsChanged = !slices.Equal(before, after)
		var es []entry
		if len(changes) > 0 {
			es = append(es, entry{action: directorylogentry.ActionUSER_UPDATED, user: u, detail: strings.Join(changes, "; ")})
		}
		if activeChanged {
			action := directorylogentry.ActionUSER_REACTIVATED
			if deactivated = !u.Active; deactivated {
				action = directorylogentry.ActionUSER_DEACTIVATED
			}
			es = append(es, entry{action: action, user: u})
		}
		return s.record(ctx, c, es...)
	})
	if err != nil {
		return nil, err
	}
	switch {
	case deactivated:
		if _, err := s.auth.RevokeUserSessions(ctx, u.ID, auth.ReasonUserDeactivated, ""); err != nil {
			return nil, err
		}
	case permsChanged:
		s.endAccess(ctx, pubsub.EndAccessChanged, u.ID)
	}
	return u.Unwrap(), nil
}

func (s *Service) createStaff(ctx context.Context, c *ent.Client, emit func(...pubsub.Event), ext, name, email string,
	mobile, job *string, groups []*ent.SecurityGroup, active *bool, out **ent.User) error {
	if err := emailFree(ctx, c, email, ""); err != nil {
		return err
	}
	u, err := c.User.Create().
		SetExternalID(ext).SetName(name).SetEmail(email).
		SetNillableMobile(mobile).SetNillableJobTitle(job).
		SetActive(active == nil || *active).
		AddSecurityGroupIDs(ids(groups)...).
		Save(ctx)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := s.msgr.FollowSecurityGroup(ctx, c, g.ID, emit); err != nil {
			return err
		}
	}
	*out = u
	return s.record(ctx, c, entry{action: directorylogentry.ActionUSER_CREATED, user: u,
		detail: fmt.Sprintf("from the practice system (%s); email %s; groups: %s", ext, email, groupNames(groups))})
}

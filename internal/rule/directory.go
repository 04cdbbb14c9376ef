package rule

import (
	"context"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/viewer"
)

// StaffFeed: the practice system pushing its staff list (upsertStaff): an
// integrator holding INTEGRATION. It writes staff profiles, their active
// flag and their membership of existing security groups — never
// permissions, passwords or service accounts (AllowIfStaffFromFeed).
var StaffFeed = Predicate{"StaffFeed", "pushing staff records needs INTEGRATION", anyOf(viewer.Integration)}

// FeedEditableUserFields are the columns the practice system may set on a
// staff user it pushes.
var FeedEditableUserFields = map[string]bool{
	user.FieldExternalID: true,
	user.FieldName:       true,
	user.FieldEmail:      true,
	user.FieldMobile:     true,
	user.FieldJobTitle:   true,
	user.FieldActive:     true,
	user.FieldUpdatedAt:  true,
	user.FieldCreatedAt:  true,
}

// AllowIfStaffFromFeed lets the practice system create and update staff
// users (never service accounts) through FeedEditableUserFields and their
// security-group memberships, and nothing else.
func AllowIfStaffFromFeed() privacy.MutationRule {
	return privacy.UserMutationRuleFunc(func(ctx context.Context, m *ent.UserMutation) error {
		if !StaffFeed.Holds(viewer.FromContext(ctx)) {
			return privacy.Skip
		}
		switch {
		case m.Op().Is(ent.OpCreate):
			// A create carries every default; what matters is what it may
			// not carry.
			if k, ok := m.Kind(); ok && k != user.KindSTAFF {
				return privacy.Denyf("the practice system pushes staff users only")
			}
			if ps, ok := m.Permissions(); ok && len(ps) > 0 {
				return privacy.Denyf("the practice system may not grant permissions")
			}
			if h, ok := m.PasswordHash(); ok && h != "" {
				return privacy.Denyf("the practice system may not set passwords")
			}
		case m.Op().Is(ent.OpUpdateOne) || m.Op().Is(ent.OpUpdate):
			m.Where(user.KindEQ(user.KindSTAFF))
			for _, f := range append(m.Fields(), m.ClearedFields()...) {
				if !FeedEditableUserFields[f] {
					return privacy.Denyf("the practice system may not change a user's %s", f)
				}
			}
		default:
			return privacy.Skip
		}
		for _, edges := range [][]string{m.AddedEdges(), m.RemovedEdges(), m.ClearedEdges()} {
			for _, e := range edges {
				if e != user.EdgeSecurityGroups {
					return privacy.Denyf("the practice system may not change a user's %s", e)
				}
			}
		}
		return privacy.Allow
	})
}

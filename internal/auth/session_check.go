package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/securitygroup"
	"github.com/whisper-health/whisper/ent/session"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// sessionRow is one row of checkSession's statement: the session, its user
// and one of the user's security groups (none: the group columns are NULL).
type sessionRow struct {
	RevokedAt       sql.NullTime   `json:"revoked_at"`
	RevokedReason   sql.NullString `json:"revoked_reason"`
	UserID          string         `json:"user_id"`
	Active          bool           `json:"active"`
	Kind            string         `json:"kind"`
	Permissions     sql.NullString `json:"permissions"`
	GroupPermission sql.NullString `json:"group_permissions"`
}

// checkSession reads a session, its user and the user's security groups in
// one statement (a connection storm authenticates every socket afresh) and
// applies Authenticate's checks in its order: an unknown session is an
// invalid token, a revoked one is refused with its reason, a session of
// another subject is an invalid token, a deactivated user is refused. ctx
// is the system context Authenticate reads sessions and users in.
func (s *Service) checkSession(ctx context.Context, sid pulid.ID, subject string) (*viewer.Viewer, error) {
	var rows []sessionRow
	err := s.client.Session.Query().
		Where(session.ID(sid)).
		Modify(func(sel *entsql.Selector) {
			u := entsql.Table(user.Table)
			ug := entsql.Table(user.SecurityGroupsTable)
			g := entsql.Table(securitygroup.Table)
			sel.Join(u).On(sel.C(session.FieldUserID), u.C(user.FieldID)).
				LeftJoin(ug).On(u.C(user.FieldID), ug.C(user.SecurityGroupsPrimaryKey[0])).
				LeftJoin(g).On(ug.C(user.SecurityGroupsPrimaryKey[1]), g.C(securitygroup.FieldID))
			sel.Select(
				sel.C(session.FieldRevokedAt),
				sel.C(session.FieldRevokedReason),
				sel.C(session.FieldUserID),
				entsql.As(u.C(user.FieldActive), "active"),
				entsql.As(u.C(user.FieldKind), "kind"),
				entsql.As(u.C(user.FieldPermissions), "permissions"),
				entsql.As(g.C(securitygroup.FieldPermissions), "group_permissions"),
			)
		}).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("loading session: %w", err)
	}
	if len(rows) == 0 {
		return nil, ErrInvalidToken
	}
	r := rows[0]
	if r.RevokedAt.Valid {
		if r.RevokedReason.String == ReasonUserDeactivated {
			return nil, ErrUserDeactivated
		}
		return nil, ErrSessionRevoked
	}
	if r.UserID != subject {
		return nil, ErrInvalidToken
	}
	if !r.Active {
		return nil, ErrUserDeactivated
	}
	u := &ent.User{ID: pulid.ID(r.UserID)}
	if err := addPermissions(&u.Permissions, r.Permissions); err != nil {
		return nil, err
	}
	for _, row := range rows {
		if !row.GroupPermission.Valid {
			continue
		}
		g := &ent.SecurityGroup{}
		if err := addPermissions(&g.Permissions, row.GroupPermission); err != nil {
			return nil, err
		}
		u.Edges.SecurityGroups = append(u.Edges.SecurityGroups, g)
	}
	kind := viewer.Staff
	if user.Kind(r.Kind) == user.KindSERVICE {
		kind = viewer.Service
	}
	return &viewer.Viewer{Kind: kind, UserID: u.ID, Perms: EffectivePermissions(u)}, nil
}

// addPermissions decodes a permissions column (a JSON array, or NULL).
func addPermissions(dst *[]string, col sql.NullString) error {
	if !col.Valid || col.String == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(col.String), dst); err != nil {
		return fmt.Errorf("decoding permissions: %w", err)
	}
	return nil
}

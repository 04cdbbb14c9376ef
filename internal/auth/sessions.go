package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/whisper-health/whisper/ent/session"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/pulid"
)

// Why the directory ended a user's sessions, as recorded on each session
// (revoked_reason); a socket that closes reads it to tell its client.
const (
	// ReasonUserDeactivated: the account was deactivated.
	ReasonUserDeactivated = "user deactivated"
	// ReasonRevokedByAdministrator: a directory manager signed the user out.
	ReasonRevokedByAdministrator = "revoked by administrator"
	// ReasonPasswordChanged: the password changed (by its owner, or reset).
	ReasonPasswordChanged = "password changed"
)

// RevokeUserSessions revokes every live (unexpired) session of a user and closes their
// sockets on every replica; it returns how many it revoked. except, when
// set, is kept (the session that changed its own password). The caller has
// decided the viewer may do this (a directory manager, the practice system,
// the user themself): the session policy shows each user only their own.
func (s *Service) RevokeUserSessions(ctx context.Context, userID pulid.ID, reason string, except pulid.ID) (int, error) {
	sctx := system(ctx, "end every session of a user (deactivated, signed out, or a new password)")
	ids, err := s.client.Session.Query().
		Where(session.UserID(userID), session.RevokedAtIsNil(), session.ExpiresAtGT(s.now()), session.IDNEQ(except)).
		IDs(sctx)
	if err != nil {
		return 0, fmt.Errorf("finding sessions: %w", err)
	}
	n := 0
	for _, id := range ids {
		c, err := s.client.Session.Update().
			Where(session.ID(id), session.RevokedAtIsNil()).
			SetRevokedAt(s.now()).
			SetRevokedReason(reason).
			Save(sctx)
		if err != nil {
			return n, fmt.Errorf("revoking session: %w", err)
		}
		n += c
		s.notifyRevoked(id, reason)
	}
	return n, nil
}

// SetPassword stores a new password hash for a staff user, clears their
// failed sign-ins and lock, and checks nothing: the caller has checked the
// token or the current password.
func (s *Service) SetPassword(ctx context.Context, userID pulid.ID, password string) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.client.User.Update().
		Where(user.ID(userID), user.KindEQ(user.KindSTAFF)).
		SetPasswordHash(hash).
		SetFailedLogins(0).
		ClearLockedUntil().
		Exec(system(ctx, "store a password its owner set (token or current password checked)"))
}

// CheckUserPassword reports whether password is the user's current one
// (for changePassword), counting a wrong one like a failed sign-in.
func (s *Service) CheckUserPassword(ctx context.Context, userID pulid.ID, password string) (bool, error) {
	sctx := system(ctx, "check the viewer's current password")
	u, err := s.client.User.Get(sctx, userID)
	if err != nil {
		return false, err
	}
	if err := s.allowPasswordCheck(ctx); err != nil {
		return false, err
	}
	key := attemptKey(ctx, "", u.Email)
	if ok, err := s.unknown.Reserve(ctx, key, s.now()); err != nil || !ok {
		if err == nil {
			err = ErrThrottled
		}
		return false, err
	}
	if u.PasswordHash == "" || !CheckPassword(u.PasswordHash, password) {
		return false, nil
	}
	return true, s.unknown.Reset(ctx, key)
}

// tombstoneAt is when a session's cached check was dropped (monotonic), so
// a check that began later may cache it again.
func tombstoneAt() time.Time { return time.Now() }

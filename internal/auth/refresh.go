package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/patientsession"
	"github.com/whisper-health/whisper/ent/session"
	"github.com/whisper-health/whisper/internal/pulid"
)

// Refresh tokens rotate the same way for staff sessions and portal
// sessions (SPEC §12): rotate holds the one rule, and a sessionKind says how
// to read, swap and revoke the rows of each.

// refreshState is what rotation reads of a session, whatever its kind.
type refreshState struct {
	revoked    bool
	expiresAt  time.Time
	generation int
	hash       string
}

// sessionKind is how rotate reads, rotates and revokes one kind of session
// (rows of type T), as the auth worker.
type sessionKind[T any] struct {
	// name is how logs call the session ("session", "portal session").
	name string
	// prefix is the id prefix of the kind's sessions.
	prefix string
	// load reads a session and its refresh state (ent's not-found error when
	// there is none).
	load func(ctx context.Context, id pulid.ID) (T, refreshState, error)
	// swap moves the session from generation gen to gen+1 with hash, only
	// if it is still at gen and not revoked, and reports how many rows it
	// changed.
	swap func(ctx context.Context, id pulid.ID, gen int, hash string, now time.Time, meta Meta) (int, error)
	// revoke revokes the session for reason.
	revoke func(ctx context.Context, id pulid.ID, reason string) error
}

// rotate checks a refresh token against its session of kind k and rotates
// it. Presenting a token that was already rotated means it leaked (or a
// client raced itself): the session is revoked. It returns the session as
// loaded, its new generation and the new token's secret.
func rotate[T any](ctx context.Context, s *Service, k sessionKind[T], token string, meta Meta) (T, int, string, error) {
	var none T
	sid, gen, secret, ok := parseRefresh(token)
	if !ok || sid.Prefix() != k.prefix {
		return none, 0, "", ErrInvalidToken
	}
	now := s.now()
	sctx := system(ctx, "rotate a refresh token")
	sess, st, err := k.load(sctx, sid)
	if ent.IsNotFound(err) {
		return none, 0, "", ErrInvalidToken
	}
	if err != nil {
		return none, 0, "", fmt.Errorf("finding %s: %w", k.name, err)
	}
	if st.revoked {
		return none, 0, "", ErrSessionRevoked
	}
	if now.After(st.expiresAt) {
		return none, 0, "", ErrInvalidToken
	}
	if gen < st.generation {
		// Only a secret this session was really issued counts as reuse: the
		// session id is readable in every access token, so a guessed
		// "wr_<id>.0.x" must not be able to end someone's session.
		if !hashEqual(secret, s.refreshSecret(sid, gen)) {
			return none, 0, "", ErrInvalidToken
		}
		if err := k.revoke(sctx, sid, "refresh token reuse"); err != nil {
			return none, 0, "", err
		}
		s.log.WarnContext(ctx, "refresh token reused; "+k.name+" revoked", "session", sid)
		return none, 0, "", ErrSessionRevoked
	}
	if gen != st.generation || !hashEqual(st.hash, hashSecret(secret)) {
		return none, 0, "", ErrInvalidToken
	}
	newSecret := s.refreshSecret(sid, gen+1)
	// The generation check makes rotation a compare-and-swap: of two
	// concurrent refreshes with one token, exactly one wins.
	n, err := k.swap(sctx, sid, gen, hashSecret(newSecret), now, meta)
	if err != nil {
		return none, 0, "", fmt.Errorf("rotating the refresh token of a %s: %w", k.name, err)
	}
	if n != 1 {
		if err := k.revoke(sctx, sid, "refresh token reuse"); err != nil {
			return none, 0, "", err
		}
		return none, 0, "", ErrSessionRevoked
	}
	return sess, gen + 1, newSecret, nil
}

// rotatingMutation is the update of a session, of either kind, that
// rotates its refresh token.
type rotatingMutation interface {
	SetRefreshHash(string)
	SetRefreshGeneration(int)
	SetLastUsedAt(time.Time)
	SetExpiresAt(time.Time)
	SetUserAgent(string)
	SetIPAddress(string)
}

// rotated sets what a rotation changes on m: the next generation and its
// hash, the session's idle expiry, and the client it was last used from.
func (s *Service) rotated(m rotatingMutation, gen int, hash string, now time.Time, meta Meta) {
	m.SetRefreshHash(hash)
	m.SetRefreshGeneration(gen + 1)
	m.SetLastUsedAt(now)
	m.SetExpiresAt(now.Add(s.cfg.RefreshTTL))
	m.SetUserAgent(truncate(meta.UserAgent, 512))
	m.SetIPAddress(truncate(meta.IP, 64))
}

// staffSessions are the sessions of staff users and service accounts.
func (s *Service) staffSessions() sessionKind[*ent.Session] {
	return sessionKind[*ent.Session]{
		name:   "session",
		prefix: "se",
		load: func(ctx context.Context, id pulid.ID) (*ent.Session, refreshState, error) {
			sess, err := s.client.Session.Get(ctx, id)
			if err != nil {
				return nil, refreshState{}, err
			}
			return sess, refreshState{revoked: sess.RevokedAt != nil, expiresAt: sess.ExpiresAt,
				generation: sess.RefreshGeneration, hash: sess.RefreshHash}, nil
		},
		swap: func(ctx context.Context, id pulid.ID, gen int, hash string, now time.Time, meta Meta) (int, error) {
			u := s.client.Session.Update().Where(session.ID(id), session.RefreshGeneration(gen), session.RevokedAtIsNil())
			s.rotated(u.Mutation(), gen, hash, now, meta)
			return u.Save(ctx)
		},
		revoke: s.revoke,
	}
}

// portalSessions are the sessions of portal patients.
func (s *Service) portalSessions() sessionKind[*ent.PatientSession] {
	return sessionKind[*ent.PatientSession]{
		name:   "portal session",
		prefix: patientSessionPrefix,
		load: func(ctx context.Context, id pulid.ID) (*ent.PatientSession, refreshState, error) {
			sess, err := s.client.PatientSession.Get(ctx, id)
			if err != nil {
				return nil, refreshState{}, err
			}
			return sess, refreshState{revoked: sess.RevokedAt != nil, expiresAt: sess.ExpiresAt,
				generation: sess.RefreshGeneration, hash: sess.RefreshHash}, nil
		},
		swap: func(ctx context.Context, id pulid.ID, gen int, hash string, now time.Time, meta Meta) (int, error) {
			u := s.client.PatientSession.Update().Where(patientsession.ID(id), patientsession.RefreshGeneration(gen), patientsession.RevokedAtIsNil())
			s.rotated(u.Mutation(), gen, hash, now, meta)
			return u.Save(ctx)
		},
		revoke: s.revokePatientSession,
	}
}

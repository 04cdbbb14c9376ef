package auth

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/ent/patientsession"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Portal sessions work like staff sessions (SPEC §12): patientLogin opens
// one, its access token names it, patientRefreshSession rotates its refresh
// token (an already-used one revokes it), logout revokes it, and a revoked
// session's tokens stop at once and its sockets close (the revocation goes
// through the same Revoked hook and bus event as a staff session's). The
// rows are PatientSessions ("ps…" ids), apart from staff Sessions, whose
// rows belong to a user.

// patientSessionPrefix is the id prefix of portal sessions.
const patientSessionPrefix = "ps"

// isPatientSession reports whether id names a portal session.
func isPatientSession(id pulid.ID) bool { return id.Prefix() == patientSessionPrefix }

// openPatientSession opens a portal session for p and signs its tokens.
func (s *Service) openPatientSession(ctx context.Context, p *ent.Patient, meta Meta, now time.Time) (*PatientTokens, error) {
	sid := pulid.New(patientSessionPrefix)
	secret := s.refreshSecret(sid, 0)
	sess, err := s.client.PatientSession.Create().
		SetID(sid).
		SetPatientID(p.ID).
		SetRefreshHash(hashSecret(secret)).
		SetExpiresAt(now.Add(s.cfg.RefreshTTL)).
		SetLastUsedAt(now).
		SetUserAgent(truncate(meta.UserAgent, 512)).
		SetIPAddress(truncate(meta.IP, 64)).
		Save(system(ctx, "sign-in: open the portal patient's session"))
	if err != nil {
		return nil, fmt.Errorf("creating portal session: %w", err)
	}
	return s.issuePatient(ctx, p, sess, secret, now)
}

// issuePatient signs the tokens of a portal session and, when ctx is a
// pending sign-in context, makes the patient its viewer.
func (s *Service) issuePatient(ctx context.Context, p *ent.Patient, sess *ent.PatientSession, secret string, now time.Time) (*PatientTokens, error) {
	exp := now.Add(s.cfg.AccessTTL)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		SessionID: sess.ID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Audience:  jwt.ClaimStrings{audience},
			Subject:   string(p.ID),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	signed, err := tok.SignedString(s.cfg.Secret)
	if err != nil {
		return nil, fmt.Errorf("signing access token: %w", err)
	}
	viewer.SetPending(ctx, &viewer.Viewer{Kind: viewer.Patient, PatientID: p.ID, SessionID: sess.ID})
	refresh := refreshPrefix + string(sess.ID) + "." + strconv.Itoa(sess.RefreshGeneration) + "." + secret
	return &PatientTokens{AccessToken: signed, RefreshToken: refresh, ExpiresAt: exp, Patient: p}, nil
}

// PatientRefresh rotates a portal refresh token, as Refresh does a staff
// one: presenting a token that was already rotated means it leaked (or a
// client raced itself), and the session is revoked. A patient whose portal
// access was removed cannot refresh.
func (s *Service) PatientRefresh(ctx context.Context, token string, meta Meta) (*PatientTokens, error) {
	sid, gen, secret, ok := parseRefresh(token)
	if !ok || !isPatientSession(sid) {
		return nil, ErrInvalidToken
	}
	now := s.now()
	sctx := system(ctx, "rotate a portal refresh token")
	sess, err := s.client.PatientSession.Get(sctx, sid)
	if ent.IsNotFound(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("finding portal session: %w", err)
	}
	if sess.RevokedAt != nil {
		return nil, ErrSessionRevoked
	}
	if now.After(sess.ExpiresAt) {
		return nil, ErrInvalidToken
	}
	if gen < sess.RefreshGeneration {
		// Only a secret this session was really issued counts as reuse (see
		// Refresh).
		if !hashEqual(secret, s.refreshSecret(sess.ID, gen)) {
			return nil, ErrInvalidToken
		}
		if err := s.revokePatientSession(sctx, sess.ID, "refresh token reuse"); err != nil {
			return nil, err
		}
		s.log.WarnContext(ctx, "portal refresh token reused; session revoked", "session", sess.ID)
		return nil, ErrSessionRevoked
	}
	if gen != sess.RefreshGeneration || !hashEqual(sess.RefreshHash, hashSecret(secret)) {
		return nil, ErrInvalidToken
	}
	newSecret := s.refreshSecret(sess.ID, gen+1)
	// Compare-and-swap on the generation: of two concurrent refreshes with
	// one token, exactly one wins.
	n, err := s.client.PatientSession.Update().
		Where(patientsession.ID(sess.ID), patientsession.RefreshGeneration(gen), patientsession.RevokedAtIsNil()).
		SetRefreshHash(hashSecret(newSecret)).
		SetRefreshGeneration(gen + 1).
		SetLastUsedAt(now).
		SetExpiresAt(now.Add(s.cfg.RefreshTTL)).
		SetUserAgent(truncate(meta.UserAgent, 512)).
		SetIPAddress(truncate(meta.IP, 64)).
		Save(sctx)
	if err != nil {
		return nil, fmt.Errorf("rotating portal refresh token: %w", err)
	}
	if n != 1 {
		if err := s.revokePatientSession(sctx, sess.ID, "refresh token reuse"); err != nil {
			return nil, err
		}
		return nil, ErrSessionRevoked
	}
	sess.RefreshGeneration = gen + 1
	p, err := s.client.Patient.Query().
		Where(patient.ID(sess.PatientID), patient.PortalPasswordHashNEQ("")).
		Only(sctx)
	if ent.IsNotFound(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("loading the session's patient: %w", err)
	}
	return s.issuePatient(ctx, p, sess, newSecret, now)
}

// revokePatientSession revokes a portal session and tells every replica
// (its sockets close, its cached check ends).
func (s *Service) revokePatientSession(ctx context.Context, id pulid.ID, reason string) error {
	err := s.client.PatientSession.Update().
		Where(patientsession.ID(id), patientsession.RevokedAtIsNil()).
		SetRevokedAt(s.now()).
		SetRevokedReason(reason).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoking portal session: %w", err)
	}
	s.notifyRevoked(id, reason)
	return nil
}

// authenticatePatient is Authenticate for a portal token: it must name a
// portal session of that patient that is not revoked, and the patient must
// still have portal access. The check is reused like a staff session's (and
// ends at once on revocation).
func (s *Service) authenticatePatient(ctx context.Context, c claims) (*viewer.Viewer, time.Time, error) {
	if !isPatientSession(c.SessionID) {
		return nil, time.Time{}, ErrInvalidToken
	}
	now := s.cfg.Now()
	s.mu.Lock()
	hit, ok := s.checked[c.SessionID]
	s.mu.Unlock()
	if ok && !hit.revoked && now.Sub(hit.at) < s.cfg.SessionCheck && string(hit.viewer.PatientID) == c.Subject {
		return hit.viewer, c.ExpiresAt.Time, nil
	}
	sctx := system(ctx, "authenticate: load the portal session and its patient")
	sess, err := s.client.PatientSession.Get(sctx, c.SessionID)
	if ent.IsNotFound(err) {
		return nil, time.Time{}, ErrInvalidToken
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("loading portal session: %w", err)
	}
	if sess.RevokedAt != nil {
		return nil, time.Time{}, ErrSessionRevoked
	}
	if string(sess.PatientID) != c.Subject {
		return nil, time.Time{}, ErrInvalidToken
	}
	access, err := s.client.Patient.Query().
		Where(patient.ID(sess.PatientID), patient.PortalPasswordHashNEQ("")).
		Exist(sctx)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("loading patient: %w", err)
	}
	if !access {
		return nil, time.Time{}, ErrInvalidToken
	}
	v := &viewer.Viewer{Kind: viewer.Patient, PatientID: sess.PatientID, SessionID: sess.ID}
	s.mu.Lock()
	if len(s.checked) > 100_000 {
		clear(s.checked)
	}
	if old, ok := s.checked[sess.ID]; !ok || !old.revoked {
		s.checked[sess.ID] = checkedSession{viewer: v, at: now}
	}
	s.mu.Unlock()
	return v, c.ExpiresAt.Time, nil
}

// ReasonPortalAccessRevoked: staff took the patient's portal access away
// (their sockets end with PORTAL_ACCESS_REVOKED).
const ReasonPortalAccessRevoked = "portal access revoked"

// OpenPatientSession signs a patient in whose credential the caller has
// checked (a portal invitation just redeemed): it opens a portal session
// and, in a pending sign-in context, makes the patient its viewer.
func (s *Service) OpenPatientSession(ctx context.Context, p *ent.Patient, meta Meta) (*PatientTokens, error) {
	t, err := s.openPatientSession(ctx, p, meta, s.now())
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "patient signed in", "patient", p.ID)
	return t, nil
}

// RevokePatientSessions revokes every live portal session of a patient and
// closes their sockets on every replica, for reason; it returns how many it
// revoked. except, when set, is kept. The caller has decided the viewer may
// do this (rule.PortalRevoker, or the patient's own new password).
func (s *Service) RevokePatientSessions(ctx context.Context, patientID pulid.ID, reason string, except pulid.ID) (int, error) {
	sctx := system(ctx, "end every portal session of a patient (access taken away, or a new password)")
	ids, err := s.client.PatientSession.Query().
		Where(patientsession.PatientID(patientID), patientsession.RevokedAtIsNil(),
			patientsession.ExpiresAtGT(s.now()), patientsession.IDNEQ(except)).
		IDs(sctx)
	if err != nil {
		return 0, fmt.Errorf("finding portal sessions: %w", err)
	}
	for i, id := range ids {
		if err := s.revokePatientSession(sctx, id, reason); err != nil {
			return i, err
		}
	}
	return len(ids), nil
}

package auth

import (
	"context"
	"fmt"
	"time"

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
	signed, exp, err := s.sign(sess.ID, p.ID, now)
	if err != nil {
		return nil, err
	}
	viewer.SetPending(ctx, &viewer.Viewer{Kind: viewer.Patient, PatientID: p.ID, SessionID: sess.ID})
	refresh := refreshToken(sess.ID, sess.RefreshGeneration, secret)
	return &PatientTokens{AccessToken: signed, RefreshToken: refresh, ExpiresAt: exp, Patient: p}, nil
}

// PatientRefresh rotates a portal refresh token, as Refresh does a staff
// one (see rotate): an already-used token revokes the session. A patient
// whose portal access was removed cannot refresh.
func (s *Service) PatientRefresh(ctx context.Context, token string, meta Meta) (*PatientTokens, error) {
	sess, gen, secret, err := rotate(ctx, s, s.portalSessions(), token, meta)
	if err != nil {
		return nil, err
	}
	sess.RefreshGeneration = gen
	p, err := s.client.Patient.Query().
		Where(patient.ID(sess.PatientID), patient.PortalPasswordHashNEQ("")).
		Only(system(ctx, "load the patient of a refreshed portal session"))
	if ent.IsNotFound(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("loading the session's patient: %w", err)
	}
	return s.issuePatient(ctx, p, sess, secret, s.now())
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

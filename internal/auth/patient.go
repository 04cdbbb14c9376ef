package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// patientKey prefixes the throttle keys of portal sign-ins, so they never
// share a count with a staff sign-in of the same address.
const patientKey = "patient:"

// PatientTokens is the result of a portal sign-in: an access token only.
// Portal sessions are short: when it expires the patient signs in again.
type PatientTokens struct {
	AccessToken string
	ExpiresAt   time.Time
	Patient     *ent.Patient
}

// PatientLogin signs a portal patient in by the email on their record and
// their portal password. Patients without a portal password cannot sign in.
// A wrong password, an unknown email and a patient without portal access
// fail alike, and every failure counts towards the email's throttle.
func (s *Service) PatientLogin(ctx context.Context, email, password string) (*PatientTokens, error) {
	email = NormalizeEmail(email)
	now := s.now()
	if err := s.allowPasswordCheck(ctx); err != nil {
		return nil, err
	}
	key := attemptKey(ctx, patientKey, email)
	if !s.unknown.Take(key, now) {
		return nil, ErrThrottled
	}
	sctx := system(ctx, "sign-in: find the patient by email and check the password")
	ps, err := s.client.Patient.Query().
		Where(patient.EmailEqualFold(email), patient.PortalPasswordHashNEQ("")).
		Limit(2).
		All(sctx)
	if err != nil {
		return nil, fmt.Errorf("finding patient: %w", err)
	}
	// An address shared by more than one portal patient (a family) signs
	// nobody in: the password alone must not pick the record.
	if len(ps) != 1 || !CheckPassword(ps[0].PortalPasswordHash, password) {
		if len(ps) != 1 {
			CheckPassword(dummyHash(), password)
		}
		return nil, ErrInvalidCredentials
	}
	s.unknown.Reset(key)
	p := ps[0]
	exp := now.Add(s.cfg.AccessTTL)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
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
	v := &viewer.Viewer{Kind: viewer.Patient, PatientID: p.ID}
	viewer.SetPending(ctx, v)
	s.log.InfoContext(ctx, "patient signed in", "patient", p.ID)
	return &PatientTokens{AccessToken: signed, ExpiresAt: exp, Patient: p}, nil
}

// patientViewer is the viewer of a verified portal token: the patient must
// still have portal access.
func (s *Service) patientViewer(ctx context.Context, id pulid.ID) (*viewer.Viewer, error) {
	ok, err := s.client.Patient.Query().
		Where(patient.ID(id), patient.PortalPasswordHashNEQ("")).
		Exist(system(ctx, "authenticate: load the portal patient"))
	if err != nil {
		return nil, fmt.Errorf("loading patient: %w", err)
	}
	if !ok {
		return nil, ErrInvalidToken
	}
	return &viewer.Viewer{Kind: viewer.Patient, PatientID: id}, nil
}

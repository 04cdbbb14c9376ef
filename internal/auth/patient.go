package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/patient"
)

// patientKey prefixes the throttle keys of portal sign-ins, so they never
// share a count with a staff sign-in of the same address.
const patientKey = "patient:"

// PatientTokens is the result of a portal sign-in or refresh: an access
// token naming the portal session, and the session's rotating refresh
// token (see patient_session.go).
type PatientTokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
	Patient      *ent.Patient
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
	if ok, err := s.unknown.Reserve(ctx, key, now); err != nil || !ok {
		if err == nil {
			err = ErrThrottled
		}
		return nil, err
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
	p := ps[0]
	if err := s.unknown.Reset(ctx, key); err != nil {
		return nil, fmt.Errorf("clearing failed sign-ins: %w", err)
	}
	t, err := s.openPatientSession(ctx, p, Meta{}, now)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "patient signed in", "patient", p.ID)
	return t, nil
}

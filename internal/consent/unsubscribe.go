package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/consentchange"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/txn"
)

// UnsubscribePath is where the one-click unsubscribe link points.
const UnsubscribePath = "/unsubscribe"

// sign is the link's signature for a patient: an HMAC under the service's
// key, so a link cannot be made up for another patient.
func (s *Service) sign(patientID pulid.ID) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte("unsubscribe email\x00" + string(patientID)))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// UnsubscribeURL is the signed one-click unsubscribe link for a patient's
// email, under the server's public base URL ("" when base is unset).
func (s *Service) UnsubscribeURL(base string, patientID pulid.ID) string {
	if base == "" || len(s.key) == 0 {
		return ""
	}
	q := url.Values{"p": {string(patientID)}, "t": {s.sign(patientID)}}
	return strings.TrimRight(base, "/") + UnsubscribePath + "?" + q.Encode()
}

// Unsubscribe opts the patient a signed link names out of email (RFC 8058
// one-click). It is idempotent: a second click records nothing more. A
// link whose signature does not match is FORBIDDEN and changes nothing.
func (s *Service) Unsubscribe(ctx context.Context, patientID pulid.ID, sig string) error {
	if len(s.key) == 0 || patientID == "" || !hmac.Equal([]byte(s.sign(patientID)), []byte(sig)) {
		return apperr.New(apperr.Forbidden, "this unsubscribe link is not valid")
	}
	wctx := worker(ctx, "the signed one-click unsubscribe link of an outreach email")
	st, err := s.state(wctx, nil, EMAIL, patientID, "")
	if err != nil {
		return err
	}
	if st == OptedOut {
		return nil
	}
	if _, err := s.client.Patient.Get(wctx, patientID); err != nil {
		if ent.IsNotFound(err) {
			return apperr.New(apperr.NotFound, "this unsubscribe link names no patient")
		}
		return err
	}
	return s.tx.Run(wctx, func(tx *ent.Tx, _ txn.Emit) error {
		pid := patientID
		return s.record(wctx, tx.Client(), change{subject: string(patientID), patient: &pid, channel: EMAIL, state: OptedOut,
			source: consentchange.SourceUNSUBSCRIBE_LINK})
	})
}

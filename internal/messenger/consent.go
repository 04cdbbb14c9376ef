package messenger

import (
	"context"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/consent"
)

// WithConsent makes the messenger ask the contact policy before it queues
// an SMS copy: a number that opted out (texted STOP) gets none.
func (s *Service) WithConsent(c *consent.Service) *Service {
	s.consent = c
	return s
}

// mayText refuses an SMS copy to a number that opted out of SMS, with
// BAD_USER_INPUT, before anything is written (the send's transaction
// rolls back).
func (s *Service) mayText(ctx context.Context, c *ent.Client, mobile string) error {
	if s.consent == nil {
		return nil
	}
	_, ok, err := s.consent.MayContact(ctx, c, consent.SMS, "", mobile)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.Invalid("sms", "this mobile number has opted out of SMS (it texted STOP); send the message without an SMS copy")
	}
	return nil
}

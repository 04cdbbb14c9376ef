package directory

import (
	"context"
	"fmt"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/ent/usertoken"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/settings"
	"github.com/whisper-health/whisper/internal/txn"
)

// Portal access (SPEC §12): the care team invites a patient by email or
// SMS with a single-use link — the same hashed, expiring links as staff
// invitations (mint, consume) —, the patient sets their portal password
// with it and is signed in, and staff can take the access away again (the
// password goes, every portal session and stream ends, unused links stop
// working). The messages carry the practice's name and the link, never
// anything clinical, and go through the outbox only to a channel the
// patient may be contacted on (consent.MayContact).

// WithPortal gives the directory what portal invitations need: the one
// contact policy and the practice's name, phone and clock.
func (s *Service) WithPortal(c *consent.Service, st *settings.Service) *Service {
	s.consent, s.settings = c, st
	return s
}

// InvitePatient issues a portal invitation for a patient, replacing any
// earlier one, and queues its link by email or SMS (via). A channel the
// patient has no address for, or opted out of, is BAD_USER_INPUT and
// nothing is written.
func (s *Service) InvitePatient(ctx context.Context, patientID pulid.ID, via consent.Channel) (*Invitation, error) {
	v, err := rule.PortalInviter.Check(ctx)
	if err != nil {
		return nil, err
	}
	if via != consent.EMAIL && via != consent.SMS {
		return nil, apperr.Invalid("via", "invite by EMAIL or SMS")
	}
	p, err := s.client.Patient.Get(ctx, patientID)
	if err != nil {
		return nil, err
	}
	email := deref(trimmed(p.Email))
	if email == "" {
		return nil, apperr.Invalid("patientID", "the patient has no email address on record, and the portal signs in by email")
	}
	address := email
	if via == consent.SMS {
		if address = deref(trimmed(p.Mobile)); address == "" {
			return nil, apperr.Invalid("via", "the patient has no mobile number on record")
		}
	}
	var inv *Invitation
	err = s.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		c := tx.Client()
		if _, ok, err := s.consent.MayContact(ctx, c, via, p.ID, address); err != nil {
			return err
		} else if !ok {
			return apperr.Invalid("via", "the patient opted out of %s; invite them another way, or record their consent first", via)
		}
		if err := sharedPortalEmail(ctx, c, p.ID, email); err != nil {
			return err
		}
		practice, err := s.settings.Current(ctx, c)
		if err != nil {
			return err
		}
		issuer := v.UserID
		l, err := s.mint(ctx, c, usertoken.PurposePATIENT_INVITATION, "", p.ID, &issuer)
		if err != nil {
			return err
		}
		expires := practice.In(l.row.ExpiresAt).Format("2 January 2006 15:04 MST")
		create := c.OutboxMessage.Create().
			SetRecipient(address).
			SetIdempotencyKey(emailKey(l.row.ID)).
			SetNextAttemptAt(s.now()).
			SetPatientFacing(true)
		// Who invites and how to sign in: nothing about the patient's care.
		if via == consent.SMS {
			create.SetChannel(outboxmessage.ChannelSMS).
				SetBody(fmt.Sprintf("%s invites you to its patient portal. Choose your password: %s (one use, until %s)",
					practice.Name, l.url, expires))
		} else {
			create.SetChannel(outboxmessage.ChannelEMAIL).
				SetSubject("Your patient portal invitation from " + practice.Name).
				SetBody(fmt.Sprintf("Hello %s,\n\n%s invites you to its patient portal, where you can message the practice. Choose your password here:\n\n%s\n\nThe link can be used once and expires on %s. If you did not expect this email, call us on %s.\n",
					p.FirstName, practice.Name, l.url, expires, practice.Phone))
		}
		if err := create.Exec(system(ctx, "queue a portal invitation in the outbox")); err != nil {
			return err
		}
		inv = &Invitation{ID: l.row.ID, Patient: p, URL: l.url, Token: l.token, ExpiresAt: l.row.ExpiresAt}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// AcceptPatientInvitation sets the portal password of the invited patient
// with a portal invitation token, ends the patient's other portal sessions,
// and signs them in. A used, replaced, revoked or expired token, or a
// password the rules refuse, is BAD_USER_INPUT and changes nothing.
func (s *Service) AcceptPatientInvitation(ctx context.Context, token, password string, meta auth.Meta) (*auth.PatientTokens, error) {
	if err := CheckPassword("password", password); err != nil {
		return nil, err
	}
	hash, err := s.auth.HashNewPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	sctx := system(ctx, "redeem a portal invitation (no viewer until it is used)")
	var p *ent.Patient
	err = s.tx.Run(sctx, func(tx *ent.Tx, _ txn.Emit) error {
		c := tx.Client()
		t, err := s.consume(sctx, c, usertoken.PurposePATIENT_INVITATION, token)
		if err != nil {
			return err
		}
		if t.PatientID == nil {
			return errBadToken
		}
		p, err = c.Patient.Get(sctx, *t.PatientID)
		if ent.IsNotFound(err) {
			return errBadToken
		}
		if err != nil {
			return err
		}
		if err := sharedPortalEmail(sctx, c, p.ID, deref(trimmed(p.Email))); err != nil {
			return err
		}
		p, err = c.Patient.UpdateOne(p).SetPortalPasswordHash(hash).Save(sctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	// A new password ends whatever sessions an earlier one opened.
	if _, err := s.auth.RevokePatientSessions(ctx, p.ID, auth.ReasonPasswordChanged, ""); err != nil {
		return nil, err
	}
	return s.auth.OpenPatientSession(ctx, p, meta)
}

// RevokePatientPortalAccess takes a patient's portal access away: their
// portal password is removed and their unused invitations stop working (in
// one transaction), then every portal session is revoked and their live
// streams end with PORTAL_ACCESS_REVOKED on every replica. A patient
// without access is answered as they are.
func (s *Service) RevokePatientPortalAccess(ctx context.Context, patientID pulid.ID) (*ent.Patient, error) {
	if _, err := rule.PortalRevoker.Check(ctx); err != nil {
		return nil, err
	}
	p, err := s.client.Patient.Get(ctx, patientID)
	if err != nil {
		return nil, err
	}
	err = s.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		c := tx.Client()
		if err := s.retire(ctx, c, usertoken.PurposePATIENT_INVITATION, "", p.ID); err != nil {
			return err
		}
		// Cleared whatever p said before the transaction: an acceptance
		// that committed since then set a password this must remove.
		return c.Patient.UpdateOneID(p.ID).ClearPortalPasswordHash().Exec(ctx)
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.auth.RevokePatientSessions(ctx, p.ID, auth.ReasonPortalAccessRevoked, ""); err != nil {
		return nil, err
	}
	return s.client.Patient.Get(ctx, patientID)
}

// HasPortalAccess reports whether a patient may sign in to the portal (they
// have a portal password).
func HasPortalAccess(p *ent.Patient) bool { return p.PortalPasswordHash != "" }

// sharedPortalEmail refuses portal access for an email address another
// patient with portal access signs in with (a family's shared address):
// portal sign-in is by email, and it signs nobody in when two records
// share one.
func sharedPortalEmail(ctx context.Context, c *ent.Client, id pulid.ID, email string) error {
	if email == "" {
		return nil
	}
	taken, err := c.Patient.Query().
		Where(patient.EmailEqualFold(email), patient.IDNEQ(id), patient.PortalPasswordHashNEQ("")).
		Exist(system(ctx, "find another portal patient signing in with the same email"))
	if err != nil {
		return err
	}
	if taken {
		return apperr.New(apperr.Conflict, "another patient with portal access signs in with this email address; the portal needs the patient's own address")
	}
	return nil
}

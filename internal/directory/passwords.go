package directory

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"github.com/whisper-health/whisper/internal/txn"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/directorylogentry"
	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/ent/usertoken"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
)

// Invitation is a single-use link that lets a staff user (User) or a
// patient (Patient, a portal invitation) set their password. Token is shown
// this once (and emailed or texted); only its hash is stored.
type Invitation struct {
	ID        pulid.ID
	User      *ent.User
	Patient   *ent.Patient
	URL       string
	Token     string
	ExpiresAt time.Time
}

// errBadToken is the answer for every token that cannot be used: unknown,
// used, expired, or for an account that cannot sign in.
var errBadToken = apperr.Invalid("token", "this link is invalid, already used or expired")

// CheckPassword applies the password rule (SPEC §11) to a new password.
func CheckPassword(field, pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return apperr.Invalid(field, "a password must be at least %d characters long", MinPasswordLength)
	}
	return nil
}

// InviteUser issues an invitation for a staff user, replacing any earlier
// one, and emails its link to them.
func (s *Service) InviteUser(ctx context.Context, id pulid.ID) (*Invitation, error) {
	v, err := rule.DirectoryManager.Check(ctx)
	if err != nil {
		return nil, err
	}
	u, err := s.staff(ctx, id)
	if err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, apperr.New(apperr.Conflict, "reactivate the user before inviting them")
	}
	var inv *Invitation
	err = s.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		c := tx.Client()
		var err error
		inv, err = s.issue(ctx, c, u, usertoken.PurposeINVITATION, &v.UserID)
		if err != nil {
			return err
		}
		return s.record(ctx, c, entry{action: directorylogentry.ActionINVITATION_CREATED, user: u,
			detail: "expires " + inv.ExpiresAt.Format(time.RFC3339)})
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// AcceptInvitation sets the password of the invited user and signs them in.
func (s *Service) AcceptInvitation(ctx context.Context, token, password string, meta auth.Meta) (*auth.Tokens, error) {
	return s.redeem(ctx, usertoken.PurposeINVITATION, token, password, meta)
}

// RequestPasswordReset emails a reset link when email names an active
// staff user. It answers the same whether or not it does.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	// At most a few emails an hour per address, known or not, so the
	// mutation cannot flood an inbox; further requests answer alike.
	if ok, err := s.resets.Reserve(ctx, "reset:"+auth.NormalizeEmail(email), s.now()); err != nil || !ok {
		return err
	}
	sctx := system(ctx, "find the account a password reset is asked for (no viewer: anyone may ask)")
	u, err := s.client.User.Query().
		Where(user.Email(auth.NormalizeEmail(email)), user.KindEQ(user.KindSTAFF), user.Active(true)).
		Only(sctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.tx.Run(sctx, func(tx *ent.Tx, _ txn.Emit) error {
		c := tx.Client()
		if _, err := s.issue(sctx, c, u, usertoken.PurposeRESET, nil); err != nil {
			return err
		}
		return s.record(ctx, c, entry{action: directorylogentry.ActionPASSWORD_RESET_REQUESTED, user: u, actor: u})
	})
}

// ResetPassword sets a new password with a reset token, ends every other
// session of the user, and signs them in.
func (s *Service) ResetPassword(ctx context.Context, token, password string, meta auth.Meta) (*auth.Tokens, error) {
	return s.redeem(ctx, usertoken.PurposeRESET, token, password, meta)
}

// ChangePassword changes the viewer's own password, given the current one,
// and revokes their other sessions.
func (s *Service) ChangePassword(ctx context.Context, current, next string) error {
	v, err := rule.StaffUser.Check(ctx)
	if err != nil {
		return err
	}
	if err := CheckPassword("newPassword", next); err != nil {
		return err
	}
	ok, err := s.auth.CheckUserPassword(ctx, v.UserID, current)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.Invalid("currentPassword", "the current password is not right")
	}
	if err := s.auth.SetPassword(ctx, v.UserID, next); err != nil {
		return err
	}
	if _, err := s.auth.RevokeUserSessions(ctx, v.UserID, auth.ReasonPasswordChanged, v.SessionID); err != nil {
		return err
	}
	u, err := s.client.User.Get(ctx, v.UserID)
	if err != nil {
		return err
	}
	return s.record(ctx, s.client, entry{action: directorylogentry.ActionPASSWORD_CHANGED, user: u})
}

// Link paths under WHISPER_APP_URL, by purpose.
const (
	invitationPath       = "/accept-invitation"
	resetPath            = "/reset-password"
	PortalInvitationPath = "/portal/accept-invitation"
)

// link is a freshly issued single-use link: its row, and the token and URL
// that travel once.
type link struct {
	row   *ent.UserToken
	token string
	url   string
}

// mint issues a single-use link of purpose in c's transaction, for a staff
// user (userID) or a patient (patientID), and retires the holder's earlier
// unused links of that purpose together with their queued messages: a new
// link replaces the previous one. createdBy is who issued it (nil for a
// reset). ctx is the viewer issuing it (the UserToken policy decides), or
// the directory worker's for a reset.
func (s *Service) mint(ctx context.Context, c *ent.Client, purpose usertoken.Purpose, userID, patientID pulid.ID, createdBy *pulid.ID) (*link, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	ttl, path := InvitationTTL, invitationPath
	switch purpose {
	case usertoken.PurposeRESET:
		ttl, path = ResetTTL, resetPath
	case usertoken.PurposePATIENT_INVITATION:
		path = PortalInvitationPath
	}
	if err := s.retire(ctx, c, purpose, userID, patientID); err != nil {
		return nil, err
	}
	create := c.UserToken.Create().
		SetPurpose(purpose).
		SetTokenHash(hashToken(token)).
		SetExpiresAt(now.Add(ttl)).
		SetNillableCreatedBy(createdBy)
	if userID != "" {
		create.SetUserID(userID)
	}
	if patientID != "" {
		create.SetPatientID(patientID)
	}
	t, err := create.Save(ctx)
	if err != nil {
		return nil, err
	}
	return &link{row: t, token: token, url: s.cfg.AppURL + path + "?token=" + url.QueryEscape(token)}, nil
}

// retire marks a holder's unused links of purpose used and forgets their
// queued messages, in c's transaction: a replaced link, or every portal
// invitation of a patient whose access was taken away, opens nothing.
func (s *Service) retire(ctx context.Context, c *ent.Client, purpose usertoken.Purpose, userID, patientID pulid.ID) error {
	wctx := system(ctx, "retire a holder's earlier unused links when a new one is issued or access is taken away")
	holder := usertoken.UserID(userID)
	if patientID != "" {
		holder = usertoken.PatientID(patientID)
	}
	earlier, err := c.UserToken.Query().
		Where(holder, usertoken.PurposeEQ(purpose), usertoken.UsedAtIsNil()).
		IDs(wctx)
	if err != nil || len(earlier) == 0 {
		return err
	}
	if err := c.UserToken.Update().Where(usertoken.IDIn(earlier...)).SetUsedAt(s.now()).Exec(wctx); err != nil {
		return err
	}
	return forgetEmails(ctx, c, earlier...)
}

// consume uses a link once in c's transaction: the token is marked used
// only if it is unused and unexpired, and its queued message is forgotten.
// Any other token is errBadToken. ctx is the directory worker's (nobody is
// signed in while a link is redeemed).
func (s *Service) consume(ctx context.Context, c *ent.Client, purpose usertoken.Purpose, token string) (*ent.UserToken, error) {
	now := s.now()
	t, err := c.UserToken.Query().
		Where(usertoken.TokenHash(hashToken(token)), usertoken.PurposeEQ(purpose)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	n, err := c.UserToken.Update().
		Where(usertoken.ID(t.ID), usertoken.UsedAtIsNil(), usertoken.ExpiresAtGT(now)).
		SetUsedAt(now).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, errBadToken
	}
	return t, forgetEmails(ctx, c, t.ID)
}

// issue makes a link for staff user u (an invitation or a reset), replacing
// u's earlier unused one, and queues its email, all in c's transaction.
// createdBy is the inviting manager (nil for a reset).
func (s *Service) issue(ctx context.Context, c *ent.Client, u *ent.User, purpose usertoken.Purpose, createdBy *pulid.ID) (*Invitation, error) {
	// An invitation is created as the directory manager (the UserToken
	// policy); a reset has no viewer and ctx is the directory worker's.
	l, err := s.mint(ctx, c, purpose, u.ID, "", createdBy)
	if err != nil {
		return nil, err
	}
	t := l.row
	subject, body := "You are invited to Whisper",
		fmt.Sprintf("Hello %s,\n\nYou have been invited to Whisper, your practice's messenger. Choose your password here:\n\n%s\n\nThe link can be used once and expires on %s.\n",
			u.Name, l.url, t.ExpiresAt.Format("2 January 2006 15:04 MST"))
	if purpose == usertoken.PurposeRESET {
		subject, body = "Reset your Whisper password",
			fmt.Sprintf("Hello %s,\n\nSomeone (hopefully you) asked to reset your Whisper password. Choose a new one here:\n\n%s\n\nThe link can be used once and expires in one hour. If you did not ask, ignore this email: your password stays as it is.\n",
				u.Name, l.url)
	}
	if err := c.OutboxMessage.Create().
		SetChannel(outboxmessage.ChannelEMAIL).
		SetRecipient(u.Email).
		SetSubject(subject).
		SetBody(body).
		SetIdempotencyKey(emailKey(t.ID)).
		SetNextAttemptAt(s.now()).
		Exec(system(ctx, "queue an invitation or reset email in the outbox")); err != nil {
		return nil, err
	}
	return &Invitation{ID: t.ID, User: u, URL: l.url, Token: l.token, ExpiresAt: t.ExpiresAt}, nil
}

// redeem uses a token once: in one transaction it marks the token used
// (only if unused and unexpired) and sets the password; then it ends the
// user's other sessions (after a reset) and signs them in. A bad token or
// password changes nothing.
func (s *Service) redeem(ctx context.Context, purpose usertoken.Purpose, token, password string, meta auth.Meta) (*auth.Tokens, error) {
	if err := CheckPassword("password", password); err != nil {
		return nil, err
	}
	sctx := system(ctx, "redeem an invitation or reset link (no viewer until it is used)")
	hash, err := auth.HashPassword(password)
	if err != nil {
		return nil, err
	}
	var u *ent.User
	err = s.tx.Run(sctx, func(tx *ent.Tx, _ txn.Emit) error {
		c := tx.Client()
		t, err := s.consume(sctx, c, purpose, token)
		if err != nil {
			return err
		}
		u, err = c.User.Query().Where(user.ID(t.UserID), user.KindEQ(user.KindSTAFF), user.Active(true)).Only(sctx)
		if ent.IsNotFound(err) {
			return errBadToken
		}
		if err != nil {
			return err
		}
		if err := c.User.UpdateOneID(u.ID).SetPasswordHash(hash).SetFailedLogins(0).ClearLockedUntil().Exec(sctx); err != nil {
			return err
		}
		action := directorylogentry.ActionINVITATION_ACCEPTED
		if purpose == usertoken.PurposeRESET {
			action = directorylogentry.ActionPASSWORD_RESET
		}
		return s.record(ctx, c, entry{action: action, user: u, actor: u})
	})
	if err != nil {
		return nil, err
	}
	if purpose == usertoken.PurposeRESET {
		if _, err := s.auth.RevokeUserSessions(ctx, u.ID, auth.ReasonPasswordChanged, ""); err != nil {
			return nil, err
		}
	}
	return s.auth.Login(ctx, u.Email, password, meta)
}

// emailKey is the outbox idempotency key of a link's email.
func emailKey(token pulid.ID) string { return "directory:" + string(token) }

// forgetEmails deletes the outbox rows of links that can no longer be used
// (redeemed or replaced), so the database keeps no usable link in clear
// longer than the link lives. A row a worker is sending right now stays.
func forgetEmails(ctx context.Context, c *ent.Client, tokens ...pulid.ID) error {
	keys := make([]string, len(tokens))
	for i, t := range tokens {
		keys[i] = emailKey(t)
	}
	_, err := c.OutboxMessage.Delete().
		Where(outboxmessage.IdempotencyKeyIn(keys...), outboxmessage.StatusNEQ(outboxmessage.StatusSENDING)).
		Exec(system(ctx, "forget the email of a link that can no longer be used"))
	return err
}

func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

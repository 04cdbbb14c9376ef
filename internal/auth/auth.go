// Package auth owns sign-in and credentials: password hashing, short-lived
// signed access tokens, rotating refresh tokens bound to revocable sessions,
// integration API keys, and turning a bearer credential into a viewer.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/apikey"
	"github.com/whisper-health/whisper/ent/session"
	"github.com/whisper-health/whisper/ent/setting"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/throttle"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Config tunes the auth service. Zero values take the documented defaults.
type Config struct {
	// Secret signs access tokens (HMAC-SHA256); at least 32 bytes.
	Secret []byte
	// AccessTTL is how long an access token lives (default 15 minutes).
	AccessTTL time.Duration
	// RefreshTTL is how long a session lives without being refreshed
	// (default 30 days).
	RefreshTTL time.Duration
	// MaxFailures is how many wrong passwords in a row lock an account
	// from one client address (default 5); other addresses are unaffected,
	// so knowing an email does not let anyone lock its owner out.
	MaxFailures int
	// LockFor is how long a locked account refuses sign-in from that
	// address (default 15 minutes).
	LockFor time.Duration
	// PasswordChecks is how many password checks one client address may
	// make per minute (default DefaultPasswordChecks), on all replicas
	// together.
	PasswordChecks int
	// Dialect selects the SQL of the shared password-check rate.
	Dialect store.Dialect
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Revoked is told of every session this replica revokes, with the
	// reason its sockets give (SocketReason), so this replica and the others
	// close its sockets (see SessionRevoked).
	Revoked func(id pulid.ID, reason string)
	// SessionCheck is how long a session's check (not revoked, user active,
	// permissions) is reused for further requests with its access tokens
	// (default 10 s). Revocation anywhere ends the reuse at once; a
	// deactivation or a permission change takes effect within this time.
	SessionCheck time.Duration
}

const (
	issuer   = "whisper"
	audience = "whisper-api"
	// APIKeyPrefix starts every integration API key.
	APIKeyPrefix = "wk_"
	// refreshPrefix starts every refresh token.
	refreshPrefix = "wr_"
)

// The reasons a credential is refused (extensions.reason beside
// UNAUTHENTICATED), the same on HTTP, server-sent events and websockets.
const (
	// RefusedTokenExpired: the access token expired; refresh it.
	RefusedTokenExpired = "TOKEN_EXPIRED"
	// RefusedTokenInvalid: the token or key is not one Whisper issued, or
	// no longer names anything (a revoked API key, a used refresh token).
	RefusedTokenInvalid = "TOKEN_INVALID"
	// RefusedSessionRevoked: the session was revoked; sign in again.
	RefusedSessionRevoked = "SESSION_REVOKED"
	// RefusedUserDeactivated: the account was deactivated.
	RefusedUserDeactivated = "USER_DEACTIVATED"
	// RefusedPortalAccessRevoked: staff took a patient's portal access
	// away (the ending of their open streams; later requests are refused
	// with SESSION_REVOKED like any revoked session).
	RefusedPortalAccessRevoked = "PORTAL_ACCESS_REVOKED"
)

// Errors shown to clients. A wrong password and an unknown email share one.
var (
	ErrInvalidCredentials = apperr.New(apperr.Unauthenticated, "invalid email or password")
	ErrThrottled          = apperr.New(apperr.Unauthenticated, "too many failed sign-in attempts; try again later")
	ErrInvalidToken       = apperr.Because(apperr.Unauthenticated, RefusedTokenInvalid, "invalid token")
	ErrTokenExpired       = apperr.Because(apperr.Unauthenticated, RefusedTokenExpired, "access token expired: refresh it")
	ErrSessionRevoked     = apperr.Because(apperr.Unauthenticated, RefusedSessionRevoked, "session has been revoked: sign in again")
	ErrUserDeactivated    = apperr.Because(apperr.Unauthenticated, RefusedUserDeactivated, "account is deactivated")
)

// Service signs users in and authenticates requests.
type Service struct {
	client  *ent.Client
	cfg     Config
	log     *slog.Logger
	unknown *throttle.Shared // failed sign-ins per (address, account), shared by replicas

	passwordRate *throttle.SharedRate // password checks per address, shared by replicas

	mu      sync.Mutex
	checked map[pulid.ID]checkedSession // guarded by mu
	// verified are tokens whose signature and claims checked out, by the
	// token itself: a client sends the same token with every request and
	// socket, and checking it again cost more than the rest of
	// authenticating it. Only the time limits are checked again. Guarded
	// by mu.
	verified map[string]claims
}

// maxVerifiedTokens bounds Service.verified; when it is full it is emptied,
// and the next requests check their tokens again.
const maxVerifiedTokens = 10_000

// checkedSession is a session recently found valid, with its viewer — or,
// with revoked set, a tombstone: a check that began before a revocation
// must not put the session back.
type checkedSession struct {
	viewer  *viewer.Viewer
	at      time.Time
	revoked bool
	// dropped is when the tombstone was set (monotonic): a check that began
	// after it read the session after its revocation or permission change
	// and may be cached again.
	dropped time.Time
}

// New returns an auth service over client.
func New(client *ent.Client, cfg Config, log *slog.Logger) (*Service, error) {
	if len(cfg.Secret) < 32 {
		return nil, errors.New("token secret must be at least 32 bytes")
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.LockFor <= 0 {
		cfg.LockFor = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionCheck <= 0 {
		cfg.SessionCheck = 10 * time.Second
	}
	return &Service{
		checked:  map[pulid.ID]checkedSession{},
		verified: map[string]claims{},
		client:   client,
		cfg:      cfg,
		log:      log,
		unknown:  throttle.NewShared(client, cfg.MaxFailures, cfg.LockFor),

		passwordRate: newPasswordRate(client, cfg.Dialect, cfg.PasswordChecks),
	}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// system returns the privileged context sign-in runs in: before a credential
// is checked there is no viewer to act as. why names the use.
func system(ctx context.Context, why string) context.Context {
	return viewer.NewSystemContext(ctx, "auth: "+why)
}

// Tokens is what a successful sign-in or refresh returns.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresAt    time.Time
	User         *ent.User
}

// Meta describes the client signing in, for the session list.
type Meta struct {
	UserAgent string
	IP        string
}

// NormalizeEmail is the form emails are stored and compared in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Login checks an email and password and opens a session.
func (s *Service) Login(ctx context.Context, email, password string, meta Meta) (*Tokens, error) {
	email = NormalizeEmail(email)
	now := s.now()
	if err := s.allowPasswordCheck(ctx); err != nil {
		return nil, err
	}
	// The attempt is counted before the password is checked, so parallel
	// guesses cannot share a stale count; a correct password resets it.
	key := attemptKey(ctx, "", email)
	if ok, err := s.unknown.Reserve(ctx, key, now); err != nil || !ok {
		if err == nil {
			err = ErrThrottled
		}
		return nil, err
	}
	sctx := system(ctx, "sign-in: find the user, check the password, open a session")
	u, err := s.client.User.Query().
		Where(user.Email(email), user.KindEQ(user.KindSTAFF)).
		Only(sctx)
	if ent.IsNotFound(err) {
		CheckPassword(dummyHash(), password)
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("finding user: %w", err)
	}
	if !u.Active || u.PasswordHash == "" || !CheckPassword(u.PasswordHash, password) {
		return nil, ErrInvalidCredentials
	}
	if err := s.unknown.Reset(ctx, key); err != nil {
		return nil, fmt.Errorf("clearing failed sign-ins: %w", err)
	}
	if err := s.client.User.UpdateOneID(u.ID).SetFailedLogins(0).ClearLockedUntil().Exec(sctx); err != nil {
		return nil, fmt.Errorf("clearing failed sign-ins: %w", err)
	}
	sid := pulid.New("se")
	secret := s.refreshSecret(sid, 0)
	sess, err := s.client.Session.Create().
		SetID(sid).
		SetUserID(u.ID).
		SetRefreshHash(hashSecret(secret)).
		SetExpiresAt(now.Add(s.cfg.RefreshTTL)).
		SetLastUsedAt(now).
		SetUserAgent(truncate(meta.UserAgent, 512)).
		SetIPAddress(truncate(meta.IP, 64)).
		Save(sctx)
	if err != nil {
		return nil, fmt.Errorf("creating session: %w", err)
	}
	s.log.InfoContext(ctx, "signed in", "user", u.ID, "session", sess.ID)
	return s.issue(ctx, u, sess, secret, now)
}

// Refresh rotates a staff refresh token (see rotate): presenting a token
// that was already rotated means it leaked (or a client raced itself), and
// the session is revoked.
func (s *Service) Refresh(ctx context.Context, token string, meta Meta) (*Tokens, error) {
	sess, gen, secret, err := rotate(ctx, s, s.staffSessions(), token, meta)
	if err != nil {
		return nil, err
	}
	sess.RefreshGeneration = gen
	u, err := s.client.User.Get(system(ctx, "load the user of a refreshed session"), sess.UserID)
	if err != nil {
		return nil, fmt.Errorf("loading session user: %w", err)
	}
	if !u.Active {
		return nil, ErrInvalidToken
	}
	return s.issue(ctx, u, sess, secret, s.now())
}

// Logout revokes the viewer's current session.
func (s *Service) Logout(ctx context.Context) error {
	v := viewer.FromContext(ctx)
	if v == nil || v.SessionID == "" {
		return apperr.New(apperr.Unauthenticated, "not signed in with a session")
	}
	if isPatientSession(v.SessionID) {
		return s.revokePatientSession(system(ctx, "revoke the portal patient's own session"), v.SessionID, "logout")
	}
	return s.revoke(system(ctx, "revoke the viewer's own session"), v.SessionID, "logout")
}

// RevokeSession revokes one of the viewer's own sessions.
func (s *Service) RevokeSession(ctx context.Context, id pulid.ID) (*ent.Session, error) {
	// The viewer's own context: the session policy only finds and updates
	// the viewer's own sessions, so a foreign id is NOT_FOUND.
	sess, err := s.client.Session.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if sess.RevokedAt == nil {
		sess, err = s.client.Session.UpdateOne(sess).
			SetRevokedAt(s.now()).
			SetRevokedReason("revoked by user").
			Save(ctx)
		if err != nil {
			return nil, err
		}
		s.notifyRevoked(id, "revoked by user")
	}
	return sess, nil
}

func (s *Service) revoke(ctx context.Context, id pulid.ID, reason string) error {
	err := s.client.Session.Update().
		Where(session.ID(id), session.RevokedAtIsNil()).
		SetRevokedAt(s.now()).
		SetRevokedReason(reason).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoking session: %w", err)
	}
	s.notifyRevoked(id, reason)
	return nil
}

// SessionRevoked forgets this replica's cached check of a session that any
// replica revoked, so its access tokens stop working here at once. (Its
// open sockets are ended by the GraphQL handler, which owns them.)
func (s *Service) SessionRevoked(id pulid.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checked[id] = checkedSession{revoked: true, dropped: tombstoneAt()}
}

// ForgetUser drops this replica's cached checks of every session of a user
// whose access changed (deactivated, permissions changed), so their next
// request or connection is authenticated and authorised afresh.
func (s *Service) ForgetUser(userID pulid.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := tombstoneAt()
	for id, c := range s.checked {
		if c.viewer != nil && c.viewer.UserID == userID {
			s.checked[id] = checkedSession{revoked: true, dropped: at}
		}
	}
}

// SocketReason is the reason a revoked session's sockets give their
// clients (extensions.reason): USER_DEACTIVATED for a deactivation,
// PORTAL_ACCESS_REVOKED when a patient's portal access was taken away,
// SESSION_REVOKED otherwise.
func SocketReason(why string) string {
	switch why {
	case ReasonUserDeactivated:
		return RefusedUserDeactivated
	case ReasonPortalAccessRevoked:
		return RefusedPortalAccessRevoked
	}
	return RefusedSessionRevoked
}

func (s *Service) notifyRevoked(id pulid.ID, why string) {
	s.SessionRevoked(id)
	if s.cfg.Revoked != nil {
		s.cfg.Revoked(id, SocketReason(why))
	}
}

type claims struct {
	SessionID pulid.ID `json:"sid"`
	jwt.RegisteredClaims
}

// issue signs the tokens of a session and, when ctx is a pending sign-in
// context, makes the signed-in user its viewer.
func (s *Service) issue(ctx context.Context, u *ent.User, sess *ent.Session, secret string, now time.Time) (*Tokens, error) {
	v, err := s.userViewer(system(ctx, "load the permissions of the user being signed in"), u.ID)
	if err != nil {
		return nil, err
	}
	v.SessionID = sess.ID
	viewer.SetPending(ctx, v)
	signed, exp, err := s.sign(sess.ID, u.ID, now)
	if err != nil {
		return nil, err
	}
	refresh := refreshToken(sess.ID, sess.RefreshGeneration, secret)
	return &Tokens{AccessToken: signed, RefreshToken: refresh, ExpiresAt: exp, User: u}, nil
}

// sign signs the access token of a session (sid) of subject (a user or a
// patient), and returns it with its expiry.
func (s *Service) sign(sid, subject pulid.ID, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.cfg.AccessTTL)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		SessionID: sid,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Audience:  jwt.ClaimStrings{audience},
			Subject:   string(subject),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	signed, err := tok.SignedString(s.cfg.Secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing access token: %w", err)
	}
	return signed, exp, nil
}

// refreshToken is the refresh token of a session's generation:
// wr_<session>.<generation>.<secret>.
func refreshToken(sid pulid.ID, gen int, secret string) string {
	return refreshPrefix + string(sid) + "." + strconv.Itoa(gen) + "." + secret
}

// Authenticate turns a bearer credential (access token or API key) into a
// viewer, and returns when the credential stops being valid (zero for API
// keys, which live until revoked).
func (s *Service) Authenticate(ctx context.Context, bearer string) (*viewer.Viewer, time.Time, error) {
	if strings.HasPrefix(bearer, APIKeyPrefix) {
		v, err := s.authenticateKey(ctx, bearer)
		return v, time.Time{}, err
	}
	c, err := s.verify(bearer)
	if err != nil {
		return nil, time.Time{}, err
	}
	if pulid.ID(c.Subject).Prefix() == "pa" {
		// A portal patient's token names a portal session (patient_session.go).
		return s.authenticatePatient(ctx, c)
	}
	now := s.cfg.Now()
	s.mu.Lock()
	hit, ok := s.checked[c.SessionID]
	s.mu.Unlock()
	if ok && !hit.revoked && now.Sub(hit.at) < s.cfg.SessionCheck && string(hit.viewer.UserID) == c.Subject {
		return hit.viewer, c.ExpiresAt.Time, nil
	}
	started := tombstoneAt()
	sctx := system(ctx, "authenticate: load the session and the user behind a token")
	v, err := s.checkSession(sctx, c.SessionID, c.Subject)
	if err != nil {
		return nil, time.Time{}, err
	}
	v.SessionID = c.SessionID
	s.mu.Lock()
	if len(s.checked) > 100_000 {
		clear(s.checked) // bounded memory; the next requests re-check
	}
	if old, ok := s.checked[c.SessionID]; !ok || !old.revoked || old.dropped.Before(started) {
		s.checked[c.SessionID] = checkedSession{viewer: v, at: now}
	}
	s.mu.Unlock()
	return v, c.ExpiresAt.Time, nil
}

// verify checks a bearer token's signature and claims (once per token;
// see Service.verified) and returns its claims.
func (s *Service) verify(bearer string) (claims, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	c, ok := s.verified[bearer]
	s.mu.Unlock()
	if ok && c.ExpiresAt != nil && now.Before(c.ExpiresAt.Time) && (c.NotBefore == nil || !now.Before(c.NotBefore.Time)) {
		return c, nil
	}
	c = claims{}
	_, err := jwt.ParseWithClaims(bearer, &c, func(*jwt.Token) (any, error) { return s.cfg.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithTimeFunc(s.cfg.Now),
	)
	if errors.Is(err, jwt.ErrTokenExpired) {
		// Only a token whose signature checked out is called expired: jwt
		// checks the signature before the claims.
		return claims{}, ErrTokenExpired
	}
	if err != nil {
		return claims{}, ErrInvalidToken
	}
	s.mu.Lock()
	if len(s.verified) >= maxVerifiedTokens {
		clear(s.verified)
	}
	s.verified[bearer] = c
	s.mu.Unlock()
	return c, nil
}

func (s *Service) authenticateKey(ctx context.Context, key string) (*viewer.Viewer, error) {
	sctx := system(ctx, "authenticate: load the API key and its service account")
	k, err := s.client.APIKey.Query().Where(apikey.KeyHash(hashSecret(key))).Only(sctx)
	if ent.IsNotFound(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("finding api key: %w", err)
	}
	if k.RevokedAt != nil {
		return nil, ErrInvalidToken
	}
	v, err := s.userViewer(sctx, k.UserID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
		// Best effort: last-used is informational and must not fail a request.
		if err := s.client.APIKey.UpdateOne(k).SetLastUsedAt(now).Exec(sctx); err != nil {
			s.log.WarnContext(ctx, "recording api key use", "key", k.ID, "err", err)
		}
	}
	return v, nil
}

// userViewer loads a user's effective permissions.
func (s *Service) userViewer(ctx context.Context, id pulid.ID) (*viewer.Viewer, error) {
	u, err := s.client.User.Query().Where(user.ID(id)).WithSecurityGroups().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("loading user: %w", err)
	}
	if !u.Active {
		return nil, ErrUserDeactivated
	}
	kind := viewer.Staff
	if u.Kind == user.KindSERVICE {
		kind = viewer.Service
	}
	return &viewer.Viewer{Kind: kind, UserID: u.ID, Perms: EffectivePermissions(u)}, nil
}

// EffectivePermissions is the union of a user's direct grants and the
// permissions of the security groups loaded on u.
func EffectivePermissions(u *ent.User) map[viewer.Permission]bool {
	perms := map[viewer.Permission]bool{}
	for _, p := range u.Permissions {
		perms[viewer.Permission(p)] = true
	}
	for _, g := range u.Edges.SecurityGroups {
		for _, p := range g.Permissions {
			perms[viewer.Permission(p)] = true
		}
	}
	return perms
}

// LoadOrCreateSecret returns the token-signing secret kept in the database,
// creating it on first use. Replicas starting together agree on one secret:
// the insert is conditional and every replica reads back the stored value.
func LoadOrCreateSecret(ctx context.Context, client *ent.Client) ([]byte, error) {
	const key = "token_secret"
	sctx := viewer.NewSystemContext(ctx, "token secret bootstrap")
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	err := client.Setting.Create().
		SetID(key).
		SetValue(hex.EncodeToString(b)).
		OnConflictColumns(setting.FieldID).
		DoNothing().
		Exec(sctx)
	// DoNothing reports ErrNoRows on PostgreSQL when the row existed.
	if err != nil && !errors.Is(err, errNoRows) && !strings.Contains(err.Error(), "no rows in result set") {
		return nil, fmt.Errorf("storing token secret: %w", err)
	}
	st, err := client.Setting.Get(sctx, key)
	if err != nil {
		return nil, fmt.Errorf("loading token secret: %w", err)
	}
	secret, err := hex.DecodeString(st.Value)
	if err != nil || len(secret) < 32 {
		return nil, errors.New("stored token secret is malformed")
	}
	return secret, nil
}

var errNoRows = errors.New("sql: no rows in result set")

// refreshSecret is the secret of a session's refresh token of one
// generation: an HMAC under the token-signing key, so an older generation's
// secret can be recognised (reuse) without storing every hash, and cannot be
// made up by anyone who only knows the session id.
func (s *Service) refreshSecret(sid pulid.ID, gen int) string {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte("whisper refresh token\x00"))
	m.Write([]byte(sid))
	m.Write([]byte{0})
	m.Write([]byte(strconv.Itoa(gen)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func parseRefresh(tok string) (sid pulid.ID, gen int, secret string, ok bool) {
	rest, found := strings.CutPrefix(tok, refreshPrefix)
	if !found {
		return "", 0, "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return "", 0, "", false
	}
	sid = pulid.ID(parts[0])
	gen, err := strconv.Atoi(parts[1])
	if err != nil || gen < 0 || !sid.Valid() || parts[2] == "" {
		return "", 0, "", false
	}
	return sid, gen, parts[2], true
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func hashEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// HashAPIKey is how API keys are stored: a SHA-256, since keys are random
// and long, so no slow hash is needed.
func HashAPIKey(key string) string { return hashSecret(key) }

// Permissions returns a user's effective permissions, loading their
// security groups as the caller (whose policy decides what is visible).
func (s *Service) Permissions(ctx context.Context, u *ent.User) ([]viewer.Permission, error) {
	groups, err := u.Edges.SecurityGroupsOrErr()
	if err != nil {
		// Not loaded with the user (list pages load them for every row).
		if groups, err = u.QuerySecurityGroups().All(ctx); err != nil {
			return nil, err
		}
	}
	names := append([]string(nil), u.Permissions...)
	for _, g := range groups {
		names = append(names, g.Permissions...)
	}
	return viewer.SortedPermissions(names), nil
}

// ActiveSessions lists the viewer's sessions that are neither revoked nor
// expired, most recently used first (the Session policy limits the query to
// the viewer's own).
func (s *Service) ActiveSessions(ctx context.Context) ([]*ent.Session, error) {
	return s.client.Session.Query().
		Where(session.RevokedAtIsNil(), session.ExpiresAtGT(s.now())).
		Order(ent.Desc(session.FieldLastUsedAt)).
		All(ctx)
}

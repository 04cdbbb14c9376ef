package auth

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/throttle"
)

// A password check (argon2id, 19 MiB) is the most expensive thing a client
// can make the server do without signing in, so it is budgeted twice: one
// request verifies at most one password (WithPasswordBudget), and each
// client address gets a bounded rate of them (Config.PasswordChecks, counted
// in the database: every replica shares it). Every
// flow that checks a password — sign-in, portal sign-in, accepting an
// invitation, resetting or changing a password — goes through
// VerifyPassword, so the budgets hold for flows added later.

// Errors of the password budgets.
var (
	// ErrPasswordBudget refuses a second password check in one request.
	ErrPasswordBudget = apperr.New(apperr.ResourceExhausted, "one request may check only one password")
	// ErrPasswordRate refuses a password check past the address's rate.
	ErrPasswordRate = apperr.New(apperr.ResourceExhausted, "too many password attempts from this address; try again in a minute")
)

// DefaultPasswordChecks is how many password checks one client address may
// make per minute (WHISPER_PASSWORD_CHECKS_PER_MINUTE).
const DefaultPasswordChecks = 60

type budgetKey struct{}

// WithPasswordBudget returns a context in which n password checks may be
// made (the GraphQL handler gives each request one). Without a budget in
// the context checks are not counted (workers, tests of the service).
func WithPasswordBudget(ctx context.Context, n int) context.Context {
	b := new(atomic.Int64)
	b.Store(int64(n))
	return context.WithValue(ctx, budgetKey{}, b)
}

// spendPasswordCheck takes one check from ctx's budget.
func spendPasswordCheck(ctx context.Context) error {
	b, ok := ctx.Value(budgetKey{}).(*atomic.Int64)
	if !ok {
		return nil
	}
	if b.Add(-1) < 0 {
		return ErrPasswordBudget
	}
	return nil
}

type clientKey struct{}

// NewClientContext returns a context that names the client making the
// request (its address keys the throttles).
func NewClientContext(ctx context.Context, m Meta) context.Context {
	return context.WithValue(ctx, clientKey{}, m)
}

// ClientFromContext returns the client NewClientContext named, if any.
func ClientFromContext(ctx context.Context) Meta {
	m, _ := ctx.Value(clientKey{}).(Meta)
	return m
}

// newPasswordRate is the per-address rate of password checks, counted in
// the database so that every replica shares it.
func newPasswordRate(client *ent.Client, dialect store.Dialect, perMinute int) *throttle.SharedRate {
	if perMinute <= 0 {
		perMinute = DefaultPasswordChecks
	}
	return throttle.NewSharedRate(client, dialect.IsPostgres(), perMinute, time.Minute)
}

// VerifyPassword checks pw against hash, within the request's budget and
// the client address's rate: past either it refuses with
// RESOURCE_EXHAUSTED before hashing anything.
func (s *Service) VerifyPassword(ctx context.Context, hash, pw string) (bool, error) {
	if err := s.allowPasswordCheck(ctx); err != nil {
		return false, err
	}
	return CheckPassword(hash, pw), nil
}

// HashNewPassword hashes a password its owner is setting (a portal
// invitation accepted), within the request's password budget and the
// client address's rate like a check: hashing costs what checking does.
func (s *Service) HashNewPassword(ctx context.Context, pw string) (string, error) {
	if err := s.allowPasswordCheck(ctx); err != nil {
		return "", err
	}
	return HashPassword(pw)
}

// allowPasswordCheck spends one password check of the request and of its
// client address.
func (s *Service) allowPasswordCheck(ctx context.Context) error {
	if err := spendPasswordCheck(ctx); err != nil {
		return err
	}
	ok, err := s.passwordRate.Allow(ctx, ClientFromContext(ctx).IP, s.now())
	if err != nil {
		return err
	}
	if !ok {
		return ErrPasswordRate
	}
	return nil
}

// attemptKey keys the failed sign-in count of one account from one client
// address: a guesser elsewhere cannot lock its owner out.
func attemptKey(ctx context.Context, kind, email string) string {
	return kind + ClientFromContext(ctx).IP + "\x00" + email
}

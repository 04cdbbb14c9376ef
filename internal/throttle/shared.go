package throttle

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/signinthrottle"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Shared counts failures per key in the database, so that every replica
// behind the load balancer shares one count: a guesser spreading attempts
// over replicas gets no more of them than against one. Only a SHA-256 of
// each key is stored.
type Shared struct {
	client *ent.Client
	max    int
	window time.Duration
}

// NewShared returns a shared limiter allowing max attempts per key per
// window.
func NewShared(client *ent.Client, max int, window time.Duration) *Shared {
	return &Shared{client: client, max: max, window: window}
}

func rowID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Reserve counts one attempt for key before it is checked, in one
// conditional statement (so parallel attempts on any replicas cannot share
// a stale count), and reports false when the key has used its attempts in
// the current window. A success should Reset the key.
func (l *Shared) Reserve(ctx context.Context, key string, now time.Time) (bool, error) {
	ctx = viewer.NewSystemContext(ctx, "throttle: count an attempt (sign-in, reset email) before anyone is signed in")
	id := rowID(key)
	now = now.UTC()
	err := l.client.SignInThrottle.Create().
		SetID(id).SetFailures(0).SetWindowStart(now).
		OnConflictColumns(signinthrottle.FieldID).DoNothing().
		Exec(ctx)
	// DoNothing reports "no rows" on PostgreSQL when the row existed.
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !strings.Contains(err.Error(), "no rows in result set") {
		return false, fmt.Errorf("recording sign-in attempt: %w", err)
	}
	// A window that has passed starts again.
	if err := l.client.SignInThrottle.Update().
		Where(signinthrottle.ID(id), signinthrottle.WindowStartLTE(now.Add(-l.window))).
		SetFailures(0).SetWindowStart(now).
		Exec(ctx); err != nil {
		return false, fmt.Errorf("restarting sign-in window: %w", err)
	}
	n, err := l.client.SignInThrottle.Update().
		Where(signinthrottle.ID(id), signinthrottle.FailuresLT(l.max)).
		AddFailures(1).
		Save(ctx)
	if err != nil {
		return false, fmt.Errorf("counting sign-in attempt: %w", err)
	}
	return n == 1, nil
}

// Reset forgets key's attempts (after a success).
func (l *Shared) Reset(ctx context.Context, key string) error {
	ctx = viewer.NewSystemContext(ctx, "throttle: forget the attempts of a successful sign-in")
	_, err := l.client.SignInThrottle.Delete().Where(signinthrottle.ID(rowID(key))).Exec(ctx)
	return err
}

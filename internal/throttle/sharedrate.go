package throttle

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/viewer"
)

// SharedRate bounds how many attempts one key (a client address) may make
// per window, counted in the database so that every replica shares the
// count: an address spreading its password checks over replicas gets no
// more of them than against one. Each attempt costs one statement (an
// upsert that starts a new window when the last one has passed and returns
// the count); only a SHA-256 of the key is stored.
type SharedRate struct {
	client   *ent.Client
	postgres bool
	max      int
	window   time.Duration
}

// NewSharedRate returns a limiter allowing max attempts per key per window;
// postgres selects PostgreSQL's placeholders (SQLite otherwise).
func NewSharedRate(client *ent.Client, postgres bool, max int, window time.Duration) *SharedRate {
	return &SharedRate{client: client, postgres: postgres, max: max, window: window}
}

// rateUpsert counts one attempt: a new key, or a key whose window began at
// or before the cutoff, starts a window with this attempt; otherwise the
// window's count goes up by one. It returns the count after the attempt.
const rateUpsert = `INSERT INTO sign_in_throttles (id, failures, window_start) VALUES (?, 1, ?)
ON CONFLICT (id) DO UPDATE SET
  failures = CASE WHEN sign_in_throttles.window_start <= ? THEN 1 ELSE sign_in_throttles.failures + 1 END,
  window_start = CASE WHEN sign_in_throttles.window_start <= ? THEN excluded.window_start ELSE sign_in_throttles.window_start END
RETURNING failures`

// Allow counts one attempt for key and reports whether it is within the
// key's rate. Attempts past the rate are counted too (a client that keeps
// trying stays refused until its window passes).
func (r *SharedRate) Allow(ctx context.Context, key string, now time.Time) (bool, error) {
	ctx = viewer.NewSystemContext(ctx, "throttle: count a password check of a client address before anyone is signed in")
	now = now.UTC()
	cutoff := now.Add(-r.window)
	q := rateUpsert
	if r.postgres {
		for i := 1; strings.Contains(q, "?"); i++ {
			q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
		}
	}
	rows, err := r.client.QueryContext(ctx, q, rowID("password-rate\x00"+key), now, cutoff, cutoff)
	if err != nil {
		return false, fmt.Errorf("counting a password check: %w", err)
	}
	defer rows.Close()
	var n int
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return false, fmt.Errorf("counting a password check: %w", err)
		}
		return false, fmt.Errorf("counting a password check: no count returned")
	}
	if err := rows.Scan(&n); err != nil {
		return false, fmt.Errorf("counting a password check: %w", err)
	}
	return n <= r.max, rows.Err()
}

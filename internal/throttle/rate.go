package throttle

import (
	"sync"
	"time"
)

// Rate is a token bucket per key: each key may spend up to burst at once,
// and gets back one token every per. It bounds how often one client address
// may make an expensive attempt (a password check), whether it succeeds or
// not. The zero value is not usable; use NewRate.
type Rate struct {
	burst float64
	per   time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewRate returns a limiter allowing burst attempts per key at once and
// one more every per.
func NewRate(burst int, per time.Duration) *Rate {
	return &Rate{burst: float64(burst), per: per, buckets: map[string]*bucket{}}
}

// Allow spends one of key's tokens and reports whether there was one.
func (r *Rate) Allow(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buckets) >= maxKeys {
		// Bounded memory: a full bucket is the same as no bucket.
		for k, b := range r.buckets {
			if r.refill(b, now) >= r.burst {
				delete(r.buckets, k)
			}
		}
	}
	b := r.buckets[key]
	if b == nil {
		b = &bucket{tokens: r.burst, at: now}
		r.buckets[key] = b
	}
	b.tokens, b.at = r.refill(b, now), now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refill is b's tokens at now.
func (r *Rate) refill(b *bucket, now time.Time) float64 {
	if r.per <= 0 {
		return r.burst
	}
	elapsed := now.Sub(b.at)
	if elapsed < 0 {
		elapsed = 0
	}
	return min(r.burst, b.tokens+float64(elapsed)/float64(r.per))
}

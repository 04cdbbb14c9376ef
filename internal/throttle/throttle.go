// Package throttle owns keyed failure counting: after Max failures for one
// key (an email, a client address) within Window, the key is refused until
// the window has passed.
package throttle

import (
	"sync"
	"time"
)

// maxKeys bounds memory under a spray of distinct keys.
const maxKeys = 100_000

// Limiter counts failures per key. The zero value is not usable; use New.
type Limiter struct {
	max    int
	window time.Duration

	mu      sync.Mutex
	entries map[string]*attempts
}

type attempts struct {
	count int
	first time.Time
}

// New returns a limiter allowing max failures per key per window.
func New(max int, window time.Duration) *Limiter {
	return &Limiter{max: max, window: window, entries: map[string]*attempts{}}
}

// Blocked reports whether key has used up its failures.
func (l *Limiter) Blocked(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.entries[key]
	if a == nil {
		return false
	}
	if now.Sub(a.first) > l.window {
		delete(l.entries, key)
		return false
	}
	return a.count >= l.max
}

// Fail records one failure for key.
func (l *Limiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail(key, now)
}

// fail is Fail with l.mu held.
func (l *Limiter) fail(key string, now time.Time) {
	if len(l.entries) >= maxKeys {
		for k, a := range l.entries {
			if now.Sub(a.first) > l.window {
				delete(l.entries, k)
			}
		}
	}
	a := l.entries[key]
	if a == nil || now.Sub(a.first) > l.window {
		a = &attempts{first: now}
		l.entries[key] = a
	}
	a.count++
}

// Take counts one attempt for key before it is made and reports whether it
// may be made: false once key has used up its failures. Parallel attempts
// are counted one by one, so at most max get through per window; Reset
// forgets the count when an attempt succeeds.
func (l *Limiter) Take(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a := l.entries[key]; a != nil && now.Sub(a.first) <= l.window && a.count >= l.max {
		return false
	}
	l.fail(key, now)
	return true
}

// Reset forgets key's failures (its attempt succeeded).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

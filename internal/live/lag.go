package live

import (
	"sync"
	"time"
)

// lag tracks how long committed messages have waited for delivery: from
// the first catch-up that found a message it could not release (held back
// by a running message-writing transaction, or a failed read) until one
// that released everything committed.
type lag struct {
	mu    sync.Mutex
	since time.Time // zero: caught up
}

func (l *lag) behind(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.since.IsZero() {
		l.since = now
	}
}

func (l *lag) caughtUp() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.since = time.Time{}
}

// DeliveryLag reports how long the oldest committed message that is not
// yet delivered has waited (zero when the hub is caught up): the lag
// between the newest committed message and the newest delivered one.
func (h *Hub) DeliveryLag() time.Duration {
	h.lag.mu.Lock()
	defer h.lag.mu.Unlock()
	if h.lag.since.IsZero() {
		return 0
	}
	return time.Since(h.lag.since)
}

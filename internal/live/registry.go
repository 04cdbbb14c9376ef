package live

import (
	"context"
	"sync"

	"github.com/whisper-health/whisper/internal/pulid"
)

// byUser holds one kind of subscription, indexed by the subscribed user.
// Its methods take the hub's lock.
type byUser[T comparable] map[pulid.ID]map[T]struct{}

// add registers s for user until ctx ends (the subscription ended), and
// returns what removes it sooner (the stream was cut off). Either way it is
// removed once, by a callback: no goroutine waits for the end.
func (r byUser[T]) add(mu *sync.Mutex, user pulid.ID, s T, ctx context.Context) (remove func()) {
	mu.Lock()
	if r[user] == nil {
		r[user] = map[T]struct{}{}
	}
	r[user][s] = struct{}{}
	mu.Unlock()
	var once sync.Once
	drop := func() {
		once.Do(func() {
			mu.Lock()
			delete(r[user], s)
			if len(r[user]) == 0 {
				delete(r, user)
			}
			mu.Unlock()
		})
	}
	stop := context.AfterFunc(ctx, drop)
	return func() {
		stop()
		drop()
	}
}

// of lists user's subscriptions.
func (r byUser[T]) of(mu *sync.Mutex, user pulid.ID) []T {
	mu.Lock()
	defer mu.Unlock()
	out := make([]T, 0, len(r[user]))
	for s := range r[user] {
		out = append(out, s)
	}
	return out
}

package live

import (
	"sync"

	"github.com/whisper-health/whisper/internal/pulid"
)

// byUser holds one kind of subscription, indexed by the subscribed user.
// Its methods take the hub's lock.
type byUser[T comparable] map[pulid.ID]map[T]struct{}

// add registers s for user until done is closed (the subscription's context
// ended, or it was cut off), then removes it.
func (r byUser[T]) add(mu *sync.Mutex, user pulid.ID, s T, done ...<-chan struct{}) {
	mu.Lock()
	if r[user] == nil {
		r[user] = map[T]struct{}{}
	}
	r[user][s] = struct{}{}
	mu.Unlock()
	go func() {
		wait(done...)
		mu.Lock()
		delete(r[user], s)
		if len(r[user]) == 0 {
			delete(r, user)
		}
		mu.Unlock()
	}()
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

// wait returns when any of chans is closed.
func wait(chans ...<-chan struct{}) {
	switch len(chans) {
	case 1:
		<-chans[0]
	case 2:
		select {
		case <-chans[0]:
		case <-chans[1]:
		}
	}
}

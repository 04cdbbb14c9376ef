package live

import (
	"context"
	"sync"

	"github.com/whisper-health/whisper/internal/apperr"
)

// How the server ends a stream it cannot keep. The transport turns each into
// the subscription's error (extensions.code UNAVAILABLE, with a reason), so a
// client never reads the end as "finished".
var (
	// ErrSlowConsumer ends a stream whose subscriber fell too far behind:
	// its client reconnects and resumes (messageAdded with after:) or
	// reloads. On a websocket every stream of the socket ends with it.
	ErrSlowConsumer = apperr.New(apperr.Unavailable, "too far behind: resume with after:")
	// ErrEventsLost ends a stream whose missed events cannot be
	// reconstructed (channelUpdated, notificationAdded after a resync): its
	// client subscribes again and reloads what the stream describes.
	ErrEventsLost = apperr.New(apperr.Unavailable, "events were lost: subscribe again and reload")
)

// feed is the bounded queue of one event stream (channelUpdated,
// notificationAdded): the hub never blocks on it; a subscriber whose queue is
// full has fallen behind and its stream ends with ErrSlowConsumer.
type feed[T any] struct {
	ctx context.Context // the subscriber's: where its end is reported
	out chan T

	mu         sync.Mutex
	closed     bool
	unregister func() // takes the stream out of the hub's registry
}

func newFeed[T any](ctx context.Context, size int) *feed[T] {
	return &feed[T]{ctx: ctx, out: make(chan T, size)}
}

// registered records how the stream leaves the hub's registry when it is
// cut off (it leaves by itself when its context ends); a stream already
// cut off leaves now.
func (f *feed[T]) registered(unregister func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		unregister()
		return
	}
	f.unregister = unregister
}

// send queues v, or ends a subscriber that fell behind.
func (f *feed[T]) send(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	select {
	case f.out <- v:
	default:
		reportFellBehind(f.ctx)
		f.endLocked(ErrSlowConsumer)
	}
}

// end ends the stream with err, reported before the stream closes.
func (f *feed[T]) end(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endLocked(err)
}

func (f *feed[T]) endLocked(err error) {
	if f.closed {
		return
	}
	f.closed = true
	reportEnd(f.ctx, err)
	if f.unregister != nil {
		f.unregister()
	}
	close(f.out)
}

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
// notificationAdded): the hub never blocks on it; a subscriber with size
// events waiting has fallen behind and its stream ends with ErrSlowConsumer.
// The queue grows with what is waiting: a few events sit in the stream's
// channel, more wait in a slice that a goroutine, running only while there
// are some, hands on in order. An idle subscriber holds no buffer and no
// goroutine of its own.
type feed[T any] struct {
	ctx  context.Context // the subscriber's: where its end is reported
	out  chan T
	size int // most events waiting (Config.Buffer)

	mu         sync.Mutex
	over       []T           // waiting for room in out, in order
	pumping    bool          // a goroutine hands over on: it closes out once ended
	quit       chan struct{} // closed to stop the pump at once (fell behind)
	closed     bool
	unregister func() // takes the stream out of the hub's registry
}

// feedChan is the capacity of a feed's channel: the events a client has not
// read yet beyond it wait in the feed's slice.
const feedChan = 4

func newFeed[T any](ctx context.Context, size int) *feed[T] {
	return &feed[T]{ctx: ctx, out: make(chan T, min(size, feedChan)), size: size}
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
	if !f.pumping {
		select {
		case f.out <- v:
			return
		default:
		}
	}
	if len(f.out)+len(f.over) >= f.size {
		reportFellBehind(f.ctx)
		f.endLocked(ErrSlowConsumer)
		return
	}
	f.over = append(f.over, v)
	if !f.pumping {
		f.pumping = true
		f.quit = make(chan struct{})
		go f.pump(f.quit)
	}
}

// pump hands the waiting events on, in order, and ends once none wait (or
// the subscriber is gone); a stream ended meanwhile closes after them.
func (f *feed[T]) pump(quit <-chan struct{}) {
	for {
		f.mu.Lock()
		if len(f.over) == 0 {
			f.over = nil
			f.pumping = false
			if f.closed {
				close(f.out)
			}
			f.mu.Unlock()
			return
		}
		v := f.over[0]
		var zero T
		f.over[0] = zero
		f.over = f.over[1:]
		f.mu.Unlock()
		select {
		case f.out <- v:
		case <-quit:
			// Fell behind: what waits is dropped (the client resumes or
			// reloads), and the stream closes after what its channel holds.
			f.mu.Lock()
			f.over = nil
			f.pumping = false
			close(f.out)
			f.mu.Unlock()
			return
		case <-f.ctx.Done():
			f.mu.Lock()
			f.over = nil
			f.pumping = false
			f.mu.Unlock()
			return
		}
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
	switch {
	case !f.pumping:
		close(f.out)
	case err == ErrSlowConsumer:
		close(f.quit)
	}
}

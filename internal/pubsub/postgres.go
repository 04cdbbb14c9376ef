package pubsub

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
	"github.com/whisper-health/whisper/internal/apperr"
)

// notifyChannel is the PostgreSQL channel Whisper's replicas talk on.
const notifyChannel = "whisper_events"

// maxPayload stays under PostgreSQL's 8000-byte NOTIFY payload limit.
const maxPayload = 7500

// maxBatch is the most events one batch takes from the queue (10,000
// long): at one batch per DefaultNotifyGap, 200,000 events a second.
const maxBatch = 1000

// DefaultNotifyGap is the least time between two batches of NOTIFYs while
// events keep coming: events published within it of the last batch go to
// the other replicas together in the next (as few NOTIFYs as their payload
// fits), at most this much later. The first event after a quiet spell goes
// at once. (Each NOTIFY is a statement, and wakes every replica's
// listener.)
const DefaultNotifyGap = 5 * time.Millisecond

// Option configures a Postgres bus.
type Option func(*Postgres)

// WithNotifyGap sets the least time between two batches of NOTIFYs
// (default DefaultNotifyGap; negative: none).
func WithNotifyGap(d time.Duration) Option { return func(p *Postgres) { p.gap = d } }

// Postgres is the bus between replicas sharing one PostgreSQL database:
// NOTIFY to publish (outside any write transaction, batched), and lib/pq's
// listener to receive. When the listener reconnects it cannot know what it
// missed, so subscribers get Resync. The publishing replica's own
// subscribers get its events at once, not by way of the database: each
// event carries the replica's origin, and its echo is left out.
type Postgres struct {
	origin   string
	db       *sql.DB
	log      *slog.Logger
	f        *fanout
	queue    chan Event
	gap      time.Duration // see DefaultNotifyGap
	notifies atomic.Int64  // NOTIFY statements sent (see Notifies)
	listener *pq.Listener
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	ready    atomic.Bool
	// lost is set when an event could not be published: subscribers here
	// got Resync at once, and peers get one with the next NOTIFY that
	// succeeds (retried every second until then).
	lost atomic.Bool
}

// NewPostgres starts a bus over db; dsn is used for the listener's own
// connection.
func NewPostgres(db *sql.DB, dsn string, log *slog.Logger, opts ...Option) (*Postgres, error) {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	p := &Postgres{origin: hex.EncodeToString(id[:]), db: db, log: log, f: newFanout(), queue: make(chan Event, 10000), gap: DefaultNotifyGap}
	for _, o := range opts {
		o(p)
	}
	p.listener = pq.NewListener(dsn, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnected:
			p.ready.Store(true)
		case pq.ListenerEventDisconnected:
			p.ready.Store(false)
			log.Warn("event listener disconnected; reconnecting", "err", err)
		case pq.ListenerEventReconnected:
			p.ready.Store(true)
			log.Info("event listener reconnected")
		case pq.ListenerEventConnectionAttemptFailed:
			log.Warn("event listener cannot connect", "err", err)
		}
	})
	if err := p.listener.Listen(notifyChannel); err != nil {
		p.listener.Close()
		return nil, fmt.Errorf("listening for events: %w", err)
	}
	p.ready.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go p.forever(ctx, "event receiver", p.receive)
	go p.forever(ctx, "event sender", p.send)
	return p, nil
}

// Ready reports whether the listener is connected.
func (p *Postgres) Ready() bool { return p.ready.Load() }

// Publish implements Bus: events are delivered here at once, and queued
// for the other replicas, to which one goroutine sends them, in order,
// batched into as few NOTIFYs as fit.
func (p *Postgres) Publish(_ context.Context, events ...Event) {
	p.f.deliver(events...)
	dropped := false
	for _, e := range events {
		e.Origin = p.origin
		select {
		case p.queue <- e:
		default:
			p.log.Warn("event queue full; dropping event", "kind", e.Kind)
			dropped = true
		}
	}
	if dropped {
		p.lose()
	}
}

// lose records that events were lost: this replica's subscribers resync
// now, the peers with the next NOTIFY that gets through.
func (p *Postgres) lose() {
	p.lost.Store(true)
	p.f.deliver(Event{Kind: Resync})
}

// Subscribe implements Bus.
func (p *Postgres) Subscribe(buf int) *Subscription { return p.f.subscribe(buf) }

// Close stops the bus.
func (p *Postgres) Close() error {
	p.cancel()
	p.wg.Wait()
	return p.listener.Close()
}

// forever runs loop until ctx ends, restarting it after a panic.
func (p *Postgres) forever(ctx context.Context, what string, loop func(context.Context)) {
	defer p.wg.Done()
	for ctx.Err() == nil {
		func() {
			defer recoverPanic(p.log, what)
			loop(ctx)
		}()
	}
}

func (p *Postgres) receive(ctx context.Context) {
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-p.listener.Notify:
			if n == nil {
				// Reconnected: whatever was sent meanwhile is lost.
				p.f.deliver(Event{Kind: Resync})
				continue
			}
			var events []Event
			if err := json.Unmarshal([]byte(n.Extra), &events); err != nil {
				p.log.Warn("undecodable event payload", "err", err)
				p.f.deliver(Event{Kind: Resync})
				continue
			}
			p.f.deliver(p.foreign(events)...)
		case <-ping.C:
			go func() { _ = p.listener.Ping() }()
		}
	}
}

// foreign leaves out of events those this replica published (and
// delivered when it did).
func (p *Postgres) foreign(events []Event) []Event {
	out := events[:0]
	for _, e := range events {
		if e.Origin != p.origin {
			out = append(out, e)
		}
	}
	return out
}

func (p *Postgres) send(ctx context.Context) {
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	gap := time.NewTimer(time.Hour)
	gap.Stop()
	var last time.Time
	for {
		var batch []Event
		select {
		case <-ctx.Done():
			return
		case e := <-p.queue:
			batch = append(batch, e)
		case <-retry.C:
			if !p.lost.Load() {
				continue
			}
		}
		// Within the gap of the last batch, wait for the rest of it:
		// whatever is published meanwhile goes in the same batch.
		if wait := p.gap - time.Since(last); wait > 0 {
			gap.Reset(wait)
			select {
			case <-ctx.Done():
				gap.Stop()
				return
			case <-gap.C:
			}
		}
		if p.lost.Swap(false) {
			batch = append([]Event{{Kind: Resync}}, batch...)
		}
		// Gather what else is queued, without waiting.
	more:
		for len(batch) < maxBatch {
			select {
			case e := <-p.queue:
				batch = append(batch, e)
			default:
				break more
			}
		}
		last = time.Now() // when the last batch went
		for _, payload := range chunk(batch) {
			if err := p.notify(ctx, payload); err != nil {
				p.log.Warn("publishing events failed; replicas will resync", "err", err, "events", len(batch))
				p.lose()
			}
		}
	}
}

// Notifies reports how many NOTIFY statements the bus has sent.
func (p *Postgres) Notifies() int64 { return p.notifies.Load() }

func (p *Postgres) notify(ctx context.Context, payload string) error {
	p.notifies.Add(1)
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if _, err = p.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", notifyChannel, payload); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	return err
}

// chunk encodes events as JSON arrays that each fit in one NOTIFY. An event
// too big for one (a change to a channel of hundreds of members) is split by
// its user lists — receivers act per user — or, failing that, becomes a
// Resync.
func chunk(events []Event) []string {
	var out []string
	var cur []Event
	size := 2
	for _, e := range split(events) {
		b, _ := json.Marshal(e)
		if len(cur) > 0 && size+len(b)+1 > maxPayload {
			enc, _ := json.Marshal(cur)
			out = append(out, string(enc))
			cur, size = nil, 2
		}
		cur = append(cur, e)
		size += len(b) + 1
	}
	if len(cur) > 0 {
		enc, _ := json.Marshal(cur)
		out = append(out, string(enc))
	}
	return out
}

func recoverPanic(log *slog.Logger, what string) {
	if r := recover(); r != nil {
		log.Error("panic in "+what, apperr.PanicAttrs(r)...)
	}
}

// split breaks events whose encoding exceeds maxPayload into several, each
// carrying part of the Users and Removed lists.
func split(events []Event) []Event {
	var out []Event
	for _, e := range events {
		b, _ := json.Marshal(e)
		if len(b) <= maxPayload {
			out = append(out, e)
			continue
		}
		const per = 150 // ids of 28 characters: well under the limit
		if len(e.Users)+len(e.Removed) == 0 {
			out = append(out, Event{Kind: Resync})
			continue
		}
		for i := 0; i < len(e.Users); i += per {
			part := e
			part.Users, part.Removed = e.Users[i:min(i+per, len(e.Users))], nil
			out = append(out, part)
		}
		for i := 0; i < len(e.Removed); i += per {
			part := e
			part.Users, part.Removed = nil, e.Removed[i:min(i+per, len(e.Removed))]
			out = append(out, part)
		}
	}
	return out
}

// Package pubsub owns the event bus between replicas: small events carrying
// ids, never bodies, published after the transaction that caused them has
// committed. An event is a hint — the database stays the truth — so a lost
// event costs latency, not data: after a gap (a listener reconnect, a full
// buffer) subscribers receive Resync and catch up from the database.
package pubsub

import (
	"context"
	"sync"

	"github.com/whisper-health/whisper/internal/pulid"
)

// Kind says what happened.
type Kind string

// The kinds of event.
const (
	// Message: a message committed in Channel.
	Message Kind = "msg"
	// Read: a user's read mark moved in Channel.
	Read Kind = "read"
	// ChannelChanged: Channel was created, renamed, or its members changed;
	// Users are everyone affected (members before and after).
	ChannelChanged Kind = "chan"
	// SessionRevoked: Session was revoked, or its user's permissions
	// changed; its sockets must close and its cached check be dropped.
	SessionRevoked Kind = "revoke"
	// AccessEnded: the live connections of Users (staff users, service
	// accounts or patients) must end, for the reason in Change (the account
	// was deactivated, its access changed).
	AccessEnded Kind = "end"
	// Notification: notifications for Users changed.
	Notification Kind = "note"
	// Resync: events may have been lost; catch up from the database.
	Resync Kind = "resync"
)

// The reasons an AccessEnded event gives (the socket error's
// extensions.reason).
const (
	// EndDeactivated: the account was deactivated.
	EndDeactivated = "USER_DEACTIVATED"
	// EndAccessChanged: the principal's permissions changed.
	EndAccessChanged = "ACCESS_CHANGED"
)

// Event is one thing that happened, by id.
type Event struct {
	Kind      Kind       `json:"k"`
	Channel   pulid.ID   `json:"c,omitempty"`
	Message   pulid.ID   `json:"m,omitempty"`
	Users     []pulid.ID `json:"u,omitempty"`
	Removed   []pulid.ID `json:"r,omitempty"`
	Session   pulid.ID   `json:"s,omitempty"`
	Change    string     `json:"x,omitempty"`
	Timestamp int64      `json:"t,omitempty"`
	// Origin names the replica that published the event on a bus between
	// replicas: that replica delivered it to its own subscribers already.
	Origin string `json:"o,omitempty"`
}

// Bus carries events to every replica, this one included.
type Bus interface {
	// Publish sends events; it never blocks on slow subscribers and never
	// fails the caller (a lost event is recovered by Resync).
	Publish(ctx context.Context, events ...Event)
	// Subscribe returns a subscription with a buffer of size buf.
	Subscribe(buf int) *Subscription
}

// Subscription receives events until Close.
type Subscription struct {
	c      chan Event
	fanout *fanout
	gap    bool // guarded by fanout.mu
}

// C is the channel of events.
func (s *Subscription) C() <-chan Event { return s.c }

// Close stops the subscription.
func (s *Subscription) Close() { s.fanout.remove(s) }

// fanout delivers events to local subscribers without ever blocking: a
// subscriber whose buffer is full gets Resync as soon as there is room.
type fanout struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

func newFanout() *fanout { return &fanout{subs: map[*Subscription]struct{}{}} }

func (f *fanout) subscribe(buf int) *Subscription {
	if buf < 1 {
		buf = 1
	}
	s := &Subscription{c: make(chan Event, buf), fanout: f}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	return s
}

func (f *fanout) remove(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[s]; ok {
		delete(f.subs, s)
		close(s.c)
	}
}

func (f *fanout) deliver(events ...Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		for _, e := range events {
			if s.gap {
				select {
				case s.c <- Event{Kind: Resync}:
					s.gap = false
				default:
					continue
				}
			}
			select {
			case s.c <- e:
			default:
				s.gap = true
			}
		}
	}
}

// Memory is the bus of a single process (SQLite deployments, tests).
type Memory struct{ f *fanout }

// NewMemory returns an in-process bus.
func NewMemory() *Memory { return &Memory{f: newFanout()} }

// Publish implements Bus.
func (m *Memory) Publish(_ context.Context, events ...Event) { m.f.deliver(events...) }

// Subscribe implements Bus.
func (m *Memory) Subscribe(buf int) *Subscription { return m.f.subscribe(buf) }

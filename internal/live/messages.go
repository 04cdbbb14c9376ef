package live

import (
	"context"
	"log/slog"
	"sync"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// msgSub is one messageAdded subscription.
type msgSub struct {
	ctx     context.Context // the subscriber's, for access checks
	viewer  *viewer.Viewer
	channel *pulid.ID
	patient bool // may see every patient conversation (care team)

	mu      sync.Mutex
	pending [][]*ent.Message  // one slice per release, so a burst is one entry
	first   [1][]*ent.Message // pending's array while one release is pending
	limit   int               // most releases pending (Config.Buffer)
	closed  bool
	reason  error // why the server ended the stream, when it was for access

	// The stream's forwarder goroutine runs only while there is something
	// to do (see stream.run): running says one is (or the stream is
	// finished), set and cleared under mu, so a release pushed while it
	// decides to stop is never left behind and there is never more than
	// one, which keeps the order. st is nil in unit tests of the queue.
	running bool
	st      *stream
	// wake, in a pulled stream (see MessageStream), tells its consumer
	// that there is something to do; it replaces the forwarder. done is
	// set (under mu) once the subscriber's context has ended: cheaper to
	// look at for every message than ctx.Err, which walks the context's
	// chain of values.
	wake chan struct{}
	done bool

	// A pulled stream may have its live messages written straight to its
	// client by the hub's writers (see MessageStream.WriteDirectly):
	// direct writes one, parked says (under mu) that the consumer waits
	// in Next with nothing in hand, and writing is held by a writer while
	// it delivers a release that way and by the consumer while it decides
	// what to do next (step), so that the two never deliver at once.
	direct  func(*ent.Message) bool
	parked  bool
	writing sync.Mutex
}

// directChunk is how many subscribers one of the hub's writer goroutines
// serves in a release (see Hub.release), after the first, which serves
// directFirstChunk so that writing starts early: a write that waits holds
// up at most the rest of its chunk.
const (
	directFirstChunk = 16
	directChunk      = 64
)

// directRelease is one subscriber's share of a release, reserved for a
// direct write.
type directRelease struct {
	s     *msgSub
	batch []*ent.Message
}

// reserve takes a release for a direct write when the subscriber's
// consumer is parked with nothing pending and the stream goes on; the
// caller then delivers it with deliverDirect, which lets writing go.
func (s *msgSub) reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.direct == nil || !s.parked || s.closed || s.done || len(s.pending) > 0 {
		return false
	}
	return s.writing.TryLock()
}

// deliverDirect writes a reserved release to the client, deciding each
// message as Next would; the first message it cannot write, and the rest
// after it, go back in front of the queue for the consumer to deliver, in
// order.
func (s *msgSub) deliverDirect(batch []*ent.Message, log *slog.Logger) {
	defer s.writing.Unlock()
	st, i := s.st, 0
	defer func() {
		if r := recover(); r != nil {
			// The consumer delivers the message again (twice, should the
			// panic have come after the write).
			log.Error("panic writing a message to a subscriber", apperr.PanicAttrs(r)...)
			s.requeue(batch[i:])
		}
	}()
	for ; i < len(batch); i++ {
		m := batch[i]
		switch st.admit(m) {
		case skip:
			continue
		case send:
			if s.direct(current(m)) {
				st.sent(m)
				continue
			}
		}
		s.requeue(batch[i:])
		return
	}
}

// requeue puts what a direct write left in front of the queue and wakes
// the consumer; nothing is queued once the stream is done for.
func (s *msgSub) requeue(rest []*ent.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leftLocked() {
		return
	}
	s.pending = append([][]*ent.Message{rest}, s.pending...)
	s.kickLocked()
}

// wants decides, per event, whether this subscriber may receive m now: it
// must be in the subscription's channel (if one was named) and the viewer
// must be a member of the channel at release time, share the channel as
// care team, or be the portal patient it is about.
func (s *msgSub) wants(m *ent.Message, kind channel.Kind, members map[pulid.ID]bool) bool {
	if s.channel != nil && *s.channel != m.ChannelID {
		return false
	}
	return members[s.viewer.UserID] || (kind == channel.KindPATIENT && (s.patient || ownConversation(s.viewer, m)))
}

// share returns the messages of a release the subscriber may see (see
// wants): all itself when they may see every one, else a slice of their
// own.
func (s *msgSub) share(release []releasedMessage, all []*ent.Message) []*ent.Message {
	var mine []*ent.Message
	whole := true
	for i, r := range release {
		switch {
		case s.wants(r.m, r.kind, r.members):
			if !whole {
				mine = append(mine, r.shared)
			}
		case whole:
			whole = false
			mine = append([]*ent.Message(nil), all[:i]...)
		}
	}
	if whole {
		return all
	}
	return mine
}

// push queues one release's messages without ever blocking the hub: a
// subscriber whose queue is full is dropped, and its client resumes from
// its last cursor.
func (s *msgSub) push(batch []*ent.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if len(s.pending) < s.limit {
		// The queue grows with what is pending and is released once
		// drained: an idle subscriber holds no buffer. The usual single
		// release waits in first, so a push allocates nothing.
		if s.pending == nil {
			s.pending = s.first[:0]
		}
		s.pending = append(s.pending, batch)
	} else if s.ctx.Err() != nil {
		// Its subscriber has left (abandon, or the forwarder, has not run
		// yet): nothing to report, and nobody to end the socket for.
		s.closed, s.done, s.pending = true, true, nil
	} else {
		// Reported at once: the stream's goroutine may be blocked handing
		// a message to a client that does not read. Nothing queued is
		// delivered after it; the client resumes by cursor.
		s.closed = true
		s.reason = ErrSlowConsumer
		reportFellBehind(s.ctx)
		reportEnd(s.ctx, ErrSlowConsumer)
	}
	s.kickLocked()
}

// kickLocked starts the stream's forwarder unless one is running, or
// wakes the consumer of a pulled stream; s.mu is held.
func (s *msgSub) kickLocked() {
	if s.wake != nil {
		select {
		case s.wake <- struct{}{}:
		default: // already woken
		}
		return
	}
	if s.running || s.st == nil {
		return
	}
	s.running = true
	go s.st.run()
}

// kick starts the stream's forwarder unless one is running, or wakes a
// pulled stream's consumer; it runs when the subscriber's context ends.
func (s *msgSub) kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	s.kickLocked()
}

// next takes the oldest pending release, if any.
func (s *msgSub) next() ([]*ent.Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextLocked()
}

// nextLocked is next with s.mu held.
func (s *msgSub) nextLocked() ([]*ent.Message, bool) {
	if len(s.pending) == 0 {
		return nil, false
	}
	batch := s.pending[0]
	s.pending[0] = nil
	s.pending = s.pending[1:]
	if len(s.pending) == 0 {
		s.pending = nil // the backing array goes with the burst
		s.first[0] = nil
	}
	return batch, true
}

// end stops the subscription because its viewer lost access to its only
// channel; reason is sent to the client before the stream completes.
func (s *msgSub) end(reason error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.reason = reason
		s.kickLocked()
	}
}

// endReason returns why the stream was ended, if for access.
func (s *msgSub) endReason() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

type endKey struct{}

// OnEnd returns ctx carrying report: a stream started with it that the
// server ends because the viewer lost access (removed from the channel, or
// the channel is gone for them) calls report with a FORBIDDEN or NOT_FOUND
// error just before its channel closes, so the client can tell "stop" from
// "resume". The transport layer turns it into the subscription's error.
func OnEnd(ctx context.Context, report func(error)) context.Context {
	return context.WithValue(ctx, endKey{}, report)
}

func reportEnd(ctx context.Context, err error) {
	if report, ok := ctx.Value(endKey{}).(func(error)); ok && err != nil {
		report(err)
	}
}

// recheck ends a one-channel stream whose viewer may no longer read the
// channel: FORBIDDEN when it still exists (they were removed), NOT_FOUND
// when it is gone.
func (h *Hub) recheck(ctx context.Context, s *msgSub) {
	if s.channel == nil {
		return
	}
	visible, err := h.client.Channel.Query().Where(channel.ID(*s.channel)).Exist(s.ctx)
	if err != nil || visible {
		return
	}
	exists, err := h.client.Channel.Query().Where(channel.ID(*s.channel)).Exist(system(ctx, "tell a removed member from a deleted channel"))
	switch {
	case err != nil:
		return
	case exists:
		s.end(apperr.New(apperr.Forbidden, "you are no longer a member of this conversation"))
	default:
		s.end(apperr.New(apperr.NotFound, "this conversation no longer exists"))
	}
}

// Messages streams the messages the viewer may see — in one channel, or in
// all of theirs — from after the cursor (replaying what was missed, in
// order, once) or from now.
//
// Exactness. Inside one channel, sequence numbers are handed out under the
// channel row's lock, so seq order is commit order: a one-channel stream
// resumes by seq and is exact for any cursor of that channel, whether the
// stream, a query or a mutation produced it. The all-channels stream is
// exact, by seq, in the cursor's own channel; in the viewer's other channels
// it resumes by stream position (txid, channel, seq), which is exact for a
// cursor the stream delivered (everything below it had committed when it
// was released). A cursor from a query or mutation is exact there only once
// its message is below the commit horizon; a message of another channel
// whose transaction began before the cursor's and committed after it is not
// replayed from such a cursor. Whatever the cursor, no message is delivered
// twice and no message at or before the cursor is delivered.
func (h *Hub) Messages(ctx context.Context, channelID *pulid.ID, after *messenger.Cursor) (<-chan *ent.Message, error) {
	st, err := h.open(ctx, channelID, after, false)
	if err != nil {
		return nil, err
	}
	out := make(chan *ent.Message)
	st.out = out
	st.closeOut = func() { close(out) }
	st.sub.st = st
	// The context's end kicks the forwarder, which closes out promptly.
	st.stop = context.AfterFunc(ctx, st.sub.kick)
	go st.run()
	return out, nil
}

// MessageStream is a messageAdded stream its consumer pulls from (see
// Hub.PullMessages): the same messages, in the same order, as Messages
// sends on its channel, without a goroutine between the hub and the
// consumer.
type MessageStream struct {
	st *stream
}

// PullMessages is Messages for a consumer that pulls: each Next call
// returns the stream's next message, waiting for it as long as needed. The
// consumer's own goroutine does the work the forwarder of Messages does,
// so a live message reaches it with one wake-up and no hand-off; the
// replay from a cursor, and the rare fill of a gap, run in a helper
// goroutine for as long as they last, one message at a time.
func (h *Hub) PullMessages(ctx context.Context, channelID *pulid.ID, after *messenger.Cursor) (*MessageStream, error) {
	st, err := h.open(ctx, channelID, after, true)
	if err != nil {
		return nil, err
	}
	st.sub.st = st
	st.stop = context.AfterFunc(ctx, st.abandon)
	return &MessageStream{st: st}, nil
}

// WriteDirectly lets the hub deliver the stream's live messages with
// write, from a writer goroutine of its own, whenever the consumer waits
// in Next with nothing pending: such a message does not wake the
// consumer's goroutine. The stream decides what goes out exactly as Next
// does (order, resume cursor, gaps). write reports whether it delivered m;
// when it did not, the consumer's Next returns m and what follows it. It
// must not block for long: up to directChunk other subscribers' writes
// wait behind it (graph's waits at most 50 ms for an encoding, and 1 s for
// a write). Call it before the first Next.
func (p *MessageStream) WriteDirectly(write func(*ent.Message) bool) {
	s := p.st.sub
	s.mu.Lock()
	s.direct = write
	s.mu.Unlock()
}

// abandon ends a pulled stream when its context ends: the hub forgets it
// at once, whether or not its consumer calls Next again (gqlgen may stop
// pulling a subscription as soon as its context ends), so it is never fed
// again nor reported as a slow consumer; a waiting Next wakes and returns
// false.
func (st *stream) abandon() {
	s := st.sub
	s.mu.Lock()
	s.done = true
	s.closed = true
	s.pending = nil
	s.kickLocked()
	s.mu.Unlock()
	st.h.mu.Lock()
	delete(st.h.msgs, s)
	st.h.mu.Unlock()
}

// open checks the viewer, fixes where the stream starts and registers it
// with the hub; pull makes it a pulled stream (see PullMessages).
func (h *Hub) open(ctx context.Context, channelID *pulid.ID, after *messenger.Cursor, pull bool) (*stream, error) {
	v, err := rule.ConversationParticipant.Check(ctx)
	if err != nil {
		return nil, err
	}
	st := &stream{h: h, after: after, last: map[pulid.ID]int64{}}
	if channelID != nil {
		// A channel the viewer cannot see is NOT_FOUND, as everywhere.
		ch, err := h.client.Channel.Get(ctx, *channelID)
		if err != nil {
			return nil, err
		}
		switch {
		case after == nil:
			st.last[ch.ID] = ch.LastSeq
		case after.Channel != ch.ID:
			return nil, apperr.Invalid("after", "after is the cursor of a message in another channel")
		default:
			st.last[ch.ID] = after.Seq
		}
	} else if after != nil {
		st.last[after.Channel] = after.Seq
	}
	select {
	case <-h.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s := &msgSub{
		ctx:     ctx,
		viewer:  v,
		channel: channelID,
		patient: rule.Messaging.Holds(v),
		limit:   h.cfg.Buffer,
		running: true, // the first forwarder replays (see run)
	}
	if pull {
		s.wake = make(chan struct{}, 1)
	}
	st.sub = s
	h.mu.Lock()
	st.start = h.pos
	h.msgs[s] = struct{}{}
	h.mu.Unlock()
	if channelID == nil && after == nil {
		if err := st.startNow(ctx); err != nil {
			h.mu.Lock()
			delete(h.msgs, s)
			h.mu.Unlock()
			return nil, err
		}
	}
	reportReady(ctx)
	return st, nil
}

// Next returns the stream's next message, or false once the stream has
// ended (its context ended, the subscriber fell behind, or the viewer lost
// access — reported as for Messages); after false it returns false again.
// One goroutine calls it at a time.
func (p *MessageStream) Next() (*ent.Message, bool) {
	st := p.st
	s, ctx := st.sub, st.sub.ctx
	for {
		if st.ended {
			return nil, false
		}
		if (st.helping != nil || !st.replayed) && s.droppedOrDone() {
			// Nothing more once the subscriber fell behind or left (a
			// running helper gives up with the context, or at its next
			// message, which nobody takes).
			st.finish()
			return nil, false
		}
		if st.helping != nil {
			select {
			case m, ok := <-st.helping:
				if ok {
					return m, true
				}
				// The helper is done, and everything it touched is
				// this goroutine's again.
				st.helping = nil
				if !st.helped {
					st.finish()
					return nil, false
				}
			case <-ctx.Done():
				// The helper gives up too (its sends watch ctx).
				st.finish()
				return nil, false
			}
			continue
		}
		if !st.replayed {
			st.replayed = true
			st.help(ctx, func(ctx context.Context) bool { return st.replay(ctx, st.start) })
			continue
		}
		if len(st.cur) > 0 {
			m := st.cur[0]
			a := st.admit(m)
			if a == fillFirst && st.filledFor != m {
				// Once: a gap the database cannot fill is left as it is.
				st.filledFor = m
				last := st.last[m.ChannelID]
				st.help(ctx, func(ctx context.Context) bool { return st.fill(ctx, m.ChannelID, last, m.Seq, nil) })
				continue
			}
			st.cur = st.cur[1:]
			if a == skip {
				continue
			}
			st.sent(m)
			return current(m), true
		}
		batch, end, reason := s.step(false, false)
		if end {
			reportEnd(ctx, reason)
			st.finish()
			return nil, false
		}
		if batch == nil {
			// A push, an end or the context's end (see abandon) wakes it.
			<-s.wake
			continue
		}
		st.cur = batch
	}
}

// droppedOrDone reports whether the stream was ended for a slow consumer
// or its context has ended.
func (s *msgSub) droppedOrDone() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leftLocked()
}

// leftLocked is droppedOrDone with s.mu held.
func (s *msgSub) leftLocked() bool {
	return s.done || (s.closed && s.reason == ErrSlowConsumer)
}

// help runs work (a replay or a gap fill, which send with st.send) in a
// helper goroutine whose messages Next passes on until it is done; the
// context work gets ends with ctx or when the stream finishes.
func (st *stream) help(ctx context.Context, work func(context.Context) bool) {
	c := make(chan *ent.Message)
	st.out, st.helping, st.helped = c, c, false
	ctx, st.stopHelper = context.WithCancel(ctx)
	go func() {
		defer close(c)
		defer func() {
			if r := recover(); r != nil {
				st.h.log.Error("panic in message stream", apperr.PanicAttrs(r)...)
				st.helped = false
			}
		}()
		st.helped = work(ctx)
	}()
}

// stream is one messageAdded subscription's delivery state: where it
// resumed from, and the last sequence number delivered in the channels
// whose position it knows exactly (the subscribed channel, or the resume
// cursor's channel).
type stream struct {
	h     *Hub
	sub   *msgSub
	out   chan<- *ent.Message
	after *messenger.Cursor
	last  map[pulid.ID]int64

	start    messenger.Cursor // where the live stream takes over from the replay
	replayed bool             // the replay was started (by the first forwarder, or by Next)
	stop     func() bool      // undoes the context.AfterFunc
	closeOut func()           // closes out, when the stream has a channel

	// A pulled stream's own state (see MessageStream.Next), touched only
	// by its consumer, or by its helper while helping is set.
	cur        []*ent.Message      // the release being delivered
	helping    <-chan *ent.Message // the running helper's messages
	helped     bool                // the helper finished its work
	stopHelper context.CancelFunc  // ends the last helper's work
	filledFor  *ent.Message        // the message whose gap was filled last
	ended      bool                // Next returned false
}

// run is the stream's forwarder, started on demand (msgSub.kickLocked, and
// once by Messages for the replay): it delivers the pending releases in
// order and returns when none is left, so an idle stream has no goroutine.
// It ends the stream when the subscriber's context ends; when the
// subscriber fell behind (SLOW_CONSUMER was reported then, and nothing
// queued is delivered after it); and when the viewer lost access, after
// delivering what is queued (it was the viewer's when released) and
// reporting the reason.
func (st *stream) run() {
	defer func() {
		if r := recover(); r != nil {
			st.h.log.Error("panic in message stream", apperr.PanicAttrs(r)...)
			st.finish()
		}
	}()
	s, ctx := st.sub, st.sub.ctx
	if !st.replayed {
		st.replayed = true
		if !st.replay(ctx, st.start) {
			st.finish()
			return
		}
	}
	for {
		// Parked (running cleared under s.mu) when nothing is queued: a
		// push after that starts the next forwarder.
		batch, end, reason := s.step(ctx.Err() != nil, true)
		if end {
			reportEnd(ctx, reason)
			st.finish()
			return
		}
		if batch == nil {
			return
		}
		if !st.forward(ctx, batch) {
			st.finish()
			return
		}
	}
}

// step decides, under s.mu, what the stream does now. It ends (end set)
// when gone says the subscriber left, when it fell behind (reported when
// it did), or when it was ended for access and everything queued has gone
// out — then reason is what the caller reports before finishing. It
// delivers the oldest release queued (batch). Or it waits (neither): with
// park, running is cleared in the same lock, so that the next push starts
// a forwarder.
func (s *msgSub) step(gone, park bool) (batch []*ent.Message, end bool, reason error) {
	if s.wake != nil {
		// A direct write under way finishes first (see reserve).
		s.writing.Lock()
		defer s.writing.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parked = false
	if gone || s.leftLocked() {
		return nil, true, nil
	}
	batch, ok := s.nextLocked()
	switch {
	case ok:
		return batch, false, nil
	case s.closed:
		return nil, true, s.reason
	case park:
		s.running = false
	default:
		// A pulled stream's consumer (MessageStream.Next) about to wait,
		// with no release in hand and no helper running.
		s.parked = true
	}
	return nil, false, nil
}

// finish ends the stream for good: nothing more is queued or forwarded
// (running stays set), the hub forgets it, and out is closed.
func (st *stream) finish() {
	st.stop()
	if st.stopHelper != nil {
		st.stopHelper()
	}
	st.ended = true
	s := st.sub
	s.mu.Lock()
	s.closed = true
	s.running = true
	s.pending = nil
	s.mu.Unlock()
	st.h.mu.Lock()
	delete(st.h.msgs, s)
	st.h.mu.Unlock()
	if st.closeOut != nil {
		st.closeOut()
	}
}

// startNow makes an all-channels stream without a cursor start now: it
// reads, after the stream is registered, each visible channel's last
// sequence number (as the viewer, so the privacy rules decide). A message
// committed before that read — even one the hub releases only later — is
// at or below its channel's mark and is not sent; one committed after it
// is above, and was released after the registration, so it is sent. Inside
// a channel sequence order is commit order, which makes the cut exact
// without a stream-wide position (a transaction may commit after one that
// began later).
func (st *stream) startNow(ctx context.Context) error {
	var marks []struct {
		ID      pulid.ID `json:"id"`
		LastSeq int64    `json:"last_seq"`
	}
	if err := st.h.client.Channel.Query().Select(channel.FieldID, channel.FieldLastSeq).Scan(ctx, &marks); err != nil {
		return err
	}
	for _, m := range marks {
		st.last[m.ID] = m.LastSeq
	}
	return nil
}

// replay sends what the viewer missed before the live stream takes over at
// start: in a one-channel stream everything above its last seq; in the
// all-channels stream every message between after and start, with the
// cursor's channel resumed by seq.
func (st *stream) replay(ctx context.Context, start messenger.Cursor) bool {
	if st.sub.channel != nil {
		return st.fill(ctx, *st.sub.channel, st.last[*st.sub.channel], 0, nil)
	}
	if st.after != nil {
		// The cursor's own channel first: messages committed after the
		// cursor's but placed before it in the stream (their transaction
		// began earlier), which the stream-position replay would skip.
		if !st.fill(ctx, st.after.Channel, st.after.Seq, 0, st.after) {
			return false
		}
	}
	if st.after != nil && st.after.Less(start) {
		return st.h.replay(ctx, st.sub, *st.after, start, func(m *ent.Message) bool { return st.deliver(ctx, m) })
	}
	return true
}

// fill sends the viewer-visible messages of channel id with from < seq <
// until (no upper bound when until is 0), in order, leaving out those placed
// after upTo in the stream when upTo is set. Sequence numbers are given out
// in commit order, so everything below a committed message has committed
// too.
func (st *stream) fill(ctx context.Context, id pulid.ID, from, until int64, upTo *messenger.Cursor) bool {
	for {
		q := st.h.client.Message.Query().
			Where(message.ChannelID(id), message.SeqGT(from)).
			Order(ent.Asc(message.FieldSeq)).
			WithSender().
			Limit(200)
		if until > 0 {
			q.Where(message.SeqLT(until))
		}
		if upTo != nil {
			q.Where(notBeyond(*upTo))
		}
		page, err := q.All(ctx)
		if err != nil {
			st.h.log.Warn("replaying messages", "err", err)
			return false
		}
		for _, m := range page {
			if !st.send(ctx, m) {
				return false
			}
			from = m.Seq
		}
		if len(page) < 200 {
			return true
		}
	}
}

// admission is what a stream does with a released message.
type admission int

const (
	send      admission = iota // deliver it
	skip                       // the client has it already
	fillFirst                  // fill the gap below it from the database first
)

// admit decides whether m goes out: not when the client has it already —
// in a known channel, a seq at or below the last one delivered; elsewhere
// a position at or below the resume cursor — and only after the gap below
// it, in a known channel, has been filled from the database (a message
// released after a later one of the same channel).
func (st *stream) admit(m *ent.Message) admission {
	if last, ok := st.last[m.ChannelID]; ok {
		switch {
		case m.Seq <= last:
			return skip
		case m.Seq > last+1:
			return fillFirst
		}
	} else if st.after != nil && !st.after.Less(messenger.CursorOf(m)) {
		return skip
	}
	return send
}

// deliver sends m as admit decides, filling a gap first.
func (st *stream) deliver(ctx context.Context, m *ent.Message) bool {
	switch st.admit(m) {
	case skip:
		return true
	case fillFirst:
		if !st.fill(ctx, m.ChannelID, st.last[m.ChannelID], m.Seq, nil) {
			return false
		}
		if st.admit(m) == skip {
			return true
		}
	}
	return st.send(ctx, m)
}

func (st *stream) send(ctx context.Context, m *ent.Message) bool {
	select {
	case st.out <- current(m):
	case <-ctx.Done():
		return false
	}
	st.sent(m)
	return true
}

// sent records that m went out.
func (st *stream) sent(m *ent.Message) {
	if _, ok := st.last[m.ChannelID]; ok {
		st.last[m.ChannelID] = m.Seq
	}
}

func (st *stream) forward(ctx context.Context, batch []*ent.Message) bool {
	for _, m := range batch {
		if !st.deliver(ctx, m) {
			return false
		}
	}
	return true
}

// current is the message as a subscriber receives it: without the channel
// the hub read when it released the message (in its own context, for
// everyone), so the message's channel is read as the viewer when the event
// is delivered — its unreadCount, lastMessage and members as they are then.
// The sender is kept (read with the release, it is what the message says).
func current(m *ent.Message) *ent.Message {
	if m.Edges.Channel == nil {
		return m
	}
	c := *m
	c.Edges = ent.MessageEdges{Sender: m.Edges.Sender}
	return &c
}

// replay sends the messages between after and until that the viewer can
// see, reading as the viewer (so the privacy rules decide), page by page.
func (h *Hub) replay(ctx context.Context, s *msgSub, after, until messenger.Cursor, deliver func(*ent.Message) bool) bool {
	from := after
	for {
		q := h.client.Message.Query().
			Where(beyond(from), notBeyond(until)).
			Order(streamOrder).
			WithSender().
			Limit(200)
		if s.channel != nil {
			q.Where(message.ChannelID(*s.channel))
		}
		page, err := q.All(ctx)
		if err != nil {
			h.log.Warn("replaying messages", "err", err)
			return false
		}
		for _, m := range page {
			if !deliver(m) {
				return false
			}
			from = messenger.CursorOf(m)
		}
		if len(page) < 200 {
			return true
		}
	}
}

// Package live owns the live streams of the API: new messages, unread
// badges and channel changes. One hub per process turns committed rows and
// bus events into per-subscriber deliveries — in commit order, exactly once,
// and authorised against the database on every event.
//
// Ordering. Every message carries its writing transaction id (txid) and its
// per-channel sequence number; the stream orders by (txid, channel, seq),
// which is also the client's cursor. On PostgreSQL a transaction that began
// earlier can commit later, so the hub only releases messages whose txid is
// below the oldest transaction still running (pg_snapshot_xmin): nothing can
// later commit beneath the released position. On SQLite writers are
// serialised, so every committed row is releasable at once. (The horizon
// leaves out transactions of other databases on the server; see
// internal/store.)
package live

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/channel"
	"github.com/whisper-health/whisper/ent/message"
	"github.com/whisper-health/whisper/ent/predicate"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Config tunes the hub.
type Config struct {
	// Dialect selects the commit-horizon query on PostgreSQL.
	Dialect store.Dialect
	// PollInterval is the safety net: how often the hub looks for messages
	// even without an event (default 1 s).
	PollInterval time.Duration
	// Buffer is each subscriber's queue, in releases (each a batch of up to
	// scanPage messages); a subscriber that falls this far behind is dropped and
	// resumes by cursor (default 512).
	Buffer int
	// OnRevoke is called when any replica revokes a session, with the
	// reason its sockets give (SESSION_REVOKED, USER_DEACTIVATED).
	OnRevoke func(session pulid.ID, reason string)
	// OnAccessEnded is called when any replica ends a principal's live
	// connections (deactivated, access changed), with the reason.
	OnAccessEnded func(principal pulid.ID, reason string)
	// Now is the clock (default time.Now): reminders count once due.
	Now func() time.Time
	// ScanGap is the least time between two catch-up scans started by
	// message events (default DefaultScanGap; negative: none). Messages
	// announced sooner after such a scan are caught up together when it
	// has passed: under a steady stream of sends the hub reads the stream
	// (and, on PostgreSQL, the commit horizon) once per gap instead of
	// once per message. The first message after a quiet spell is caught up
	// at once. (The poll, and the retries of a message held back by a
	// running writer, scan on their own timers.)
	ScanGap time.Duration
}

// DefaultScanGap is Config.ScanGap's default: event-started scans at most
// 200 times a second, adding at most 5 ms to a delivery, and only while
// messages arrive faster than that.
const DefaultScanGap = 5 * time.Millisecond

// Hub fans committed messages and events out to subscribers.
type Hub struct {
	client *ent.Client
	bus    pubsub.Bus
	log    *slog.Logger
	cfg    Config

	lag lag // measured on the wall clock, whatever Now is

	scans atomic.Int64 // catch-up scans run (see Scans)

	members *memberCache // only release uses it, on the hub's goroutine

	// held says the last catch-up ended on a message held back by a
	// running writer (read and written on the hub's goroutine only): its
	// retries, every 20 ms while the writer runs, scan positions only
	// rather than read whole messages they would set aside again.
	held bool

	mu      sync.Mutex
	pos     messenger.Cursor
	started chan struct{}
	msgs    map[*msgSub]struct{}
	badges  byUser[*badgeSub]
	chans   byUser[*chanSub]
	notes   byUser[*noteSub]
	stats   byUser[*statsSub]
}

// New returns a hub; Run starts it.
func New(client *ent.Client, bus pubsub.Bus, log *slog.Logger, cfg Config) *Hub {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 512
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ScanGap == 0 {
		cfg.ScanGap = DefaultScanGap
	}
	return &Hub{
		client:  client,
		bus:     bus,
		log:     log,
		cfg:     cfg,
		started: make(chan struct{}),
		members: newMemberCache(4096),
		msgs:    map[*msgSub]struct{}{},
		badges:  byUser[*badgeSub]{},
		chans:   byUser[*chanSub]{},
		notes:   byUser[*noteSub]{},
		stats:   byUser[*statsSub]{},
	}
}

// system is the hub's reading context: it reads every committed message
// once, and decides per subscriber who may receive it. why names the use.
func system(ctx context.Context, why string) context.Context {
	return viewer.NewSystemContext(ctx, "live hub: "+why)
}

// Run delivers until ctx ends. It recovers from panics and keeps going.
func (h *Hub) Run(ctx context.Context) {
	sub := h.bus.Subscribe(4096)
	defer sub.Close()
	// Until the hub knows where the stream stands it must not deliver
	// anything: starting from zero would replay all history to everyone.
	for err := h.init(ctx); err != nil; err = h.init(ctx) {
		h.log.Error("live hub cannot start; retrying", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	close(h.started)
	for restarted := false; ctx.Err() == nil; restarted = true {
		h.loop(ctx, sub, restarted)
	}
}

// Started is closed once the hub knows where the stream stands.
func (h *Hub) Started() <-chan struct{} { return h.started }

// loop delivers until ctx ends or a panic; restarted says a panic ended
// the previous loop.
func (h *Hub) loop(ctx context.Context, sub *pubsub.Subscription, restarted bool) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("panic in live hub", apperr.PanicAttrs(r)...)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	poll := time.NewTicker(h.cfg.PollInterval)
	defer poll.Stop()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	// due fires when messages that arrived within ScanGap of the last
	// scan an event started are to be caught up (armed says it is set).
	due := time.NewTimer(time.Hour)
	due.Stop()
	armed := false
	var last time.Time // when the last catch-up an event started began
	onEvent := func() {
		last = time.Now()
		h.catchUp(ctx, retry)
	}
	if restarted {
		// Anything announced before the panic (its due timer went with
		// the loop) is caught up now.
		h.catchUp(ctx, retry)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
			h.catchUp(ctx, retry)
		case <-retry.C:
			h.catchUp(ctx, retry)
		case <-due.C:
			armed = false
			onEvent()
		case ev, ok := <-sub.C():
			if !ok {
				return
			}
			// Take everything already queued, then act once.
			events := []pubsub.Event{ev}
		drain:
			for len(events) < 1000 {
				select {
				case e := <-sub.C():
					events = append(events, e)
				default:
					break drain
				}
			}
			if !h.handle(ctx, events) {
				continue
			}
			if wait := h.cfg.ScanGap - time.Since(last); wait <= 0 {
				onEvent()
			} else if !armed {
				armed = true
				due.Reset(wait)
			}
		}
	}
}

// handle acts on a batch of events, but for messages: it reports whether
// they announced any, for the caller to catch up.
func (h *Hub) handle(ctx context.Context, events []pubsub.Event) (messages bool) {
	resync := false
	for _, ev := range events {
		switch ev.Kind {
		case pubsub.Message:
			messages = true
		case pubsub.Resync:
			messages = true
			resync = true
		case pubsub.Read:
			for _, u := range ev.Users {
				h.reloadBadges(ctx, u)
			}
			h.pokeStats(ev.Users)
		case pubsub.ChannelChanged:
			h.channelChanged(ctx, ev)
		case pubsub.Notification:
			h.notified(ctx, ev)
		case pubsub.SessionRevoked:
			if h.cfg.OnRevoke != nil {
				reason := ev.Change
				if reason == "" {
					reason = "SESSION_REVOKED"
				}
				h.cfg.OnRevoke(ev.Session, reason)
			}
		case pubsub.AccessEnded:
			if h.cfg.OnAccessEnded != nil {
				for _, u := range ev.Users {
					h.cfg.OnAccessEnded(u, ev.Change)
				}
			}
		}
	}
	if resync {
		h.resync(ctx)
	}
	return messages
}

// resync recovers from lost events (a failed publish here or on a peer, a
// listener reconnect): what the events would have said is read again from
// the database. Badges reload; sessions of open streams that were revoked
// meanwhile close their sockets; one-channel streams whose viewer lost the
// channel end with the reason; channelUpdated and notificationAdded
// streams, whose missed events cannot be reconstructed, end with
// ErrEventsLost so their clients subscribe again and reload. Messages are
// caught up by the caller.
func (h *Hub) resync(ctx context.Context) {
	h.reloadAllBadges(ctx)
	h.pokeStats(nil)
	sessions := map[pulid.ID]bool{}
	note := func(v *viewer.Viewer) {
		if v != nil && v.SessionID != "" {
			sessions[v.SessionID] = true
		}
	}
	var streams []*msgSub
	var chans []*chanSub
	var notes []*noteSub
	h.mu.Lock()
	for s := range h.msgs {
		note(s.viewer)
		if s.channel != nil {
			streams = append(streams, s)
		}
	}
	for _, subs := range h.badges {
		for s := range subs {
			note(s.viewer)
		}
	}
	for _, subs := range h.chans {
		for s := range subs {
			note(s.viewer)
			chans = append(chans, s)
		}
	}
	for _, subs := range h.notes {
		for s := range subs {
			note(s.viewer)
			notes = append(notes, s)
		}
	}
	h.mu.Unlock()
	if h.cfg.OnRevoke != nil && len(sessions) > 0 {
		ids := make([]pulid.ID, 0, len(sessions))
		for id := range sessions {
			ids = append(ids, id)
		}
		valid, err := h.validSessions(ctx, ids)
		if err != nil {
			h.log.Warn("resync: checking sessions", "err", err)
		} else {
			for _, id := range valid {
				delete(sessions, id)
			}
			for id := range sessions {
				h.cfg.OnRevoke(id, "SESSION_REVOKED")
			}
		}
	}
	for _, s := range streams {
		h.recheck(ctx, s)
	}
	for _, s := range chans {
		s.end(ErrEventsLost)
	}
	for _, s := range notes {
		s.end(ErrEventsLost)
	}
}

// init starts the stream at the newest releasable message.
func (h *Hub) init(ctx context.Context) error {
	rows, _, err := h.scan(ctx, messenger.Cursor{}, true)
	if err != nil {
		return err
	}
	if len(rows) > 0 {
		h.pos = rows[0]
	}
	return nil
}

// scan reads message positions after from, in stream order, and the commit
// horizon. With newest it returns only the newest releasable position.
func (h *Hub) scan(ctx context.Context, from messenger.Cursor, newest bool) ([]messenger.Cursor, int64, error) {
	horizon := "9223372036854775807"
	if h.cfg.Dialect.IsPostgres() {
		// A scalar subquery runs once per statement (an InitPlan); the bare
		// call would run for every row returned, up to scanPage times a
		// scan.
		horizon = "(SELECT whisper_stream_horizon())"
	}
	var q string
	var args []any
	if newest {
		q = "SELECT txid, channel_id, seq, " + horizon + " FROM messages WHERE txid < " + horizon +
			" ORDER BY txid DESC, channel_id DESC, seq DESC LIMIT 1"
	} else {
		q = "SELECT txid, channel_id, seq, " + horizon + " FROM messages WHERE (txid, channel_id, seq) > (" +
			h.ph(1) + ", " + h.ph(2) + ", " + h.ph(3) + ") ORDER BY txid, channel_id, seq LIMIT " + strconv.Itoa(scanPage)
		args = []any{from.TxID, string(from.Channel), from.Seq}
	}
	rows, err := h.client.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("scanning messages: %w", err)
	}
	if !newest {
		h.scans.Add(1)
	}
	defer rows.Close()
	var out []messenger.Cursor
	var xmin int64
	for rows.Next() {
		var c messenger.Cursor
		var ch string
		if err := rows.Scan(&c.TxID, &ch, &c.Seq, &xmin); err != nil {
			return nil, 0, err
		}
		c.Channel = pulid.ID(ch)
		out = append(out, c)
	}
	return out, xmin, rows.Err()
}

func (h *Hub) ph(i int) string {
	if h.cfg.Dialect.IsPostgres() {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}

// catchUp releases every message committed beyond the stream position, in
// order, and delivers each to the subscribers allowed to see it. If a
// message is held back by a transaction still running, it tries again soon.
func (h *Hub) catchUp(ctx context.Context, retry *time.Timer) {
	for {
		h.mu.Lock()
		from := h.pos
		whole := !h.idleLocked() && !h.held
		h.mu.Unlock()
		var (
			rows []messenger.Cursor
			msgs []*ent.Message // rows' messages, when read with them
			xmin int64
			err  error
		)
		if !whole {
			rows, xmin, err = h.scan(ctx, from, false)
		} else {
			msgs, xmin, err = h.read(ctx, from)
			rows = make([]messenger.Cursor, len(msgs))
			for i, m := range msgs {
				rows[i] = messenger.CursorOf(m)
			}
		}
		if err != nil {
			h.log.Warn("live hub catch-up", "err", err)
			h.lag.behind(time.Now())
			retry.Reset(250 * time.Millisecond)
			return
		}
		ready := len(rows)
		for i, c := range rows {
			if c.TxID >= xmin {
				ready = i
				break
			}
		}
		held := ready < len(rows)
		h.held = held
		if ready > 0 {
			var batch []*ent.Message
			if msgs != nil {
				batch = msgs[:ready]
			}
			if err := h.release(ctx, rows[:ready], batch); err != nil {
				h.log.Warn("live hub delivery", "err", err)
				h.lag.behind(time.Now())
				retry.Reset(250 * time.Millisecond)
				return
			}
		}
		if held {
			h.lag.behind(time.Now())
			if h.cfg.Dialect.IsPostgres() {
				h.moveHorizon(ctx)
			}
			retry.Reset(20 * time.Millisecond)
			return
		}
		if len(rows) < scanPage {
			h.lag.caughtUp()
			return
		}
	}
}

// scanPage is the most messages one catch-up scan reads.
const scanPage = 500

// idleLocked reports whether nobody is subscribed to what a release
// delivers; h.mu is held.
func (h *Hub) idleLocked() bool {
	return len(h.msgs) == 0 && len(h.badges) == 0 && len(h.stats) == 0
}

// readReleased is the reason of the hub's reads of released messages.
const readReleased = "read released messages, their senders and channels once, before each stream re-reads them as its viewer"

// read is scan for a hub with subscribers: the messages after from
// themselves, in stream order, with the commit horizon in the same
// statement (their senders and channels are read by release), so that a
// release makes one round trip fewer.
func (h *Hub) read(ctx context.Context, from messenger.Cursor) ([]*ent.Message, int64, error) {
	q := h.client.Message.Query().Where(beyond(from)).Order(streamOrder).Limit(scanPage)
	pg := h.cfg.Dialect.IsPostgres()
	if pg {
		// As in scan: a scalar subquery runs once per statement. (Modify
		// adds to q itself; its select builder is not needed.)
		q.Modify(func(s *entsql.Selector) {
			s.AppendSelectExprAs(entsql.Raw("(SELECT whisper_stream_horizon())"), horizonColumn)
		})
	}
	msgs, err := q.All(system(ctx, readReleased))
	if err != nil {
		return nil, 0, fmt.Errorf("scanning messages: %w", err)
	}
	h.scans.Add(1)
	xmin := int64(math.MaxInt64)
	if pg && len(msgs) > 0 {
		v, err := msgs[0].Value(horizonColumn)
		if err != nil {
			return nil, 0, fmt.Errorf("scanning messages: %w", err)
		}
		if xmin, err = asInt64(v); err != nil {
			return nil, 0, fmt.Errorf("scanning messages: the horizon: %w", err)
		}
	}
	return msgs, xmin, nil
}

// beyond selects the messages after c in stream order.
func beyond(c messenger.Cursor) predicate.Message {
	return func(s *entsql.Selector) {
		s.Where(entsql.CompositeGT(streamColumns(s), c.TxID, string(c.Channel), c.Seq))
	}
}

// notBeyond selects the messages at or before c in stream order.
func notBeyond(c messenger.Cursor) predicate.Message {
	return func(s *entsql.Selector) {
		s.Where(entsql.Not(entsql.CompositeGT(streamColumns(s), c.TxID, string(c.Channel), c.Seq)))
	}
}

// streamColumns are a message's stream position, in order.
func streamColumns(s *entsql.Selector) []string {
	return []string{s.C(message.FieldTxid), s.C(message.FieldChannelID), s.C(message.FieldSeq)}
}

// streamOrder orders messages by stream position.
func streamOrder(s *entsql.Selector) {
	ent.Asc(message.FieldTxid, message.FieldChannelID, message.FieldSeq)(s)
}

// horizonColumn names the commit horizon in read's statement.
const horizonColumn = "stream_horizon"

// Scans reports how many times the hub has read the stream beyond its
// position (catch-up scans; one per page of scanPage messages).
func (h *Hub) Scans() int64 { return h.scans.Load() }

// moveHorizon unblocks a message held by nothing running. A transaction
// that announced itself late places its messages at the next transaction
// id as it saw it (see messenger's advance); when nothing else runs, that
// id is still the horizon after it committed, and the message would wait
// for the next write anywhere. When no message writer holds the horizon
// below the next id, this takes that id in a statement of its own, which
// ends at once and moves the horizon past it.
func (h *Hub) moveHorizon(ctx context.Context) {
	_, err := h.client.ExecContext(ctx, "SELECT CASE WHEN (SELECT whisper_stream_horizon()) >= "+
		"pg_snapshot_xmax(pg_current_snapshot())::text::bigint THEN pg_current_xact_id()::text END")
	if err != nil && ctx.Err() == nil {
		h.log.Warn("live hub: moving the horizon", "err", err)
	}
}

// edges reads the senders and the channels of released messages and sets
// them on each: two statements, side by side (a release waits for both,
// and every round trip to the database delays the first delivery). The
// channels are read after the messages committed, which the member cache
// relies on. A message whose sender is a patient, or none, keeps a nil
// sender.
func (h *Hub) edges(ctx context.Context, msgs []*ent.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	var senders, channels []pulid.ID
	seenUser, seenChannel := map[pulid.ID]bool{}, map[pulid.ID]bool{}
	for _, m := range msgs {
		if m.SenderID != nil && !seenUser[*m.SenderID] {
			seenUser[*m.SenderID] = true
			senders = append(senders, *m.SenderID)
		}
		if !seenChannel[m.ChannelID] {
			seenChannel[m.ChannelID] = true
			channels = append(channels, m.ChannelID)
		}
	}
	var users []*ent.User
	var uerr error
	done := make(chan struct{})
	if len(senders) > 0 {
		go func() {
			defer close(done)
			defer func() {
				// The hub's loop recovers its own panics, not this
				// goroutine's: one here fails the release instead.
				if r := recover(); r != nil {
					h.log.Error("panic in live hub reading senders", apperr.PanicAttrs(r)...)
					uerr = fmt.Errorf("reading senders: panic: %v", r)
				}
			}()
			users, uerr = h.client.User.Query().Where(user.IDIn(senders...)).All(ctx)
		}()
	} else {
		close(done)
	}
	chans, cerr := h.client.Channel.Query().Where(channel.IDIn(channels...)).All(ctx)
	<-done
	if cerr != nil {
		return fmt.Errorf("reading released messages' channels: %w", cerr)
	}
	if uerr != nil {
		return fmt.Errorf("reading released messages' senders: %w", uerr)
	}
	userByID := make(map[pulid.ID]*ent.User, len(users))
	for _, u := range users {
		userByID[u.ID] = u
	}
	chanByID := make(map[pulid.ID]*ent.Channel, len(chans))
	for _, c := range chans {
		chanByID[c.ID] = c
	}
	for _, m := range msgs {
		if m.SenderID != nil {
			m.Edges.Sender = userByID[*m.SenderID]
		}
		m.Edges.Channel = chanByID[m.ChannelID]
	}
	return nil
}

// releasedMessage is a message of a release with what deciding who may
// see it takes: its channel's kind and members.
type releasedMessage struct {
	m       *ent.Message // as read, with its channel
	shared  *ent.Message // as delivered (see current)
	kind    channel.Kind
	members map[pulid.ID]bool
}

// readMembers is the reason of the hub's member reads (tests count them).
const readMembers = "read the members of released channels whose membership changed"

// release hands a batch of released messages (the positions at, and the
// messages themselves when the catch-up read them) to the
// subscribers that may see each now: it reads their senders and channels
// side by side, takes the current members of the channels (kept, or read
// again when their version moved; see memberCache) and decides.
func (h *Hub) release(ctx context.Context, at []messenger.Cursor, msgs []*ent.Message) error {
	last := at[len(at)-1]
	h.mu.Lock()
	idle := h.idleLocked()
	if idle {
		// Nobody to deliver to: the stream simply moves on. (Deciding
		// under the lock that subscribers take to join keeps a stream
		// from starting beyond a message it was not given.)
		if h.pos.Less(last) {
			h.pos = last
		}
	}
	h.mu.Unlock()
	if idle {
		return nil
	}
	sctx := system(ctx, readReleased)
	if msgs == nil {
		// The catch-up scanned positions only (the hub was idle, or
		// retried a held message): read the messages of the batch.
		before := at[0]
		before.Seq--
		var err error
		msgs, err = h.client.Message.Query().Where(beyond(before), notBeyond(last)).Order(streamOrder).All(sctx)
		if err != nil {
			return fmt.Errorf("reading released messages: %w", err)
		}
	}
	if err := h.edges(sctx, msgs); err != nil {
		return err
	}
	chanSet := map[pulid.ID]bool{}
	for _, c := range at {
		chanSet[c.Channel] = true
	}
	// The channels' membership versions came with their rows, read in a
	// statement after the messages'; members are read again only for
	// channels whose version moved since the hub kept their set.
	versions := map[pulid.ID]int64{}
	for _, m := range msgs {
		if m.Edges.Channel != nil {
			versions[m.ChannelID] = m.Edges.Channel.MemberVersion
		}
	}
	var unversioned []pulid.ID
	for id := range chanSet {
		if _, ok := versions[id]; !ok {
			unversioned = append(unversioned, id)
		}
	}
	in, err := h.members.members(system(ctx, readMembers), h.client, versions, unversioned)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []releasedMessage
	patient := false
	for _, m := range msgs {
		c := messenger.CursorOf(m)
		if !h.pos.Less(c) {
			continue // already released
		}
		h.pos = c
		kind := channel.Kind("")
		if m.Edges.Channel != nil {
			kind = m.Edges.Channel.Kind
		}
		patient = patient || kind == channel.KindPATIENT
		// One copy for every subscriber: what each receives is the same
		// message, so the transport may encode it once (graph/share.go).
		out = append(out, releasedMessage{m: m, shared: current(m), kind: kind, members: in[m.ChannelID]})
		for uid, subs := range h.badges {
			member := in[m.ChannelID][uid]
			for s := range subs {
				if member || s.counts(m) {
					s.message(m)
				}
			}
		}
	}
	if len(out) > 0 {
		all := make([]*ent.Message, len(out))
		for i, r := range out {
			all[i] = r.shared
		}
		// Each subscriber's share is pushed as soon as it is known, so
		// the first deliveries start while the rest are decided. A
		// subscriber that may see the whole release gets the same slice
		// as the others (nobody writes to it), so a release costs no
		// allocation per subscriber.
		//
		// A subscriber whose consumer waits with nothing pending and who
		// can be written to directly (MessageStream.WriteDirectly) is not
		// woken: writer goroutines, one per directChunk of them (the
		// first sooner), write the release to their clients.
		var direct []directRelease
		chunk := directFirstChunk
		for s := range h.msgs {
			batch := s.share(out, all)
			switch {
			case len(batch) == 0:
			case s.reserve():
				if direct == nil {
					direct = make([]directRelease, 0, chunk)
				}
				direct = append(direct, directRelease{s: s, batch: batch})
				if len(direct) == chunk {
					go h.writeDirect(direct)
					direct, chunk = nil, directChunk
				}
			default:
				s.push(batch)
			}
		}
		if len(direct) > 0 {
			go h.writeDirect(direct)
		}
	}
	if patient {
		// Ids-only events, after commit: each subscriber recomputes its
		// own figures.
		for _, subs := range h.stats {
			for s := range subs {
				s.poke()
			}
		}
	}
	if h.pos.Less(last) {
		h.pos = last
	}
	return nil
}

// writeDirect delivers reserved releases, one subscriber after the other
// (see Hub.release).
func (h *Hub) writeDirect(list []directRelease) {
	for _, d := range list {
		d.s.deliverDirect(d.batch, h.log)
	}
}

package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
	"io"
	"net/http"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/whisper-health/whisper/internal/apperr"
)

// This file is the life of a websocket, in one place: what it acts as and
// until when (the access token's expiry), and every way it ends — the token
// expires, the session is revoked (logout, a reused refresh token), the
// user is deactivated or loses access, the server drains. Each end reaches
// the socket's subscriptions first as an error whose extensions say why
// (code and reason), because graphql-transport-ws clients see only a close
// frame; then the socket closes with the reason as its close text.

// EndReason says why a socket ends; it is the error's extensions.reason.
type EndReason string

// The reasons a socket ends.
const (
	// TokenExpired: the access token expired; refresh it and reconnect.
	TokenExpired EndReason = "TOKEN_EXPIRED"
	// SessionRevoked: the session was revoked (logout, reuse of an old
	// refresh token, an administrator); sign in again.
	SessionRevoked EndReason = "SESSION_REVOKED"
	// UserDeactivated: the account was deactivated.
	UserDeactivated EndReason = "USER_DEACTIVATED"
	// PortalAccessRevoked: staff took the patient's portal access away;
	// they cannot sign in until invited again.
	PortalAccessRevoked EndReason = "PORTAL_ACCESS_REVOKED"
	// AccessChanged: the principal's permissions changed; reconnect to get
	// the streams they still may have.
	AccessChanged EndReason = "ACCESS_CHANGED"
	// ShuttingDown: this replica is draining; reconnect (to another one)
	// and resume each stream with after:.
	ShuttingDown EndReason = "SERVER_SHUTDOWN"
	// SlowConsumer: the client fell too far behind its streams; reconnect
	// and resume each stream with after:.
	SlowConsumer EndReason = "SLOW_CONSUMER"
)

// EventsLost is the reason of a single stream (channelUpdated,
// notificationAdded) ended because its missed events cannot be
// reconstructed (after a resync): subscribe again and reload.
const EventsLost = "EVENTS_LOST"

// code is the extensions.code of the reason's error: the server's own
// reasons are UNAVAILABLE (come back and resume), the others are about the
// credential.
func (r EndReason) code() apperr.Code {
	if r.goingAway() {
		return apperr.Unavailable
	}
	return apperr.Unauthenticated
}

// goingAway reports whether the server ends the socket for its own
// reasons; the socket then closes with 1001 (going away) rather than 1000.
func (r EndReason) goingAway() bool { return r == ShuttingDown || r == SlowConsumer }

// message is what the client reads, beside the reason.
func (r EndReason) message() string {
	switch r {
	case TokenExpired:
		return "token expired: refresh the access token and reconnect"
	case SessionRevoked:
		return "session revoked: sign in again"
	case UserDeactivated:
		return "account deactivated"
	case PortalAccessRevoked:
		return "portal access revoked: ask the practice for a new invitation"
	case AccessChanged:
		return "your access changed: reconnect"
	case SlowConsumer:
		return "too far behind: reconnect and resume with after:"
	}
	return "server shutting down: reconnect and resume with after:"
}

// endError is the cause a socket's context ends with.
type endError struct{ reason EndReason }

func (e endError) Error() string { return e.reason.message() }

// socket is one open websocket: who it acts as and how it ends.
type socket struct {
	principal pulid.ID // the staff user, service account or patient
	session   pulid.ID // staff or portal session; empty for API keys
	end       *socketEnd
	cancel    context.CancelCauseFunc
	ws        *wsState // shared with the connection's wrapper; nil without one
}

// close ends the socket's subscriptions with reason, then the socket.
func (s *socket) close(reason EndReason) {
	s.begin(reason)
	s.finish(reason, time.Second)
}

// finish waits (at most grace) for the subscriptions to end and their
// errors to be written, then closes the socket.
func (s *socket) finish(reason EndReason, grace time.Duration) {
	deadline := time.Now().Add(grace)
	s.end.wait(grace)
	if s.ws != nil {
		s.ws.flushed(s.end.queued.Load(), deadline)
	}
	s.cancel(endError{reason})
}

// begin starts ending the socket: from now on its subscriptions end with
// reason's error.
func (s *socket) begin(reason EndReason) {
	if s.ws != nil {
		if reason.goingAway() {
			s.ws.code.CompareAndSwap(0, int32(websocket.StatusGoingAway))
		}
		s.ws.ending.Store(true)
	}
	s.end.begin(reason)
}

type socketKey struct{}

// endSocketFor ends the socket ctx runs on for reason, without waiting: the
// caller may be one of the subscriptions that must end first. It reports
// false outside a socket.
func endSocketFor(ctx context.Context, reason EndReason) bool {
	s, ok := ctx.Value(socketKey{}).(*socket)
	if !ok {
		return false
	}
	s.begin(reason)
	grace := time.Second
	if reason == SlowConsumer {
		grace = slowConsumerGrace
	}
	go s.finish(reason, grace)
	return true
}

// slowConsumerGrace is how long a socket ended for SLOW_CONSUMER stays open
// for its client to read the ending: the error is written after everything
// the client has not read yet (megabytes in the kernel's buffers), so a
// client that is slow rather than gone needs more than a second to reach
// it. Its streams and their queues are released at once; a client that
// reads nothing at all is closed after this, or earlier by the ping check.
const slowConsumerGrace = 30 * time.Second

// wsState is what a socket's end shares with its connection (see
// goingAwayConn): the close code it asks for, and how many subscription
// errors were written once it began to end, so the socket closes only after
// the clients have them (gqlgen writes them after the subscription is done).
type wsState struct {
	code       atomic.Int32 // sent instead of 1000 when set
	ending     atomic.Bool
	errorsSent atomic.Int64
	wrote      chan struct{} // a nudge per error written while ending

	// detached is set (by the request's goroutine) when the socket's read
	// loop went on in a goroutine of its own, which calls release when the
	// socket is done; otherwise the request's handler calls it.
	detached bool
	release  func()

	mu   sync.Mutex
	done []func() // run by release before anything else
}

// whenDone has release run f (once the socket is closed, before the socket
// stops counting as open).
func (w *wsState) whenDone(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = append(w.done, f)
}

// flushed waits until n subscription errors were written, or deadline.
func (w *wsState) flushed(n int64, deadline time.Time) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for w.errorsSent.Load() < n {
		select {
		case <-w.wrote:
		case <-timer.C:
			return
		}
	}
}

// wsStateKey carries a socket's wsState from the HTTP request (where the
// connection is accepted) into the socket.
type wsStateKey struct{}

// newWSState is the state a websocket request's socket and connection
// share; release is called once when the socket is done.
func newWSState(release func()) *wsState {
	w := &wsState{wrote: make(chan struct{}, 1)}
	w.release = func() {
		w.mu.Lock()
		done := w.done
		w.done = nil
		w.mu.Unlock()
		for _, f := range done {
			f()
		}
		release()
	}
	return w
}

// goingAway is the websocket implementation that closes with the code the
// socket's end chose: gqlgen closes every ended socket with 1000, which
// clients read as "finished". It also pings the graphql-transport-ws
// sockets (see pinger) when ping is set.
type goingAway struct {
	transport.WebsocketImplementation
	ping *pinger
}

// Accept implements transport.WebsocketImplementation.
func (g goingAway) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	var conn transport.WebsocketConn
	var err error
	if coder, ok := g.WebsocketImplementation.(transport.CoderWebsocketImplementation); ok {
		conn, err = acceptCoder(coder.AcceptOptions, w, r, o) // writes events without a second marshal
	} else {
		conn, err = g.WebsocketImplementation.Accept(w, r, o)
	}
	if err != nil {
		return nil, err
	}
	ws, _ := r.Context().Value(wsStateKey{}).(*wsState)
	c := goingAwayConn{WebsocketConn: conn, ws: ws}
	if g.ping != nil && conn.Subprotocol() == graphqlTransportWS {
		c.pinged = g.ping.add(conn)
	}
	return c, nil
}

// graphqlTransportWS is the websocket subprotocol the pinger serves (the
// legacy graphql-ws keeps gqlgen's own keep-alive).
const graphqlTransportWS = "graphql-transport-ws"

// goingAwayConn replaces a normal close with the chosen code and counts
// the subscription errors written while the socket ends.
type goingAwayConn struct {
	transport.WebsocketConn
	ws     *wsState
	pinged *pinged // nil: not pinged by the handler's pinger
}

// waitReadable waits until the client sent something, where the
// connection can tell (see coderConn.waitReadable).
func (c goingAwayConn) waitReadable() {
	if w, ok := c.WebsocketConn.(interface{ waitReadable() }); ok {
		w.waitReadable()
	}
}

// Close implements transport.WebsocketConn.
func (c goingAwayConn) Close() error {
	c.pinged.leave()
	return c.WebsocketConn.Close()
}

// WriteClose implements transport.WebsocketConn.
func (c goingAwayConn) WriteClose(code int, message string) error {
	c.pinged.leave()
	if c.ws != nil && code == transport.WebsocketCloseNormalClosure {
		if chosen := c.ws.code.Load(); chosen != 0 {
			code = int(chosen)
		}
	}
	return c.WebsocketConn.WriteClose(code, message)
}

// writeRaw writes an event that is already JSON (see nextFrame): never an
// error to count.
func (c goingAwayConn) writeRaw(b []byte) error {
	if raw, ok := c.WebsocketConn.(*coderConn); ok {
		return raw.writeRaw(b)
	}
	return c.WebsocketConn.WriteJSON(json.RawMessage(b))
}

// canTell implements directConn: only for a coder/websocket connection.
func (c goingAwayConn) canTell() bool {
	raw, ok := c.WebsocketConn.(*coderConn)
	return ok && raw.canTell()
}

// keepsUp implements directConn.
func (c goingAwayConn) keepsUp(n int) bool {
	raw, ok := c.WebsocketConn.(*coderConn)
	return ok && raw.keepsUp(n)
}

// writeRawWithin implements directConn (canTell is true only for a
// coder/websocket connection).
func (c goingAwayConn) writeRawWithin(b []byte, d time.Duration) error {
	if raw, ok := c.WebsocketConn.(*coderConn); ok {
		return raw.writeRawWithin(b, d)
	}
	return c.writeRaw(b)
}

// WriteJSON implements transport.WebsocketConn.
func (c goingAwayConn) WriteJSON(v any) error {
	err := c.WebsocketConn.WriteJSON(v)
	if c.ws != nil && c.ws.ending.Load() {
		var m struct {
			Type string `json:"type"`
		}
		if b, merr := json.Marshal(v); merr == nil && json.Unmarshal(b, &m) == nil && m.Type == "error" {
			c.ws.errorsSent.Add(1)
			select {
			case c.ws.wrote <- struct{}{}:
			default:
			}
		}
	}
	return err
}

// NextReader implements transport.WebsocketConn: a frame that is not valid
// UTF-8 (or escapes a lone surrogate) is refused — the socket closes — rather
// than silently rewritten by JSON decoding. Frames are bounded by the
// read limit, so reading one whole costs no more than decoding it.
func (c goingAwayConn) NextReader() (int, io.Reader, error) {
	typ, r, err := c.WebsocketConn.NextReader()
	if err != nil {
		return typ, r, err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return typ, nil, err
	}
	if !validUTF8JSON(b) {
		return typ, nil, errInvalidFrame
	}
	if c.pinged != nil && bytes.Contains(b, []byte(`"pong"`)) {
		var m struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(b, &m) == nil && m.Type == "pong" {
			c.pinged.pong.Store(true)
		}
	}
	return typ, bytes.NewReader(b), nil
}

// pinger pings every graphql-transport-ws socket of a handler from one
// goroutine (running while there are sockets) instead of a goroutine and a
// ticker per socket: each interval it sends {"type":"ping"}, and closes a
// socket whose client sent no pong for two intervals — what gqlgen's
// PingPongInterval does, per socket. A ping is written by a short-lived
// goroutine, so a client that does not read holds up only its own.
type pinger struct {
	every time.Duration

	mu      sync.Mutex
	conns   map[*pinged]struct{}
	running bool
}

// pinged is one socket the pinger serves.
type pinged struct {
	p        *pinger
	conn     transport.WebsocketConn
	pong     atomic.Bool  // a pong arrived since the last check
	writing  atomic.Bool  // a ping is being written
	deadline atomic.Int64 // unix nanoseconds: closed when silent past it
}

func newPinger(every time.Duration) *pinger {
	return &pinger{every: every, conns: map[*pinged]struct{}{}}
}

// add starts pinging conn.
func (p *pinger) add(conn transport.WebsocketConn) *pinged {
	c := &pinged{p: p, conn: conn}
	c.deadline.Store(time.Now().Add(2 * p.every).UnixNano())
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns[c] = struct{}{}
	if !p.running {
		p.running = true
		go p.run()
	}
	return c
}

// leave stops pinging the socket (it is closing); nil-safe.
func (c *pinged) leave() {
	if c == nil {
		return
	}
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	delete(c.p.conns, c)
}

// pingMessage is graphql-transport-ws's ping.
var pingMessage = map[string]string{"type": "ping"}

func (p *pinger) run() {
	// Shared by every socket: not labelled as the one that started it.
	pprof.SetGoroutineLabels(context.Background())
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	var conns []*pinged
	for range tick.C {
		p.mu.Lock()
		if len(p.conns) == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		conns = conns[:0]
		for c := range p.conns {
			conns = append(conns, c)
		}
		p.mu.Unlock()
		now := time.Now()
		for _, c := range conns {
			if c.pong.Swap(false) {
				c.deadline.Store(now.Add(2 * p.every).UnixNano())
			} else if now.UnixNano() > c.deadline.Load() {
				// Silent for two intervals: drop it (the read fails and
				// gqlgen ends the socket), as gqlgen's read deadline does.
				c.leave()
				if d, ok := c.conn.(transport.WebsocketReadDeadliner); ok {
					_ = d.SetReadDeadline(now)
				} else {
					_ = c.conn.Close()
				}
				continue
			}
			if c.writing.Swap(true) {
				continue // the last ping is still being written
			}
			go func() {
				defer c.writing.Store(false)
				if c.conn.WriteJSON(pingMessage) != nil {
					c.leave()
				}
			}()
		}
		clear(conns)
	}
}

// errInvalidFrame ends a socket that sent a frame that is not valid UTF-8.
var errInvalidFrame = errors.New("websocket frame is not valid UTF-8")

// SetReadLimit implements transport.WebsocketReadLimiter.
func (c goingAwayConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline implements transport.WebsocketReadDeadliner.
func (c goingAwayConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// sockets is this replica's registry of open websockets by session and by
// principal, so a revocation, a deactivation or a change of access reaches
// every socket it concerns.
type sockets struct {
	mu          sync.Mutex
	bySession   map[pulid.ID]map[*socket]struct{}
	byPrincipal map[pulid.ID]map[*socket]struct{}
}

// add registers s and returns how many sockets its principal had open
// before it.
func (r *sockets) add(s *socket) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bySession == nil {
		r.bySession, r.byPrincipal = map[pulid.ID]map[*socket]struct{}{}, map[pulid.ID]map[*socket]struct{}{}
	}
	put := func(m map[pulid.ID]map[*socket]struct{}, k pulid.ID) {
		if k == "" {
			return
		}
		if m[k] == nil {
			m[k] = map[*socket]struct{}{}
		}
		m[k][s] = struct{}{}
	}
	before := 0
	if s.principal != "" {
		before = len(r.byPrincipal[s.principal])
	}
	put(r.bySession, s.session)
	put(r.byPrincipal, s.principal)
	return before
}

func (r *sockets) remove(s *socket) {
	r.mu.Lock()
	defer r.mu.Unlock()
	drop := func(m map[pulid.ID]map[*socket]struct{}, k pulid.ID) {
		delete(m[k], s)
		if len(m[k]) == 0 {
			delete(m, k)
		}
	}
	drop(r.bySession, s.session)
	drop(r.byPrincipal, s.principal)
}

// of returns a copy of the sockets registered under k in m (one of the
// registry's maps), so they can be closed without holding the lock.
func (r *sockets) of(m *map[pulid.ID]map[*socket]struct{}, k pulid.ID) []*socket {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*socket
	for s := range (*m)[k] {
		out = append(out, s)
	}
	return out
}

// openSocket registers a socket that acts as v until expires (zero: until
// revoked) and returns the context its operations run in; the context ends
// when the socket does, with the reason as its cause.
func (h *Handler) openSocket(ctx context.Context, v *viewer.Viewer, expires time.Time) context.Context {
	s := &socket{principal: v.UserID, session: v.SessionID, end: newSocketEnd(h.cfg.MaxSubscriptions)}
	s.ws, _ = ctx.Value(wsStateKey{}).(*wsState)
	if s.principal == "" {
		s.principal = v.PatientID
	}
	ctx = context.WithValue(ctx, socketEndKey{}, s.end)
	ctx = context.WithValue(ctx, socketKey{}, s)
	ctx, s.cancel = context.WithCancelCause(ctx)
	var timer *time.Timer
	if !expires.IsZero() {
		timer = time.AfterFunc(time.Until(expires), func() { s.close(TokenExpired) })
	}
	// Draining ends each subscription with UNAVAILABLE / SERVER_SHUTDOWN
	// (never a bare complete, which a client reads as "finished"), then
	// closes the socket with 1001; the client resumes elsewhere.
	stopDrain := context.AfterFunc(h.drainCtx, func() { s.close(ShuttingDown) })
	if h.open.add(s) >= h.cfg.MaxSocketsPerUser {
		// Past the principal's sockets: the socket stays open (so the
		// client sees why rather than a reconnect loop), but each of its
		// subscriptions is refused with RESOURCE_EXHAUSTED.
		s.end.refuse(&gqlerror.Error{
			Message:    fmt.Sprintf("too many open sockets for this account (limit %d); close one", h.cfg.MaxSocketsPerUser),
			Extensions: map[string]any{"code": apperr.ResourceExhausted, "reason": "TOO_MANY_SOCKETS"},
		})
	}
	// The socket leaves the registry (its place under MaxSocketsPerUser)
	// when its context ends, and at the latest when its connection is
	// done: a client that simply goes away ends neither token nor drain.
	cleanup := sync.OnceFunc(func() {
		if timer != nil {
			timer.Stop()
		}
		stopDrain()
		h.open.remove(s)
	})
	context.AfterFunc(ctx, cleanup)
	if s.ws != nil {
		// The connection is done: whatever still runs in the socket's
		// context ends, and the socket leaves the registry now.
		cancel := s.cancel
		s.ws.whenDone(func() {
			cancel(context.Canceled)
			cleanup()
		})
	}
	return ctx
}

// EndSession ends this replica's sockets of session id, for reason (any
// replica's revocation reaches every replica through the event bus).
func (h *Handler) EndSession(id pulid.ID, reason EndReason) {
	for _, s := range h.open.of(&h.open.bySession, id) {
		s.close(reason)
	}
}

// EndPrincipal ends this replica's sockets of a staff user, service
// account or patient, for reason.
func (h *Handler) EndPrincipal(id pulid.ID, reason EndReason) {
	for _, s := range h.open.of(&h.open.byPrincipal, id) {
		s.close(reason)
	}
}

// socketEnd ends every subscription of one websocket with the same clear
// error before the socket itself closes.
type socketEnd struct {
	once   sync.Once
	ctx    context.Context // ends when the socket begins to end
	endAll context.CancelFunc
	ending <-chan struct{} // ctx.Done()
	err    *gqlerror.Error

	mu      sync.Mutex
	closing bool // no subscription joins once set, so subs.Wait is safe
	subs    sync.WaitGroup
	queued  atomic.Int64    // ending errors handed to the transport
	watched []*subscription // running subscriptions, cancelled by begin; guarded by mu
	active  int             // subscriptions running, guarded by mu
	max     int             // most subscriptions at once
	refused *gqlerror.Error // set: every subscription is refused with it
}

type socketEndKey struct{}

func newSocketEnd(maxSubs int) *socketEnd {
	ctx, endAll := context.WithCancel(context.Background())
	return &socketEnd{ctx: ctx, endAll: endAll, ending: ctx.Done(), max: maxSubs}
}

// refuse makes every subscription of the socket fail with err.
func (s *socketEnd) refuse(err *gqlerror.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused = err
}

// begin makes every subscription of the socket end with the reason's
// error; the first reason wins.
func (s *socketEnd) begin(reason EndReason) {
	s.once.Do(func() {
		s.err = &gqlerror.Error{Message: reason.message(), Extensions: map[string]any{
			"code":   reason.code(),
			"reason": string(reason),
		}}
		s.endAll()
	})
	s.mu.Lock()
	s.closing = true
	watched := s.watched
	s.watched = nil
	s.mu.Unlock()
	for _, sub := range watched {
		sub.cancel()
	}
}

// watch makes the socket's end cancel sub (at once if it began already): a
// slice entry rather than a context.AfterFunc per subscription.
func (s *socketEnd) watch(sub *subscription) {
	s.mu.Lock()
	if !s.closing {
		s.watched = append(s.watched, sub)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	sub.cancel()
}

// unwatch forgets sub, which ended.
func (s *socketEnd) unwatch(sub *subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.watched, sub); i >= 0 {
		s.watched = slices.Delete(s.watched, i, i+1)
	}
}

// wait waits (at most grace) for the subscriptions to deliver the error.
func (s *socketEnd) wait(grace time.Duration) {
	done := make(chan struct{})
	go func() { s.subs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
}

// join counts a starting subscription, unless the socket is ending (the
// ending error) or has no room for it (a RESOURCE_EXHAUSTED error).
func (s *socketEnd) join() *gqlerror.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return s.err
	case s.refused != nil:
		return s.refused
	case s.max > 0 && s.active >= s.max:
		return &gqlerror.Error{
			Message:    fmt.Sprintf("too many subscriptions on this socket (limit %d); stop one first", s.max),
			Extensions: map[string]any{"code": apperr.ResourceExhausted, "reason": "TOO_MANY_SUBSCRIPTIONS"},
		}
	}
	s.active++
	s.subs.Add(1)
	return nil
}

// leave counts a subscription's end.
func (s *socketEnd) leave() {
	s.mu.Lock()
	s.active--
	s.mu.Unlock()
	s.subs.Done()
}

// sessionEnds is the gqlgen extension that ends every subscription the way
// the server ended it: with the reason its live stream reports (see
// streamEnds) and, on a websocket, with its socketEnd's error.
type sessionEnds struct {
	present graphql.ErrorPresenterFunc
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = sessionEnds{}

// ExtensionName implements graphql.HandlerExtension.
func (sessionEnds) ExtensionName() string { return "SessionEnds" }

// Validate implements graphql.HandlerExtension.
func (sessionEnds) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor.
func (e sessionEnds) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation != ast.Subscription {
		return next(ctx)
	}
	var last *streamTail
	if ctx.Value(eventStreamKey{}) != nil {
		last = &streamTail{}
		ctx = context.WithValue(ctx, streamTailKey{}, last)
	}
	ctx = streamEnds(ctx, e.present)
	se, ok := ctx.Value(socketEndKey{}).(*socketEnd)
	if !ok {
		return next(ctx)
	}
	if refusal := se.join(); refusal != nil {
		// The socket is ending, or has no room: the subscription gets the
		// error as its error message (graphql-ws clients reject the
		// subscription with it) before any resolver runs.
		endStream(ctx, refusal)
		if refusal == se.err {
			se.queued.Add(1)
		}
		if last != nil {
			return graphql.OneShot(&graphql.Response{Errors: last.list()})
		}
		return func(context.Context) *graphql.Response { return nil }
	}
	// The socket's end cancels the subscription (see socketEnd.watch): no
	// goroutine waits for it. On a websocket the operation's own cancel
	// context (see wsOperation) is the subscription's, and the response
	// handler's context ends with it; elsewhere it is layered here.
	sub := &subscription{se: se, last: last}
	if op, ok := ctx.Value(wsOperationKey{}).(*wsOperation); ok {
		sub.sctx, sub.cancel, sub.own = ctx, op.cancel, true
	} else {
		sub.sctx, sub.cancel = context.WithCancel(ctx)
	}
	sctx := sub.sctx
	se.watch(sub)
	sub.h = next(sctx)
	// The handler parks in h between events for as long as the
	// subscription lives: its frame is kept small (the rest is in
	// subscription's methods, which are not on the stack meanwhile), so
	// that the goroutine's stack can shrink to its smallest size.
	return func(ctx context.Context) *graphql.Response {
		if !sub.ready(ctx) {
			return sub.finish()
		}
		if r := sub.h(sub.callCtx); r != nil {
			return r
		}
		return sub.ended()
	}
}

// subscription is the state of one websocket subscription's response
// handler (see sessionEnds.InterceptOperation).
type subscription struct {
	se       *socketEnd
	last     *streamTail
	sctx     context.Context // ends with the socket's end or the subscription
	cancel   context.CancelFunc
	h        graphql.ResponseHandler
	finished bool
	own      bool            // sctx is the websocket operation's context, which callCtx derives from
	callCtx  context.Context // the response handler's context, ending with sctx too
}

// ready reports whether the next event is to be read; the first call
// derives the context the events are read in.
//
//go:noinline
func (s *subscription) ready(ctx context.Context) bool {
	if s.finished || s.last != nil && s.last.sent {
		return false
	}
	if s.callCtx == nil && s.own {
		s.callCtx = ctx
	}
	if s.callCtx == nil {
		var stop context.CancelFunc
		s.callCtx, stop = context.WithCancel(ctx)
		context.AfterFunc(s.sctx, stop)
	}
	return true
}

// finish ends the subscription once its last event (the ending error) is
// written: now the stream is done and the socket may close.
//
//go:noinline
func (s *subscription) finish() *graphql.Response {
	if !s.finished {
		s.done()
	}
	return nil
}

// ended handles the end of the stream: its ending errors go out as one
// last response, or the subscription is done.
//
//go:noinline
func (s *subscription) ended() *graphql.Response {
	select {
	case <-s.se.ending:
		endStream(s.sctx, s.se.err)
		s.se.queued.Add(1)
	default:
	}
	if errs := s.last.list(); len(errs) > 0 {
		s.last.sent = true
		return &graphql.Response{Errors: errs}
	}
	s.done()
	return nil
}

func (s *subscription) done() {
	s.finished = true
	s.se.unwatch(s)
	s.cancel()
	s.se.leave()
}

// streamTail collects the errors that end a subscription over server-sent
// events, which has no error message of its own: they go out as one last
// event (next, with errors only) before complete.
type streamTail struct {
	mu   sync.Mutex
	errs gqlerror.List
	sent bool // only read and written by the stream's response handler
}

type streamTailKey struct{}

// list returns the errors collected so far (none for a nil tail).
func (t *streamTail) list() gqlerror.List {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return append(gqlerror.List(nil), t.errs...)
}

// endStream delivers err as the last word of the subscription ctx runs: a
// websocket's error message, or a server-sent event stream's last event.
func endStream(ctx context.Context, err *gqlerror.Error) {
	if t, ok := ctx.Value(streamTailKey{}).(*streamTail); ok {
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, e := range t.errs {
			if e == err {
				return
			}
		}
		t.errs = append(t.errs, err)
		return
	}
	if op, ok := ctx.Value(wsOperationKey{}).(*wsOperation); ok {
		op.addError(err)
		return
	}
	defer func() { _ = recover() }() // a transport without subscription errors
	transport.AddSubscriptionError(ctx, err)
}

package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// This file is gqlgen's websocket transport (graphql/handler/transport's
// websocket.go, websocket_graphqlws.go, websocket_graphql_transport_ws.go,
// websocket_subprotocol.go, websocket_close_reason.go and
// websocket_resolver_error.go, v0.17.95; MIT licence, Copyright (c) 2025
// gqlgen authors), made lighter for sockets that stay open for hours with a
// few subscriptions each. The protocols are gqlgen's, message for message
// (graphql-transport-ws and the legacy graphql-ws, connection_init and its
// InitFunc, ping/pong, the close codes and reasons); what changed:
//
//   - no goroutine waits for the socket's context to end: a callback
//     (context.AfterFunc) closes the socket, and the read loop's exit
//     closes it directly;
//   - a subscription's context holds one cancel context and one value
//     (wsOperation: its cancel and its subscription errors) above gqlgen's
//     operation context, instead of a value, a cancel context and another
//     value; sessionEnds ends the subscription with that same cancel rather
//     than layering its own (see socket.go);
//   - the ping/pong of graphql-transport-ws is the handler's one shared
//     pinger (socket.go), so gqlgen's per-socket ping tickers are gone; the
//     legacy graphql-ws keep-alive ("ka") stays a ticker per socket;
//   - a subscription event ("next") is written without marshalling its
//     payload a second time (see nextFrame);
//   - once connection_init is accepted, the read loop runs on a goroutine
//     of its own and the HTTP handler returns (the connection is hijacked),
//     so an idle socket does not keep the HTTP server's deep stack;
//   - the init payload is not attached to each operation's context: nothing
//     in Whisper reads it there (InitFunc receives it).

// wsTransport serves GraphQL over websockets.
type wsTransport struct {
	accept      goingAway
	initFunc    transport.WebsocketInitFunc
	initTimeout time.Duration
	keepAlive   time.Duration // graphql-ws keep-alive ("ka") interval; 0: none
	readLimit   int64         // largest message read; 0 or less: no limit
}

var _ graphql.Transport = wsTransport{}

// Supports implements graphql.Transport.
func (t wsTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") != ""
}

// The websocket subprotocols served; a client that names none is served
// graphql-ws, as gqlgen does.
const graphqlWS = "graphql-ws"

var wsSubprotocols = []string{graphqlWS, graphqlTransportWS}

// Do implements graphql.Transport.
func (t wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ws, err := t.accept.Accept(w, r, transport.WebsocketAcceptOptions{
		ResponseHeader: http.Header{},
		Subprotocols:   wsSubprotocols,
	})
	if err != nil {
		log.Printf("unable to upgrade %T to websocket %s: ", w, err.Error())
		transport.SendErrorf(w, http.StatusBadRequest, "unable to upgrade")
		return
	}
	// A socket whose request carries a wsState outlives the request's
	// handler (see below): its context must not end with the request's.
	st, _ := r.Context().Value(wsStateKey{}).(*wsState)
	ctx := r.Context()
	// A detached socket's context does not end with the request's: the
	// socket layer ends it, and unregisters the socket, when the read loop
	// is done (wsState.release runs its whenDone functions).
	if st != nil {
		ctx = context.WithoutCancel(ctx)
	}
	c := &wsConn{
		t:       &t,
		ctx:     ctx,
		conn:    ws,
		exec:    exec,
		headers: r.Header,
		active:  map[string]*wsOperation{},
	}
	switch ws.Subprotocol() {
	default:
		_ = ws.WriteClose(transport.WebsocketCloseProtocolError,
			fmt.Sprintf("unsupported negotiated subprotocol %s", ws.Subprotocol()))
		return
	case graphqlWS, "":
		c.legacy = true
	case graphqlTransportWS:
	}
	if t.readLimit > 0 {
		if limiter, ok := ws.(transport.WebsocketReadLimiter); ok {
			limiter.SetReadLimit(t.readLimit)
		}
	}
	if !c.init() {
		return
	}
	if st == nil {
		c.run()
		return
	}
	// The connection is hijacked: the request's handler may return while
	// the socket lives on. The read loop goes on in a goroutine of its own,
	// whose stack holds only the loop, not the HTTP server's frames (an
	// idle socket's stack is half as large).
	st.detached = true
	go c.runDetached(st.release)
}

// runDetached is run on a goroutine of its own; release is called once the
// socket is closed (it ends the socket's context and unregisters it).
func (c *wsConn) runDetached(release func()) {
	growStack()
	defer release()
	defer func() {
		if r := recover(); r != nil {
			log.Printf("panic serving websocket: %v\n%s", r, debug.Stack())
		}
	}()
	c.run()
}

// wsConn is one websocket's protocol state.
type wsConn struct {
	t       *wsTransport
	ctx     context.Context
	conn    transport.WebsocketConn
	legacy  bool // graphql-ws rather than graphql-transport-ws
	exec    graphql.GraphExecutor
	headers http.Header

	mu     sync.Mutex
	active map[string]*wsOperation // the running operations, by id
	closed bool
}

// frames are the buffers "next" frames are built in, shared by every
// socket: a shared event is written to each of its subscribers, and
// allocating its frame each time was most of what a delivery allocated. A
// socket holds one only while it writes (an idle socket holds none).
var frames = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledFrame is the largest frame buffer put back in frames; a larger
// one (a big event) goes after use.
const maxPooledFrame = 16 << 10

var errWSReadTimeout = errors.New("read timeout")

func (c *wsConn) nextMessageWithTimeout(timeout time.Duration) (wsMessage, error) {
	messages, errs := make(chan wsMessage, 1), make(chan error, 1)
	go func() {
		if m, err := c.nextMessage(); err != nil {
			errs <- err
		} else {
			messages <- m
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case m := <-messages:
		return m, nil
	case err := <-errs:
		return wsMessage{}, err
	case <-timer.C:
		return wsMessage{}, errWSReadTimeout
	}
}

func (c *wsConn) init() bool {
	var m wsMessage
	var err error
	if c.t.initTimeout != 0 {
		m, err = c.nextMessageWithTimeout(c.t.initTimeout)
	} else {
		m, err = c.nextMessage()
	}
	if err != nil {
		if err == errWSReadTimeout {
			c.close(transport.WebsocketCloseProtocolError, "connection initialisation timeout")
			return false
		}
		if err == errInvalidWSMessage {
			c.sendConnectionError("invalid json")
		}
		c.close(transport.WebsocketCloseProtocolError, "decoding error")
		return false
	}

	switch m.t {
	case wsInit:
		var initPayload transport.InitPayload
		if len(m.payload) > 0 {
			initPayload = make(transport.InitPayload)
			if err := json.Unmarshal(m.payload, &initPayload); err != nil {
				return false
			}
		}
		var ackPayload *transport.InitPayload
		if c.t.initFunc != nil {
			var ctx context.Context
			ctx, ackPayload, err = c.t.initFunc(c.ctx, initPayload)
			if err != nil {
				c.sendConnectionError("%s", err.Error())
				reason := closeReasonFor(ctx)
				if reason == "" {
					reason = "terminated"
				}
				c.close(wsCloseCodeFor(ctx), reason)
				return false
			}
			c.ctx = ctx
		}
		if ackPayload != nil {
			b, err := json.Marshal(*ackPayload)
			if err != nil {
				panic(err)
			}
			c.write(&wsMessage{t: wsConnectionAck, payload: b})
		} else {
			c.write(&wsMessage{t: wsConnectionAck})
		}
		c.write(&wsMessage{t: wsKeepAlive})
	case wsConnectionClose:
		c.close(transport.WebsocketCloseNormalClosure, "terminated")
		return false
	default:
		c.sendConnectionError("unexpected message %s", m.t)
		c.close(transport.WebsocketCloseProtocolError, "unexpected message")
		return false
	}
	return true
}

func (c *wsConn) write(msg *wsMessage) {
	c.mu.Lock()
	_ = c.send(msg)
	c.mu.Unlock()
}

func (c *wsConn) run() {
	// The socket closes when its context ends (expiry, revocation,
	// draining…) — a callback, not a goroutine waiting for it — or when
	// this loop ends.
	stop := context.AfterFunc(c.ctx, c.closeOnCancel)
	defer func() {
		if stop() {
			c.closeOnCancel()
		}
	}()

	if c.legacy && c.t.keepAlive != 0 {
		// graphql-ws keep-alive: a "ka" every interval.
		ctx, cancel := context.WithCancel(c.ctx)
		defer cancel()
		go c.keepAliveLoop(ctx, time.NewTicker(c.t.keepAlive))
	}

	readable, _ := c.conn.(interface{ waitReadable() })
	for {
		if readable != nil {
			// An idle socket waits here, in shallow frames (a smaller
			// stack), rather than in the websocket reader.
			readable.waitReadable()
		}
		start := graphql.Now()
		m, err := c.nextMessage()
		if err != nil {
			return
		}
		switch m.t {
		case wsStart:
			c.mu.Lock()
			_, running := c.active[m.id]
			c.mu.Unlock()
			if running {
				// graphql-transport-ws: an id in use closes the socket
				// (4409); the legacy protocol answers the operation.
				if !c.legacy {
					c.close(4409, "Subscriber for "+m.id+" already exists")
					return
				}
				c.sendError(m.id, &gqlerror.Error{Message: "an operation with this id is already running"})
				continue
			}
			c.subscribe(start, &m)
		case wsStop:
			c.mu.Lock()
			op := c.active[m.id]
			c.mu.Unlock()
			if op != nil {
				op.cancel()
			}
		case wsConnectionClose:
			c.close(transport.WebsocketCloseNormalClosure, "terminated")
			return
		case wsPing:
			c.write(&wsMessage{t: wsPong, payload: m.payload})
		case wsPong:
			// The shared pinger saw it (goingAwayConn.NextReader); clear
			// any read deadline, as gqlgen does.
			if d, ok := c.conn.(transport.WebsocketReadDeadliner); ok {
				_ = d.SetReadDeadline(time.Time{})
			}
		default:
			c.sendConnectionError("unexpected message %s", m.t)
			c.close(transport.WebsocketCloseProtocolError, "unexpected message")
			return
		}
	}
}

func (c *wsConn) keepAliveLoop(ctx context.Context, tick *time.Ticker) {
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			c.write(&wsMessage{t: wsKeepAlive})
		}
	}
}

// closeOnCancel closes the socket, with the close reason its context
// carries sent first as a connection error (graphql-ws only).
func (c *wsConn) closeOnCancel() {
	if r := closeReasonFor(c.ctx); r != "" {
		c.sendConnectionError("%s", r)
	}
	c.close(transport.WebsocketCloseNormalClosure, "terminated")
}

// wsOperation is a websocket operation's context: its cancel context (one
// per operation), which also carries the subscription's errors, written
// before complete (see endStream). It is its own value, so the operation's
// context needs no further layer.
type wsOperation struct {
	context.Context // a cancel context
	cancel          context.CancelFunc

	mu   sync.Mutex
	errs []*gqlerror.Error

	// The socket and the id the operation's events are written with
	// (see messageShare.writeDirect).
	ws *wsConn
	id string
}

type wsOperationKey struct{}

// Value implements context.Context.
func (o *wsOperation) Value(key any) any {
	if key == (wsOperationKey{}) {
		return o
	}
	return o.Context.Value(key)
}

// addError queues err to end the subscription with.
func (o *wsOperation) addError(err *gqlerror.Error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errs = append(o.errs, err)
}

func (o *wsOperation) errors() []*gqlerror.Error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.errs
}

func (c *wsConn) subscribe(start time.Time, msg *wsMessage) {
	ctx := graphql.StartOperationTrace(c.ctx)
	params := &graphql.RawParams{}
	if err := wsJSONDecode(msg.payload, params); err != nil {
		c.sendError(msg.id, &gqlerror.Error{Message: "invalid json"})
		c.complete(msg.id)
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	params.Headers = c.headers

	rc, err := c.exec.CreateOperationContext(ctx, params)
	if err != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(ctx, rc), err)
		switch errcode.GetErrorKind(err) {
		case errcode.KindProtocol:
			c.sendError(msg.id, resp.Errors...)
		default:
			c.sendResponse(msg.id, &graphql.Response{Errors: err})
		}
		c.complete(msg.id)
		return
	}

	op := &wsOperation{ws: c, id: msg.id}
	op.Context, op.cancel = context.WithCancel(graphql.WithOperationContext(ctx, rc))
	c.mu.Lock()
	c.active[msg.id] = op
	c.mu.Unlock()
	go c.serve(op, rc, msg.id)
}

// serve runs one operation and writes its responses, then its errors or
// complete.
func (c *wsConn) serve(op *wsOperation, rc *graphql.OperationContext, id string) {
	growStack()
	defer c.served(op, rc, id)
	responses, ctx := c.exec.DispatchOperation(op, rc)
	for {
		response := responses(ctx)
		if response == nil {
			break
		}
		c.sendResponse(id, response)
	}
}

// served ends an operation: a panic's error, the subscription's errors, or
// complete.
func (c *wsConn) served(op *wsOperation, rc *graphql.OperationContext, id string) {
	// The hub's writers write none of the operation's events from now on
	// (see writeDirect): nothing follows its error or complete.
	op.cancel()
	if r := recover(); r != nil {
		err := rc.Recover(op, r)
		var gqlerr *gqlerror.Error
		if !errors.As(err, &gqlerr) {
			gqlerr = &gqlerror.Error{}
			if err != nil {
				gqlerr.Message = err.Error()
			}
		}
		c.sendError(id, gqlerr)
	}
	// The id is free again before the client hears the operation ended,
	// so a client reusing it at once is not taken for a duplicate.
	c.mu.Lock()
	delete(c.active, id)
	c.mu.Unlock()
	if errs := op.errors(); len(errs) != 0 {
		c.sendError(id, errs...)
	} else {
		c.complete(id)
	}
}

func (c *wsConn) sendResponse(id string, response *graphql.Response) {
	if !c.legacy {
		if w, ok := c.conn.(rawWriter); ok && c.writeNext(w, id, response) {
			return
		}
	}
	b, ok := dataPayload(response)
	if !ok {
		var err error
		if b, err = json.Marshal(response); err != nil {
			panic(err)
		}
	}
	c.write(&wsMessage{payload: b, id: id, t: wsData})
}

// writeNext writes response as one "next" frame built in a pooled buffer,
// or reports that it is not data alone (see nextMessage).
func (c *wsConn) writeNext(w rawWriter, id string, response *graphql.Response) bool {
	bp := frames.Get().(*[]byte)
	b, ok := appendNext((*bp)[:0], id, response)
	if !ok {
		frames.Put(bp)
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// The write copies b out before it returns: the buffer can go back.
	_ = w.writeRaw(b)
	if cap(b) <= maxPooledFrame {
		*bp = b
		frames.Put(bp)
	}
	return true
}

// directConn is a socket the hub's writers may write subscription events
// to directly (see wsConn.writeDirect).
type directConn interface {
	// canTell reports whether keepsUp can ever be true.
	canTell() bool
	// keepsUp reports whether the client has acknowledged so much of
	// what was written to it that n more bytes fit well inside the
	// socket's send buffer: a write of them does not wait.
	keepsUp(n int) bool
	// writeRawWithin is writeRaw bounded by d (a deadline on the whole
	// connection while it lasts); a write that does not finish in time
	// closes the socket.
	writeRawWithin(b []byte, d time.Duration) error
}

// directWrite is what became of a direct write (see wsConn.writeDirect).
type directWrite int

const (
	written directWrite = iota // the event was written
	busy                       // another write was under way, the operation is over, or the socket failed
	lagging                    // the client has not acknowledged enough of what it was sent
)

// directWriteTimeout bounds a direct write (see wsConn.writeDirect): one
// that has not finished by then closes the socket, and the client resumes
// from its last cursor. The writer it held up goes on with the next
// subscriber.
const directWriteTimeout = time.Second

// direct reports whether the socket takes events written directly.
func (c *wsConn) direct() bool {
	dc, ok := c.conn.(directConn)
	return ok && !c.legacy && dc.canTell()
}

// writeDirect writes an event of op, a subscription, from a goroutine
// other than the operation's, when the socket takes it at once: no other
// write of this transport is under way on it, and its client has
// acknowledged enough of what it was sent for the event (about size bytes
// of data) to fit (keepsUp), so a slow client's socket does not hold up
// the hub's writer; else the operation's own goroutine writes the event.
// resp is called only when the event is written.
func (c *wsConn) writeDirect(op *wsOperation, size int, resp func() *graphql.Response) directWrite {
	// size is what the event's frame takes beyond the id and envelope.
	dc, ok := c.conn.(directConn)
	if !ok || c.legacy || !c.mu.TryLock() {
		return busy
	}
	defer c.mu.Unlock()
	// Not once the operation is over: its complete may be on the wire, a
	// new operation may have its id, or the client stopped it.
	if c.closed || c.active[op.id] != op || op.Err() != nil {
		return busy
	}
	if !dc.keepsUp(size + len(op.id) + len(`{"payload":{"data":},"id":"","type":"next"}`)) {
		return lagging
	}
	id := op.id
	r := resp()
	bp := frames.Get().(*[]byte)
	b, ok := appendNext((*bp)[:0], id, r)
	if !ok {
		// Not data alone: the envelope json.Marshal writes, as send does.
		frames.Put(bp)
		payload, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		if b, err = json.Marshal(&wsFrame{Payload: payload, ID: id, Type: "next"}); err != nil {
			panic(err)
		}
	}
	// The write copies b out before it returns: the buffer can go back.
	err := dc.writeRawWithin(b, directWriteTimeout)
	if ok && cap(b) <= maxPooledFrame {
		*bp = b
		frames.Put(bp)
	}
	if err != nil {
		return busy // the socket is closed: the stream ends
	}
	return written
}

// dataPayload returns the bytes json.Marshal writes for r when r is data
// alone — what nearly every subscription event is — without reflection:
// gqlgen wrote the data compact, valid and escaped, so json.Marshal would
// copy it as it is, unless it holds a character it escapes for HTML (<, >,
// &) or U+2028/2029, which are left to it. (That rests on gqlgen's
// marshalling: a scalar writing whitespace or invalid JSON would reach the
// client as written; the tests compare every envelope with json.Marshal.)
func dataPayload(r *graphql.Response) ([]byte, bool) {
	if !dataAlone(r) {
		return nil, false
	}
	b := make([]byte, 0, len(r.Data)+10)
	b = append(append(append(b, `{"data":`...), r.Data...), '}')
	if checkEnvelopes {
		if want, err := json.Marshal(r); err != nil || !bytes.Equal(b, want) {
			panic(fmt.Sprintf("dataPayload wrote %s, json.Marshal %s (%v)", b, want, err))
		}
	}
	return b, true
}

// dataAlone reports whether r is data alone that json.Marshal would copy
// as it is (see dataPayload).
func dataAlone(r *graphql.Response) bool {
	return len(r.Errors) == 0 && r.Label == "" && len(r.Path) == 0 && r.HasNext == nil && len(r.Extensions) == 0 &&
		len(r.Data) > 0 && !htmlEscaped(r.Data)
}

// htmlEscaped reports whether json.Marshal escapes something in b when it
// copies it: <, >, & or U+2028/2029 (E2 80 A8/A9), in one pass over the
// bytes (bytes.ContainsAny with a non-ASCII set decodes every rune).
func htmlEscaped(b []byte) bool {
	for i, c := range b {
		switch {
		case c == '<' || c == '>' || c == '&':
			return true
		case c == 0xE2 && i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xA8 || b[i+2] == 0xA9):
			return true
		}
	}
	return false
}

// nextMessage is the whole graphql-transport-ws "next" message of a
// subscription event that is data alone, in one allocation: what
// nextFrame writes around what dataPayload writes.
func nextMessage(id string, r *graphql.Response) ([]byte, bool) {
	return appendNext(nil, id, r)
}

// appendNext is nextMessage appending to dst.
func appendNext(dst []byte, id string, r *graphql.Response) ([]byte, bool) {
	if id == "" || !plainJSONString(id) || !dataAlone(r) {
		return dst, false
	}
	b := dst
	if need := len(r.Data) + len(id) + 48; cap(b)-len(b) < need {
		b = make([]byte, len(b), len(b)+need)
		copy(b, dst)
	}
	b = append(b, `{"payload":{"data":`...)
	b = append(b, r.Data...)
	b = append(b, `},"id":"`...)
	b = append(b, id...)
	b = append(b, `","type":"next"}`...)
	if checkEnvelopes {
		payload, _ := json.Marshal(r)
		if want, err := json.Marshal(&wsFrame{Payload: payload, ID: id, Type: "next"}); err != nil || !bytes.Equal(b[len(dst):], want) {
			panic(fmt.Sprintf("nextMessage wrote %s, json.Marshal %s (%v)", b[len(dst):], want, err))
		}
	}
	return b, true
}

func (c *wsConn) complete(id string) {
	c.write(&wsMessage{id: id, t: wsComplete})
}

func (c *wsConn) sendError(id string, errors ...*gqlerror.Error) {
	errs := make([]error, len(errors))
	for i, err := range errors {
		errs[i] = err
	}
	b, err := json.Marshal(errs)
	if err != nil {
		panic(err)
	}
	c.write(&wsMessage{t: wsError, id: id, payload: b})
}

func (c *wsConn) sendConnectionError(format string, args ...any) {
	b, err := json.Marshal(&gqlerror.Error{Message: fmt.Sprintf(format, args...)})
	if err != nil {
		panic(err)
	}
	c.write(&wsMessage{t: wsConnectionError, payload: b})
}

func (c *wsConn) close(closeCode int, message string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	_ = c.conn.WriteClose(closeCode, message)
	for _, op := range c.active {
		op.cancel()
	}
	c.closed = true
	c.mu.Unlock()
	_ = c.conn.Close()
}

func wsJSONDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// Close codes and reasons an InitFunc sets on the context it returns.

type wsCloseReasonKey struct{}

// withCloseReason makes reason the websocket's close reason (and, on
// graphql-ws, its connection error) when the context ends or init fails.
func withCloseReason(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, wsCloseReasonKey{}, reason)
}

func closeReasonFor(ctx context.Context) string {
	reason, _ := ctx.Value(wsCloseReasonKey{}).(string)
	return reason
}

type wsCloseCodeKey struct{}

// withWSCloseCode makes code the close code of a refused connection_init.
func withWSCloseCode(ctx context.Context, code int) context.Context {
	return context.WithValue(ctx, wsCloseCodeKey{}, code)
}

func wsCloseCodeFor(ctx context.Context) int {
	if code, ok := ctx.Value(wsCloseCodeKey{}).(int); ok {
		return code
	}
	return transport.WebsocketCloseNormalClosure
}

// The protocol's messages, whichever subprotocol carries them.

type wsMessageType int

const (
	wsInit wsMessageType = iota
	wsConnectionAck
	wsKeepAlive
	wsConnectionError
	wsConnectionClose
	wsStart
	wsStop
	wsData
	wsComplete
	wsError
	wsPing
	wsPong
)

func (t wsMessageType) String() string {
	switch t {
	case wsInit:
		return "init"
	case wsConnectionAck:
		return "connection ack"
	case wsKeepAlive:
		return "keep alive"
	case wsConnectionError:
		return "connection error"
	case wsConnectionClose:
		return "connection close"
	case wsStart:
		return "start"
	case wsStop:
		return "stop subscription"
	case wsData:
		return "data"
	case wsComplete:
		return "complete"
	case wsError:
		return "error"
	case wsPing:
		return "ping"
	case wsPong:
		return "pong"
	}
	return "unknown"
}

type wsMessage struct {
	payload json.RawMessage
	id      string
	t       wsMessageType
}

var errInvalidWSMessage = errors.New("invalid message received")

// wsFrame is a message on the wire, in either subprotocol.
type wsFrame struct {
	Payload json.RawMessage `json:"payload,omitempty"`
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
}

// wsTypeText decodes a message type, refusing the names the subprotocol
// does not have (the whole message is then invalid, as in gqlgen).
type wsTypeText struct {
	s      *string
	legacy bool
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (t wsTypeText) UnmarshalText(text []byte) error {
	names := graphqlTransportWSTypes
	if t.legacy {
		names = graphqlWSTypes
	}
	for _, n := range names {
		if n == string(text) {
			*t.s = n
			return nil
		}
	}
	return fmt.Errorf("invalid message type %s", text)
}

var (
	graphqlTransportWSTypes = []string{"connection_init", "connection_ack", "subscribe", "next", "error", "complete", "ping", "pong"}
	graphqlWSTypes          = []string{"connection_init", "connection_terminate", "start", "stop", "connection_ack", "connection_error", "data", "error", "complete", "ka"}
)

// nextMessage reads the client's next message.
func (c *wsConn) nextMessage() (wsMessage, error) {
	_, r, err := c.conn.NextReader()
	if err != nil {
		return wsMessage{}, err
	}
	var f struct {
		Payload json.RawMessage `json:"payload,omitempty"`
		ID      string          `json:"id,omitempty"`
		Type    wsTypeText      `json:"type"`
	}
	var typ string
	f.Type = wsTypeText{s: &typ, legacy: c.legacy}
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		return wsMessage{}, errInvalidWSMessage
	}
	m := wsMessage{payload: f.Payload, id: f.ID}
	if c.legacy {
		switch typ {
		case "connection_init":
			m.t = wsInit
		case "connection_terminate":
			m.t = wsConnectionClose
		case "start":
			m.t = wsStart
		case "stop":
			m.t = wsStop
		case "connection_ack":
			m.t = wsConnectionAck
		case "connection_error":
			m.t = wsConnectionError
		case "data":
			m.t = wsData
		case "error":
			m.t = wsError
		case "complete":
			m.t = wsComplete
		case "ka":
			m.t = wsKeepAlive
		default:
			return m, fmt.Errorf("invalid client->server message type %s", typ)
		}
		return m, nil
	}
	switch typ {
	case "connection_init":
		m.t = wsInit
	case "subscribe":
		m.t = wsStart
	case "complete":
		m.t = wsStop
	case "ping":
		m.t = wsPing
	case "pong":
		m.t = wsPong
	default:
		return m, fmt.Errorf("invalid client->server message type %s", typ)
	}
	return m, nil
}

// send writes m in the socket's subprotocol; messages the subprotocol does
// not have (a keep-alive on graphql-transport-ws, a ping on graphql-ws) are
// not sent.
func (c *wsConn) send(m *wsMessage) error {
	f := wsFrame{Payload: m.payload, ID: m.id}
	if c.legacy {
		switch m.t {
		case wsInit:
			f.Type = "connection_init"
		case wsConnectionAck:
			f.Type = "connection_ack"
		case wsKeepAlive:
			f.Type = "ka"
		case wsConnectionError:
			f.Type = "connection_error"
		case wsConnectionClose:
			f.Type = "connection_terminate"
		case wsStart:
			f.Type = "start"
		case wsStop:
			f.Type = "stop"
		case wsData:
			f.Type = "data"
		case wsComplete:
			f.Type = "complete"
		case wsError:
			f.Type = "error"
		case wsPing, wsPong:
			return nil
		default:
			return fmt.Errorf("invalid server->client message type %s", m.t)
		}
		return c.conn.WriteJSON(&f)
	}
	switch m.t {
	case wsConnectionAck:
		f.Type = "connection_ack"
	case wsKeepAlive, wsConnectionError:
		return nil
	case wsData:
		f.Type = "next"
		if b, ok := nextFrame(&f); ok {
			if w, ok := c.conn.(rawWriter); ok {
				return w.writeRaw(b)
			}
		}
	case wsComplete:
		f.Type = "complete"
	case wsError:
		f.Type = "error"
	case wsPing:
		f.Type = "ping"
	case wsPong:
		f.Type = "pong"
	default:
		return fmt.Errorf("invalid server->client message type %s", m.t)
	}
	return c.conn.WriteJSON(&f)
}

// rawWriter writes a message that is already JSON.
type rawWriter interface{ writeRaw([]byte) error }

// nextFrame returns the bytes json.Marshal writes for f, a
// graphql-transport-ws "next" message (a subscription event), without
// reflection over its payload: gqlgen made the payload with json.Marshal, so
// it is already compact and escaped, and copying it is what marshalling it
// again would write. An id json.Marshal would escape is left to it.
func nextFrame(f *wsFrame) ([]byte, bool) {
	if len(f.Payload) == 0 || !plainJSONString(f.ID) {
		return nil, false
	}
	b := make([]byte, 0, len(f.Payload)+len(f.ID)+32)
	b = append(b, `{"payload":`...)
	b = append(b, f.Payload...)
	if f.ID != "" {
		b = append(b, `,"id":"`...)
		b = append(b, f.ID...)
		b = append(b, '"')
	}
	b = append(b, `,"type":"next"}`...)
	if checkEnvelopes {
		if want, err := json.Marshal(f); err != nil || !bytes.Equal(b, want) {
			panic(fmt.Sprintf("nextFrame wrote %s, json.Marshal %s (%v)", b, want, err))
		}
	}
	return b, true
}

// stackReserve is the frame growStack reserves: a goroutine that calls it
// first thing gets a 16 KiB stack (the runtime doubles a new goroutine's
// small stack until the frame fits, with the guard it keeps).
const stackReserve = 12 << 10

// growStack grows the calling goroutine's stack at once to hold
// stackReserve more bytes. A socket's read loop and each operation's
// goroutine call it first thing, with one frame on their stacks: they
// start small and run deep (JSON decoding; gqlgen's resolver chain, then
// ent and the driver for a subscription's first figures), and every time
// a stack has to double on the way, the runtime copies it and adjusts
// every frame's pointers: the deeper the goroutine, the dearer the copy.
// It costs zeroing the reserve (12 KiB) once. Those goroutines went that
// deep anyway, so they held as much stack before; the collector halves a
// waiting goroutine's stack at each cycle while under a quarter of it is
// in use (an idle socket's are back to 4 KiB after two).
//
//go:noinline
func growStack() {
	var reserve [stackReserve]byte
	keepStack(reserve[:])
}

// keepStack takes the reserve, so that the compiler keeps the array, and
// with it growStack's frame.
//
//go:noinline
func keepStack([]byte) {}

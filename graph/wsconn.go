package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
)

// coderConn is gqlgen's coder/websocket connection (transport's
// coderWebsocketConn, v0.17.95, MIT licence) with additions: writeRaw, so
// a subscription event's envelope, built without reflection (see
// nextFrame), is written as it is instead of marshalled a second time; and
// what the hub's writers need to write events directly (directConn:
// canTell, keepsUp, writeRawWithin).
type coderConn struct {
	conn *websocket.Conn

	// The hijacked connection's read buffer and raw socket, for
	// waitReadable; raw is nil when the connection has no socket to poll
	// (TLS, tests' pipes), and waitReadable then returns at once.
	br  *bufio.Reader
	raw syscall.RawConn
	// nc is the hijacked connection, for the deadline of a direct write
	// (nil when the connection was not hijacked).
	nc net.Conn
	// credit is how many bytes may still be written before keepsUp asks
	// the kernel again how much is unacknowledged: what it answered last
	// left that much room, and every write since spent some (an
	// acknowledgement only adds room), so keepsUp asks about once per few
	// kilobytes written rather than once per event.
	credit atomic.Int64

	mu                sync.Mutex
	readDeadlineTimer *time.Timer
	closeHandshakeCh  chan struct{}
}

var (
	_ transport.WebsocketConn          = (*coderConn)(nil)
	_ transport.WebsocketReadLimiter   = (*coderConn)(nil)
	_ transport.WebsocketReadDeadliner = (*coderConn)(nil)
)

// acceptCoder is transport.CoderWebsocketImplementation.Accept, returning
// a coderConn.
func acceptCoder(base websocket.AcceptOptions, w http.ResponseWriter, r *http.Request, options transport.WebsocketAcceptOptions) (*coderConn, error) {
	for key, values := range options.ResponseHeader {
		for _, value := range values {
			w.Header().Add(key, value)
		}
	}
	opts := base
	opts.Subprotocols = slices.Clone(base.Subprotocols)
	for _, p := range options.Subprotocols {
		if !slices.Contains(opts.Subprotocols, p) {
			opts.Subprotocols = append(opts.Subprotocols, p)
		}
	}
	c := &coderConn{}
	// coder/websocket answers a client's ping itself: the pong spends
	// credit too (see keepsUp).
	onPing := base.OnPingReceived
	opts.OnPingReceived = func(ctx context.Context, payload []byte) bool {
		c.credit.Add(-int64(len(payload) + frameOverhead))
		return onPing == nil || onPing(ctx, payload)
	}
	hw := &hijackWatch{ResponseWriter: w}
	conn, err := websocket.Accept(hw, r, &opts)
	if err != nil {
		return nil, err
	}
	c.conn, c.nc = conn, hw.conn
	if hw.brw != nil {
		if sc, ok := hw.conn.(syscall.Conn); ok {
			if raw, err := sc.SyscallConn(); err == nil {
				c.br, c.raw = hw.brw.Reader, raw
			}
		}
	}
	return c, nil
}

// hijackWatch is the ResponseWriter websocket.Accept hijacks, keeping what
// the hijack returned. The socket gets buffers of its own, smaller than the
// HTTP server's (see socketBuffers).
type hijackWatch struct {
	http.ResponseWriter
	conn net.Conn
	brw  *bufio.ReadWriter
}

// Hijack implements http.Hijacker.
func (h *hijackWatch) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return conn, brw, err
	}
	h.conn, h.brw = conn, socketBuffers(conn, brw)
	return conn, h.brw, nil
}

// The buffers a websocket keeps for its life. The HTTP server's are 4 KiB
// each, 8 KiB of an idle socket's memory; a websocket's reads are its
// client's few small messages (connection_init, subscribe, complete,
// pong): a message larger than the read buffer takes more than one read
// (what is left of a large one is read straight into the message). Its
// writes are events: one that fits the write buffer with its frame header
// goes out in one write, a larger one in two. A client that sent messages
// right behind its upgrade request keeps a read buffer as large as they
// were (at most the HTTP server's 4 KiB).
const (
	socketReadBuffer  = 512
	socketWriteBuffer = 2048
)

// socketBuffers returns the buffers the websocket on conn reads and writes
// through instead of the HTTP server's brw (which is left to the garbage
// collector). The reader comes with what the client sent after its upgrade
// request and brw had already read, buffered, as websocket.Accept expects
// of a hijacked reader: it takes those bytes out (Peek, then Reset) and
// puts them in front of conn. Its buffer is at least as large as they are,
// so the first read moves all of them back in (see
// coderConn.waitReadable).
func socketBuffers(conn net.Conn, brw *bufio.ReadWriter) *bufio.ReadWriter {
	early, _ := brw.Reader.Peek(brw.Reader.Buffered())
	r := bufio.NewReaderSize(bytes.NewReader(bytes.Clone(early)), max(socketReadBuffer, len(early)))
	_, _ = r.Peek(len(early)) // buffers them all: the buffer holds them
	return bufio.NewReadWriter(r, bufio.NewWriterSize(conn, socketWriteBuffer))
}

// Unwrap lets http.ResponseController reach the writer's other methods.
func (h *hijackWatch) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// waitReadable returns once the client's socket has bytes to read (or is
// closed), without reading them, when nothing is left in the read buffer:
// an idle socket's read loop then waits in these few frames rather than
// deep inside coder/websocket's reader, and its stack (which the runtime
// halves at a GC only while under a quarter of it is in use) stays at 4 KB
// instead of 8. Skipped once the close handshake (which reads the buffer
// in a goroutine of its own) began. Bytes the client sent with its upgrade
// request sit in front of the socket (websocket.Accept's MultiReader) only
// until the first read, connection_init's, which moves them all into the
// buffer (it is at least as large as they are, see socketBuffers); the
// read loop waits here only after it.
func (c *coderConn) waitReadable() {
	if c.raw == nil {
		return
	}
	c.mu.Lock()
	skip := c.closeHandshakeCh != nil || c.br.Buffered() > 0
	c.mu.Unlock()
	if !skip {
		peekWait(c.raw)
	}
}

// Close implements transport.WebsocketConn.
func (c *coderConn) Close() error {
	c.clearReadDeadlineTimer()
	c.mu.Lock()
	handshake := c.closeHandshakeCh != nil
	c.mu.Unlock()
	// WriteClose's goroutine owns the close once it started the handshake.
	if handshake {
		return nil
	}
	return c.conn.CloseNow()
}

// NextReader implements transport.WebsocketConn.
func (c *coderConn) NextReader() (int, io.Reader, error) {
	typ, data, err := c.conn.Read(context.Background())
	if err != nil {
		switch websocket.CloseStatus(err) {
		case websocket.StatusNormalClosure, websocket.StatusNoStatusRcvd:
			return int(typ), nil, transport.ErrWebsocketClosed
		}
		return int(typ), nil, err
	}
	return int(typ), bytes.NewReader(data), nil
}

// WriteJSON implements transport.WebsocketConn.
func (c *coderConn) WriteJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.writeRaw(data)
}

// writeRaw writes one text message that is already JSON.
func (c *coderConn) writeRaw(data []byte) error {
	c.credit.Add(-int64(len(data) + frameOverhead))
	return c.conn.Write(context.Background(), websocket.MessageText, data)
}

// frameOverhead is what a write costs the credit beyond its data: the
// frame's header, with room for the control frames (pings, pongs) that
// coder/websocket writes on its own.
const frameOverhead = 64

// canTell implements directConn: how much is unacknowledged can be told
// of a hijacked TCP connection, on Linux.
func (c *coderConn) canTell() bool {
	return c.raw != nil && c.nc != nil && tellsUnacknowledged
}

// keepsUp implements directConn: the bytes written to the socket and still
// unacknowledged by the client, with n more, come to at most
// directBacklog.
func (c *coderConn) keepsUp(n int) bool {
	if !c.canTell() {
		return false
	}
	need := int64(n + frameOverhead)
	old := c.credit.Load()
	if old >= need {
		return true
	}
	queued, ok := unacknowledged(c.raw)
	if !ok {
		return false
	}
	// An Add, not a Store: what a write (a ping, a pong) spent meanwhile
	// stays spent.
	return c.credit.Add(int64(directBacklog-queued)-old) >= need
}

// directBacklog is the most a direct write may leave unacknowledged on a
// socket: the smallest send buffer the kernel gives a TCP socket
// (tcp_wmem's minimum, 4 KiB, is its floor under memory pressure; 16 KiB
// by default), so the write normally goes straight into it (the kernel
// also counts each packet's overhead; the write's deadline bounds it
// otherwise). A larger event goes through the subscription's goroutine.
const directBacklog = 4096

// writeRawWithin implements directConn.
func (c *coderConn) writeRawWithin(data []byte, d time.Duration) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(d)); err != nil {
		_ = c.conn.CloseNow()
		return err
	}
	err := c.writeRaw(data)
	if err != nil {
		// A frame may be cut short: nothing more can be written.
		_ = c.conn.CloseNow()
		return err
	}
	return c.nc.SetWriteDeadline(time.Time{})
}

// WriteClose implements transport.WebsocketConn: the close handshake, which
// may wait for the peer, runs in the background.
func (c *coderConn) WriteClose(code int, message string) error {
	c.clearReadDeadlineTimer()
	c.mu.Lock()
	if c.closeHandshakeCh != nil {
		c.mu.Unlock()
		return nil
	}
	done := make(chan struct{})
	c.closeHandshakeCh = done
	c.mu.Unlock()
	go func() {
		defer close(done)
		_ = c.conn.Close(websocket.StatusCode(code), message)
	}()
	return nil
}

// Subprotocol implements transport.WebsocketConn.
func (c *coderConn) Subprotocol() string { return c.conn.Subprotocol() }

// SetReadLimit implements transport.WebsocketReadLimiter.
func (c *coderConn) SetReadLimit(limit int64) { c.conn.SetReadLimit(limit) }

// SetReadDeadline implements transport.WebsocketReadDeadliner.
func (c *coderConn) SetReadDeadline(deadline time.Time) error {
	closeNow := false
	c.mu.Lock()
	c.stopReadDeadlineTimerLocked()
	if !deadline.IsZero() {
		if d := time.Until(deadline); d <= 0 {
			closeNow = true
		} else {
			c.readDeadlineTimer = time.AfterFunc(d, func() { _ = c.conn.CloseNow() })
		}
	}
	c.mu.Unlock()
	if closeNow {
		return c.conn.CloseNow()
	}
	return nil
}

func (c *coderConn) clearReadDeadlineTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopReadDeadlineTimerLocked()
}

func (c *coderConn) stopReadDeadlineTimerLocked() {
	if c.readDeadlineTimer != nil {
		c.readDeadlineTimer.Stop()
		c.readDeadlineTimer = nil
	}
}

// checkEnvelopes makes nextFrame compare every envelope it builds with
// json.Marshal's (set by the tests, so every event of every test checks it).
var checkEnvelopes bool

// plainJSONString reports whether s is written as itself between quotes
// by json.Marshal (printable ASCII, nothing it escapes).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

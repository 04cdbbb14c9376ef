package main

// With -fanout-procs P the fanout scenario spreads its sockets over
// processes, because the open-files limit is per process and one process
// holding ours and the baseline's client and server ends needs about
// 4 N descriptors: this process keeps only our server's ends; P child
// processes hold our subscribers' ends, P more the baseline's, and one the
// baseline's broadcast server. The children report every delivery over a
// pipe and this process's trackers count them as if they had been read
// here.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/whisper-health/whisper/internal/pulid"
)

// childReadyTimeout bounds how long a child process may take to open its
// websockets.
const childReadyTimeout = 3 * time.Minute

// Record kinds a client process writes on its standard output. A delivery
// is followed by four little-endian fields: subscriber index and message
// index (uint32), send and receive time in Unix nanoseconds (int64); a
// failure or a captured frame by its length (uint32) and its bytes.
const (
	recReady     = 'r'
	recDelivery  = 'd'
	recFailure   = 'f'
	recCaptured  = 'c'
	deliverySize = 4 + 4 + 8 + 8
)

// clientOrders is what a fanout client process is told, as one JSON line on
// its standard input.
type clientOrders struct {
	// URL is the websocket server to dial.
	URL string `json:"url"`
	// Tokens, when set, make every client a graphql-transport-ws
	// subscriber of messageAdded in ChannelID (one token each); otherwise
	// the clients are plain websockets.
	Tokens    []string `json:"tokens,omitempty"`
	ChannelID pulid.ID `json:"channel_id,omitempty"`
	// N is the number of clients.
	N int `json:"n"`
}

// procsNote is the log lines' mention of the child processes.
func procsNote(procs int) string {
	if procs == 0 {
		return ""
	}
	return fmt.Sprintf(" (clients in %d child processes)", procs)
}

// fanoutChildMain runs this process as one of the fanout scenario's child
// processes (role "clients" or "broadcaster") until its standard input
// closes.
func fanoutChildMain(role string) int {
	var err error
	switch role {
	case "clients":
		err = clientsChild()
	case "broadcaster":
		err = broadcasterChild()
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: fanout %s process: %v\n", role, err)
		return 1
	}
	return 0
}

// childRecord is one record a client process reports.
type childRecord struct {
	kind       byte
	idx, k     uint32
	sent, recv int64
	text       []byte
}

// clientsChild opens the clients of its orders, reports "ready" and then
// every delivery, answers pings, and closes everything once its standard
// input closes.
func clientsChild() error {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("reading the orders: %w", err)
	}
	var o clientOrders
	if err := json.Unmarshal(line, &o); err != nil {
		return fmt.Errorf("reading the orders: %w", err)
	}
	records := make(chan childRecord, 1<<16)
	written := make(chan error, 1)
	go func() { written <- writeRecords(os.Stdout, records) }()

	ctx := context.Background()
	var captured atomic.Bool
	conns := make([]*websocket.Conn, o.N)
	var readers sync.WaitGroup
	read := func(i int, c *websocket.Conn) {
		defer readers.Done()
		for {
			_, data, err := c.Read(ctx)
			now := time.Now()
			if err != nil {
				return
			}
			f := parseFrame(data)
			switch {
			case f.ping:
				_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
			case f.failure != "":
				records <- childRecord{kind: recFailure, text: []byte(f.failure)}
			case f.bench && f.k >= 0:
				if !captured.Load() && captured.CompareAndSwap(false, true) {
					records <- childRecord{kind: recCaptured, text: data}
				}
				records <- childRecord{kind: recDelivery, idx: uint32(i), k: uint32(f.k), sent: f.sent.UnixNano(), recv: now.UnixNano()}
			}
		}
	}
	_, _, err = loop(ctx, dialConcurrency, o.N, func(ctx context.Context, i int) error {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var c *websocket.Conn
		var err error
		if o.Tokens != nil {
			c, err = dialGraphQL(dctx, o.URL, o.Tokens[i], o.ChannelID)
		} else {
			c, _, err = websocket.Dial(dctx, o.URL, nil)
		}
		if err != nil {
			return fmt.Errorf("opening websocket %d: %w", i, err)
		}
		conns[i] = c
		readers.Add(1)
		go read(i, c)
		return nil
	})
	if err == nil {
		records <- childRecord{kind: recReady}
		_, _ = io.Copy(io.Discard, in) // until the parent closes it
	}
	for _, c := range conns {
		if c != nil {
			_ = c.CloseNow()
		}
	}
	readers.Wait()
	close(records)
	if werr := <-written; err == nil {
		err = werr
	}
	return err
}

// writeRecords encodes records onto w, flushing whenever none is waiting.
func writeRecords(w io.Writer, records <-chan childRecord) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var buf [1 + deliverySize]byte
	var err error
	for r := range records {
		if err != nil {
			continue // drain, so that the readers never block
		}
		buf[0] = r.kind
		switch r.kind {
		case recDelivery:
			binary.LittleEndian.PutUint32(buf[1:], r.idx)
			binary.LittleEndian.PutUint32(buf[5:], r.k)
			binary.LittleEndian.PutUint64(buf[9:], uint64(r.sent))
			binary.LittleEndian.PutUint64(buf[17:], uint64(r.recv))
			_, err = bw.Write(buf[:1+deliverySize])
		case recFailure, recCaptured:
			binary.LittleEndian.PutUint32(buf[1:], uint32(len(r.text)))
			if _, err = bw.Write(buf[:5]); err == nil {
				_, err = bw.Write(r.text)
			}
		default:
			_, err = bw.Write(buf[:1])
		}
		if err == nil && len(records) == 0 {
			err = bw.Flush()
		}
	}
	if err == nil {
		err = bw.Flush()
	}
	return err
}

// clientProc is one client process as the parent sees it.
type clientProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	warmed []bool
	lat    []time.Duration
	ready  chan struct{}
	done   chan struct{} // closed when its record stream has ended
	err    error         // set before done is closed
}

// clientProcs are the subscribers of one side run by child processes.
type clientProcs struct {
	procs []*clientProc
	once  sync.Once
}

// startClientProcs starts procs client processes sharing n clients of the
// orders (Tokens, when set, has n entries) and waits until every one has
// opened its websockets; their deliveries are recorded in t.
func startClientProcs(ctx context.Context, procs int, orders clientOrders, n int, t *tracker) (*clientProcs, error) {
	self, err := os.Executable()
	if err != nil {
		return &clientProcs{}, err
	}
	cs := &clientProcs{}
	for p := range procs {
		lo, hi := n*p/procs, n*(p+1)/procs
		if lo == hi {
			continue
		}
		o := orders
		o.N = hi - lo
		if orders.Tokens != nil {
			o.Tokens = orders.Tokens[lo:hi]
		}
		cp, err := startClientProc(ctx, self, o, t)
		if cp != nil {
			cs.procs = append(cs.procs, cp)
		}
		if err != nil {
			return cs, err
		}
	}
	timeout := time.After(childReadyTimeout)
	for i, cp := range cs.procs {
		select {
		case <-cp.ready:
		case <-cp.done:
			return cs, fmt.Errorf("client process %d: %w", i, cp.err)
		case <-timeout:
			return cs, fmt.Errorf("client process %d not ready after %v: %w", i, childReadyTimeout, errTimeout)
		case <-ctx.Done():
			return cs, context.Cause(ctx)
		}
	}
	return cs, nil
}

func startClientProc(ctx context.Context, self string, o clientOrders, t *tracker) (*clientProc, error) {
	line, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	cmd, stdin, stdout, err := startChild(ctx, self, "clients")
	if err != nil {
		return nil, err
	}
	cp := &clientProc{cmd: cmd, stdin: stdin, warmed: make([]bool, o.N), lat: make([]time.Duration, 0, o.N*t.messages),
		ready: make(chan struct{}), done: make(chan struct{})}
	go cp.readRecords(stdout, t)
	if _, err := stdin.Write(append(line, '\n')); err != nil {
		return cp, fmt.Errorf("sending a client process its orders: %w", err)
	}
	return cp, nil
}

// readRecords records the process's deliveries in t until its output ends.
func (cp *clientProc) readRecords(r io.Reader, t *tracker) {
	defer close(cp.done)
	br := bufio.NewReaderSize(r, 64<<10)
	var buf [deliverySize]byte
	ready := false
	for {
		kind, err := br.ReadByte()
		if err != nil {
			if !ready {
				cp.err = errors.New("exited before opening its websockets (see its message above)")
			}
			return
		}
		switch kind {
		case recReady:
			ready = true
			close(cp.ready)
		case recDelivery:
			if _, err := io.ReadFull(br, buf[:]); err != nil {
				cp.err = err
				return
			}
			idx := binary.LittleEndian.Uint32(buf[0:])
			k := int(binary.LittleEndian.Uint32(buf[4:]))
			sent := int64(binary.LittleEndian.Uint64(buf[8:]))
			recv := int64(binary.LittleEndian.Uint64(buf[16:]))
			if k >= len(t.counts) || int(idx) >= len(cp.warmed) {
				continue // not one of ours
			}
			t.note(&cp.warmed[idx], &cp.lat, k, time.Unix(0, sent), time.Unix(0, recv))
		case recFailure, recCaptured:
			if _, err := io.ReadFull(br, buf[:4]); err != nil {
				cp.err = err
				return
			}
			text := make([]byte, binary.LittleEndian.Uint32(buf[:4]))
			if _, err := io.ReadFull(br, text); err != nil {
				cp.err = err
				return
			}
			if kind == recFailure {
				t.fail(string(text))
			} else {
				t.captured.CompareAndSwap(nil, &text)
			}
		default:
			cp.err = fmt.Errorf("unknown record %q", kind)
			return
		}
	}
}

// close ends the client processes (closing their standard input), waits
// until their records are read and reaps them.
func (cs *clientProcs) close() {
	cs.once.Do(func() {
		for _, cp := range cs.procs {
			_ = cp.stdin.Close()
		}
		for i, cp := range cs.procs {
			<-cp.done
			if err := cp.cmd.Wait(); err != nil {
				logf("bench: fanout: client process %d: %v", i, err)
			}
		}
	})
}

func (cs *clientProcs) latencies() ([]time.Duration, int) {
	var all []time.Duration
	for _, cp := range cs.procs {
		all = append(all, cp.lat...)
	}
	return all, len(all)
}

// broadcasterOrders is the first line of the broadcaster process's standard
// input: the captured "next" frame around its body.
type broadcasterOrders struct {
	Before []byte `json:"before"`
	After  []byte `json:"after"`
}

// broadcasterChild runs the baseline's broadcast server: it prints its URL
// and then obeys one command per line of its standard input, "wait <n>"
// (answered "ok" or "error <text>") and "send <body>", until the input
// closes.
func broadcasterChild() error {
	in := bufio.NewReaderSize(os.Stdin, 64<<10)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("reading the orders: %w", err)
	}
	var o broadcasterOrders
	if err := json.Unmarshal(line, &o); err != nil {
		return fmt.Errorf("reading the orders: %w", err)
	}
	tpl := &template{before: o.Before, after: o.After}
	b, err := startBroadcaster()
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := fmt.Printf("url %s\n", b.url); err != nil {
		return err
	}
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return nil // the parent closed it
		}
		cmd, arg, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		switch cmd {
		case "send":
			b.broadcast(tpl.with(arg))
		case "wait":
			n, err := strconv.Atoi(arg)
			if err == nil {
				err = b.waitFor(context.Background(), n)
			}
			if err != nil {
				fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
			} else {
				fmt.Println("ok")
			}
		default:
			return fmt.Errorf("unknown command %q", cmd)
		}
	}
}

// broadcasterProc is the baseline's broadcast server in a child process.
type broadcasterProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	url   string
	once  sync.Once
}

// startBroadcasterProc starts the broadcaster process with the captured
// frame and waits for its URL.
func startBroadcasterProc(ctx context.Context, tpl *template) (*broadcasterProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	line, err := json.Marshal(broadcasterOrders{Before: tpl.before, After: tpl.after})
	if err != nil {
		return nil, err
	}
	cmd, stdin, stdout, err := startChild(ctx, self, "broadcaster")
	if err != nil {
		return nil, err
	}
	b := &broadcasterProc{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	if _, err := stdin.Write(append(line, '\n')); err != nil {
		b.Close()
		return nil, fmt.Errorf("sending the broadcaster process its orders: %w", err)
	}
	reply, err := b.out.ReadString('\n')
	u, ok := strings.CutPrefix(strings.TrimSpace(reply), "url ")
	if !ok {
		b.Close()
		return nil, fmt.Errorf("the broadcaster process did not start (%q, %v)", reply, err)
	}
	b.url = u
	return b, nil
}

func (b *broadcasterProc) URL() string { return b.url }

func (b *broadcasterProc) waitFor(ctx context.Context, n int) error {
	if _, err := fmt.Fprintf(b.stdin, "wait %d\n", n); err != nil {
		return err
	}
	reply, err := b.out.ReadString('\n')
	if err != nil {
		return fmt.Errorf("the broadcaster process: %w", err)
	}
	if reply = strings.TrimSpace(reply); reply != "ok" {
		return fmt.Errorf("baseline: %s", strings.TrimPrefix(reply, "error "))
	}
	return nil
}

func (b *broadcasterProc) broadcast(body string) error {
	_, err := io.WriteString(b.stdin, "send "+body+"\n")
	return err
}

// Close ends the broadcaster process (closing its standard input) and
// reaps it.
func (b *broadcasterProc) Close() {
	b.once.Do(func() {
		_ = b.stdin.Close()
		if err := b.cmd.Wait(); err != nil {
			logf("bench: fanout: broadcaster process: %v", err)
		}
	})
}

// startChild starts the bench's own binary self as a -fanout-child of the
// given role, with pipes to its standard input and output (its standard
// error is the bench's); it dies with the bench (see childProcAttr).
func startChild(ctx context.Context, self, role string) (*exec.Cmd, io.WriteCloser, io.ReadCloser, error) {
	cmd := exec.CommandContext(ctx, self, "-fanout-child", role)
	cmd.SysProcAttr = childProcAttr()
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return cmd, stdin, stdout, nil
}

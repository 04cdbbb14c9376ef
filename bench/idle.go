package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// idleOrders is what the idle scenario's client process is told to do.
type idleOrders struct {
	// URL is the server to connect to.
	URL string `json:"url"`
	// Tokens, when set, make every socket a graphql-transport-ws client
	// (one token each) subscribing to the three streams; otherwise the
	// sockets are bare and wait for the echo server's hello.
	Tokens []string `json:"tokens,omitempty"`
	// N is the number of sockets.
	N int `json:"n"`
}

// idleClientMain is the idle scenario's client process: it opens the
// sockets of its orders, prints "ready" once every one has its first
// event, keeps them open (reading, answering pings) until its standard
// input closes, and exits. Keeping the clients in their own process leaves
// the parent's memory and goroutines to the server.
func idleClientMain(path string) int {
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idle client:", err)
		return 1
	}
	var o idleOrders
	if err := json.Unmarshal(raw, &o); err != nil {
		fmt.Fprintln(os.Stderr, "idle client:", err)
		return 1
	}
	ctx := context.Background()
	t := storm(ctx, o.N, dialConcurrency, func(ctx context.Context, i int) (*websocket.Conn, error) {
		if o.Tokens != nil {
			return connectOurs(ctx, o.URL, o.Tokens[i])
		}
		return connectBare(ctx, o.URL)
	})
	if t.errors > 0 {
		fmt.Fprintf(os.Stderr, "idle client: %d of %d sockets failed (first: %s)\n", t.errors, o.N, t.errMsg)
		return 1
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes it
	t.close()
	return 0
}

// footprint is the process's live memory after a full collection (heap
// objects and goroutine stacks) and its goroutines.
func footprint() (bytes uint64, goroutines int) {
	b, _, g := footprintParts()
	return b, g
}

// footprintParts is footprint with the goroutine stacks apart.
func footprintParts() (bytes, stacks uint64, goroutines int) {
	var before int
	for range 20 {
		// Let goroutines that are still winding down finish.
		runtime.GC()
		if g := runtime.NumGoroutine(); g == before {
			break
		} else {
			before = g
		}
		time.Sleep(50 * time.Millisecond)
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse, m.StackInuse, runtime.NumGoroutine()
}

// holdIdle has a client process open n sockets on the orders' server and
// returns the server process's growth per socket in bytes and goroutines.
// held, when set, runs while the sockets are held (after measuring).
func holdIdle(ctx context.Context, dir string, o idleOrders, held func() error) (perSocket float64, goroutines float64, err error) {
	b, err := json.Marshal(o)
	if err != nil {
		return 0, 0, err
	}
	path := filepath.Join(dir, "orders.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return 0, 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	mem0, st0, g0 := footprintParts()
	cmd := exec.CommandContext(ctx, self, "-idle-client", path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		stdin.Close()
		if werr := cmd.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("the idle client process: %w", werr)
		}
	}()
	line, rerr := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		return 0, 0, fmt.Errorf("the idle client process did not get ready (%q, %v)", line, rerr)
	}
	mem1, st1, g1 := footprintParts()
	logf("bench: idle: %.1f KB per socket, of which goroutine stacks %.1f KB", float64(int64(mem1)-int64(mem0))/float64(o.N)/1024, float64(int64(st1)-int64(st0))/float64(o.N)/1024)
	if held != nil {
		if err := held(); err != nil {
			return 0, 0, err
		}
	}
	return float64(int64(mem1)-int64(mem0)) / float64(o.N), float64(g1-g0) / float64(o.N), nil
}

// runIdle measures what -idle-sockets idle sockets cost the server: each a
// graphql-transport-ws socket with three live subscriptions (messageAdded,
// channelUpdated, unreadBadge) that has received its first event, against
// plain sockets of a bare coder/websocket echo server. The clients run in
// a child process; the figures are the growth of this process's live heap
// plus goroutine stacks, and of its goroutines, per socket.
func runIdle(ctx context.Context, srv *server, o Options) (Result, error) {
	n := o.IdleSockets
	logf("bench: idle: %d sockets, three subscriptions each, against a bare echo server", n)
	tokens, err := srv.clientTokens(ctx, n)
	if err != nil {
		return Result{}, err
	}
	if err := waitSocketsClosed(ctx, srv); err != nil {
		return Result{}, err
	}
	dir, err := os.MkdirTemp("", "whisper-bench-idle-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	bare, err := startEchoServer()
	if err != nil {
		return Result{}, err
	}
	defer bare.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http")
	var heap func() error
	if o.MemProfile != "" {
		heap = func() error { return writeHeapProfile(o.MemProfile, n) }
	}
	ourMem, ourG, err := holdIdle(ctx, dir, idleOrders{URL: wsURL, Tokens: tokens, N: n}, heap)
	if err != nil {
		return Result{}, fmt.Errorf("ours: %w", err)
	}
	if err := waitSocketsClosed(ctx, srv); err != nil {
		return Result{}, err
	}
	baseMem, baseG, err := holdIdle(ctx, dir, idleOrders{URL: bare.url, N: n}, nil)
	if err != nil {
		return Result{}, fmt.Errorf("baseline: %w", err)
	}
	if err := bare.waitClosed(ctx); err != nil {
		return Result{}, err
	}
	r := Result{
		Name:     "idle",
		Unit:     "KB/socket",
		Ours:     ourMem / 1024,
		Baseline: baseMem / 1024,
	}
	r.Ratio = ratio(r.Baseline, r.Ours)
	r.Details = map[string]float64{
		"goroutines_per_socket":          ourG,
		"baseline_goroutines_per_socket": baseG,
	}
	logf("bench: idle: ours %.1f KB and %.1f goroutines per socket, bare echo %.1f KB and %.1f goroutines", r.Ours, ourG, r.Baseline, baseG)
	return r, nil
}

// writeHeapProfile writes the heap profile of this process (the server's,
// with n idle sockets held) to path, and its goroutines (with their
// stacks) to path.goroutines.txt.
func writeHeapProfile(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return err
	}
	g, err := os.Create(path + ".goroutines.txt")
	if err != nil {
		return err
	}
	defer g.Close()
	logf("bench: idle: heap profile of the server with %d sockets held written to %s (goroutines in %s.goroutines.txt)", n, path, path)
	return pprof.Lookup("goroutine").WriteTo(g, 1)
}

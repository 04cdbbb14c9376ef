// Command bench measures Whisper on PostgreSQL against raw baselines, in one
// run, and prints a table (or, with -json, one JSON object per scenario per
// line).
//
// Four scenarios are measured:
//
//   - send: sendMessage throughput through the GraphQL endpoint (HTTP POST,
//     a signed-in doctor writing into one individual conversation from
//     several concurrent clients) against a loop of raw lib/pq transactions
//     doing the same writes into look-alike tables (lock the channel row,
//     insert the message, advance the channel, move the sender's read mark).
//   - fanout: delivery of one message to N websocket subscribers of one
//     group channel (graphql-transport-ws, messageAdded) against a plain
//     coder/websocket broadcast server writing the same bytes to N plain
//     websocket clients.
//   - engine: the Patient Connect engine running due SMS actions (one
//     transaction per enrolment) against direct inserts of the same outbox
//     rows.
//   - audit: filtered audit-log pages over a million seeded messages
//     against the same pages in hand-written SQL (see audit.go).
//
// The server is wired in-process by internal/app, the composition root
// server/main.go uses (store, PostgreSQL LISTEN/NOTIFY bus, every service,
// the live hub and reminders, GraphQL handler; without the CORS and
// request-log middleware and the metrics, and with the engine and the
// outbox run by hand rather than in the background) and served on
// 127.0.0.1 by net/http. Clients, server and baselines share the process,
// and ours and the baselines take turns during measurement so that both
// meet the same background load. docs/BENCHMARKS.md explains the figures.
//
// By default bench creates a throw-away database whisper_bench_<random> on
// postgres://postgres@127.0.0.1:5432/postgres and drops it at the end, also
// when a scenario fails or the run is interrupted.
//
//	go run ./bench                 # the table
//	go run ./bench -json           # one JSON object per scenario per line
//	go run ./bench -cpuprofile cpu.pprof -scenario fanout
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

// DefaultAdminURL is the PostgreSQL server on which the throw-away database
// is created when -database-url is not given.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Options are the command-line settings of one run.
type Options struct {
	// DatabaseURL is an existing database to use; empty creates (and later
	// drops) a throw-away database on AdminURL.
	DatabaseURL string
	// AdminURL is the server the throw-away database is created on.
	AdminURL string
	// Subscribers is N, the websocket subscribers of the fanout scenario.
	Subscribers int
	// Messages is M, the messages delivered to every subscriber.
	Messages int
	// FanoutProcs, when positive, runs the fanout scenario's subscribers
	// (ours and the baseline's, FanoutProcs child processes each) and the
	// baseline's broadcast server in child processes, so that no process
	// holds more than about N sockets; 0 keeps everything in this process.
	FanoutProcs int
	// FanoutChild, when set, makes this process one of the fanout
	// scenario's child processes: "clients" or "broadcaster".
	FanoutChild string
	// Sends is the number of messages sent in the send scenario (ours and
	// baseline alike).
	Sends int
	// Concurrency is the number of concurrent clients in the send scenario.
	Concurrency int
	// Rounds is how many turns ours and the baseline take in the send
	// scenario (each turn sends Sends/Rounds messages).
	Rounds int
	// JSON selects JSON lines instead of the table.
	JSON bool
	// Scenario selects "send", "fanout", "engine", "audit" or "all".
	Scenario string
	// CPUProfile, when set, names the CPU profile written during each
	// scenario's measured phase (ours and baseline, labelled by side); the
	// scenario name is inserted before the extension.
	CPUProfile string
	// MemProfile, when set, names the heap profile the idle scenario writes
	// while its sockets are held (of the server's process: the clients run
	// in a child process).
	MemProfile string
	// RealHash gives the fanout subscribers a full-cost argon2id password
	// hash (auth.HashPassword); by default a minimal-cost one keeps their
	// sign-in quick.
	RealHash bool
	// ServerLog shows the server's warnings and errors on stderr.
	ServerLog bool
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Actions is the number of due actions in the engine scenario.
	Actions int
	// AuditMessages is the number of messages seeded in the audit scenario.
	AuditMessages int
	// EngineRounds is how many bursts ours and the baseline each take in
	// the engine scenario (alternating).
	EngineRounds int
	// StormClients is N, the clients connecting at once in the storm
	// scenario; StormConcurrency bounds the handshakes in flight.
	StormClients, StormConcurrency int
	// StormRounds is how many storms ours and the baseline each take.
	StormRounds int
	// IdleSockets is the number of idle sockets in the idle scenario.
	IdleSockets int
	// IdleClient, when set, makes this process the idle scenario's client
	// (a child process bench starts, so that the parent's memory is the
	// server's alone); it names the file of the child's orders.
	IdleClient string
}

// Result is one scenario's figures; it is also the JSON line printed with
// -json.
type Result struct {
	// Name is the scenario: "send", "send-sqlite", "fanout", "engine",
	// "storm", "idle", "audit" or one of "limits-…".
	Name string `json:"name"`
	// Ours is Whisper's figure in Unit: a throughput (sends, deliveries,
	// subscribed connections or audit pages per second), or for "engine"
	// the burst time in seconds and for "idle" the memory per socket.
	Ours float64 `json:"ours"`
	// Baseline is the baseline's figure in the same unit.
	Baseline float64 `json:"baseline"`
	// Ratio is the figure where higher is better: Ours / Baseline for a
	// throughput, Baseline / Ours for a time or a memory size.
	Ratio float64 `json:"ratio"`
	// Unit names the unit of Ours and Baseline ("ops/s" when empty in the
	// table).
	Unit string `json:"unit,omitempty"`
	// P50 and P99 are Whisper's median and 99th-percentile latency in
	// milliseconds (per request, or per delivery).
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`

	// BaselineP50 and BaselineP99 are the baseline's latencies, shown in the
	// table only.
	BaselineP50 float64 `json:"-"`
	BaselineP99 float64 `json:"-"`

	// Details are a scenario's further figures (errors, goroutines per
	// socket, …), printed in the JSON line and on stderr.
	Details map[string]float64 `json:"details,omitempty"`
}

// scenarios are the scenario names -scenario accepts, in the order they run.
var scenarios = []string{"send", "send-sqlite", "fanout", "engine", "storm", "idle", "limits", "audit"}

// wants reports whether the run includes scenario name.
func (o Options) wants(name string) bool {
	return o.Scenario == "all" || slices.Contains(strings.Split(o.Scenario, ","), name)
}

func main() {
	opts := parseFlags(os.Args[1:])
	raiseFileLimit()
	if opts.IdleClient != "" {
		os.Exit(idleClientMain(opts.IdleClient))
	}
	if opts.FanoutChild != "" {
		os.Exit(fanoutChildMain(opts.FanoutChild))
	}
	if opts.MemProfile != "" {
		runtime.MemProfileRate = 4096 // fine enough to see per-socket objects
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	var drop func() // set once the throw-away database exists
	var dropMu sync.Mutex
	setDrop := func(f func()) { dropMu.Lock(); drop = f; dropMu.Unlock() }
	runDrop := func() {
		dropMu.Lock()
		f := drop
		dropMu.Unlock()
		if f != nil {
			f()
		}
	}

	// A stuck run still drops its database: once interrupted, run gets a
	// grace period to unwind and is then abandoned.
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			logf("bench: did not stop in time after %v; dropping the database and exiting", context.Cause(ctx))
			runDrop()
			os.Exit(1)
		}
	}()

	results, err := run(ctx, opts, setDrop)
	close(done)
	runDrop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if opts.JSON {
		writeJSON(os.Stdout, results)
	} else {
		writeTable(os.Stdout, results)
	}
}

func parseFlags(args []string) Options {
	var o Options
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.StringVar(&o.DatabaseURL, "database-url", "", "existing PostgreSQL database to use (default: a throw-away whisper_bench_<random> database on -admin-url, dropped at the end)")
	fs.StringVar(&o.AdminURL, "admin-url", DefaultAdminURL, "PostgreSQL server on which the throw-away database is created")
	fs.IntVar(&o.Subscribers, "subscribers", 1000, "websocket subscribers in the fanout scenario")
	fs.IntVar(&o.Messages, "messages", 50, "messages delivered to every subscriber in the fanout scenario")
	fs.IntVar(&o.FanoutProcs, "fanout-procs", 0, "run the fanout subscribers in this many child processes per side (ours, baseline) and the baseline's broadcast server in one more, so that 10,000 subscribers fit the open-files limit (0: all in this process)")
	fs.StringVar(&o.FanoutChild, "fanout-child", "", "internal: run as one of the fanout scenario's child processes")
	fs.IntVar(&o.Sends, "sends", 2000, "messages sent in the send scenario (ours and baseline each)")
	fs.IntVar(&o.Concurrency, "concurrency", 4, "concurrent clients in the send scenario (ours and baseline each)")
	fs.IntVar(&o.Rounds, "rounds", 4, "turns ours and the baseline take in the send scenario")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object per scenario per line")
	fs.IntVar(&o.Actions, "actions", 10000, "due actions the engine runs in the engine scenario")
	fs.IntVar(&o.AuditMessages, "audit-messages", 1000000, "messages seeded in the audit scenario (and a tenth as many notifications)")
	fs.StringVar(&o.Scenario, "scenario", "all", "scenarios to run: all, or a comma-separated list of send, send-sqlite, fanout, engine, storm, idle, limits, audit")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of each scenario's measured phase, samples labelled side=whisper|baseline|client (cpu.pprof becomes cpu.send.pprof, cpu.fanout.pprof, cpu.storm.pprof, …), and its allocations (cpu.send.allocs.pprof, against cpu.send.allocs-start.pprof)")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile of the server while the idle scenario's sockets are held (go tool pprof -sample_index=inuse_space)")
	fs.BoolVar(&o.RealHash, "real-password-hash", false, "give the fanout subscribers a full-cost argon2id password hash (sign-in then takes about a minute)")
	fs.BoolVar(&o.ServerLog, "server-log", false, "show the server's warnings and errors on stderr")
	fs.DurationVar(&o.Timeout, "timeout", 8*time.Minute, "abandon the run (dropping the database) after this long")
	fs.IntVar(&o.EngineRounds, "engine-rounds", 2, "bursts ours and the baseline each take in the engine scenario, alternating")
	fs.IntVar(&o.StormClients, "storm-clients", 2000, "clients connecting at once in the storm scenario")
	fs.IntVar(&o.StormConcurrency, "storm-concurrency", 200, "connection attempts in flight in the storm scenario")
	fs.IntVar(&o.StormRounds, "storm-rounds", 2, "storms ours and the baseline each take, alternating")
	fs.IntVar(&o.IdleSockets, "idle-sockets", 2000, "idle sockets (three subscriptions each) in the idle scenario")
	fs.StringVar(&o.IdleClient, "idle-client", "", "internal: run as the idle scenario's client process")
	_ = fs.Parse(args)
	switch {
	case o.Subscribers < 1, o.Messages < 1, o.FanoutProcs < 0, o.Sends < 1, o.Concurrency < 1, o.Rounds < 1, o.Actions < 1, o.AuditMessages < 10,
		o.EngineRounds < 1, o.StormClients < 1, o.StormConcurrency < 1, o.StormRounds < 1, o.IdleSockets < 1:
		fmt.Fprintln(os.Stderr, "bench: -fanout-procs must not be negative; -subscribers, -messages, -sends, -concurrency, -rounds, -actions, -engine-rounds, -storm-clients, -storm-concurrency, -storm-rounds and -idle-sockets must be positive, -audit-messages at least 10")
		os.Exit(2)
	}
	for _, sc := range strings.Split(o.Scenario, ",") {
		if !slices.Contains(scenarios, sc) && sc != "all" {
			fmt.Fprintf(os.Stderr, "bench: -scenario must be all or a comma-separated list of %s\n", strings.Join(scenarios, ", "))
			os.Exit(2)
		}
	}
	return o
}

// run sets up the database and the server, runs the scenarios and tears
// everything down again. setDrop receives the function that drops the
// throw-away database.
func run(ctx context.Context, o Options, setDrop func(func())) ([]Result, error) {
	start := time.Now()
	dbURL := o.DatabaseURL
	if dbURL == "" {
		u, drop, err := createDatabase(ctx, o.AdminURL)
		if err != nil {
			return nil, err
		}
		setDrop(drop)
		dbURL = u
	}
	// Every goroutine inherits its creator's profiler labels, so CPU samples
	// tell Whisper's server (side=whisper) from the baselines
	// (side=baseline) and the load-generating clients (side=client).
	// (pprof.Do restores the labels of the context it is given, so ctx
	// itself carries side=client from here on.)
	ctx = pprof.WithLabels(ctx, pprof.Labels("side", "client"))
	pprof.SetGoroutineLabels(ctx)
	var srv *server
	var err error
	pprof.Do(ctx, pprof.Labels("side", "whisper"), func(ctx context.Context) {
		srv, err = startServer(ctx, dbURL, o.ServerLog)
	})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	logf("bench: server ready in %v (GOMAXPROCS=%d)", time.Since(start).Round(time.Millisecond), runtime.GOMAXPROCS(0))

	var results []Result
	steps := []struct {
		name string
		run  func(context.Context, *server, Options) ([]Result, error)
	}{
		{"send", one(runSend)},
		{"send-sqlite", one(runSendSQLite)},
		{"fanout", one(runFanout)},
		{"engine", one(runEngine)},
		{"storm", one(runStorm)},
		{"idle", one(runIdle)},
		{"limits", runLimits},
		{"audit", one(runAudit)},
	}
	for _, st := range steps {
		if !o.wants(st.name) {
			continue
		}
		rs, err := st.run(ctx, srv, o)
		if err != nil {
			return nil, fmt.Errorf("%s scenario: %w", st.name, err)
		}
		results = append(results, rs...)
	}
	logf("bench: finished in %v", time.Since(start).Round(time.Millisecond))
	return results, nil
}

// one adapts a scenario with one result to the list of steps.
func one(f func(context.Context, *server, Options) (Result, error)) func(context.Context, *server, Options) ([]Result, error) {
	return func(ctx context.Context, srv *server, o Options) ([]Result, error) {
		r, err := f(ctx, srv, o)
		if err != nil {
			return nil, err
		}
		return []Result{r}, nil
	}
}

// profile starts a CPU profile for scenario name when -cpuprofile is set and
// returns the (idempotent) function that stops it.
func profile(o Options, name string) (stop func(), err error) {
	if o.CPUProfile == "" {
		return func() {}, nil
	}
	ext := filepath.Ext(o.CPUProfile)
	path := strings.TrimSuffix(o.CPUProfile, ext) + "." + name + ext
	if ext == "" {
		path = o.CPUProfile + "." + name + ".pprof"
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	// The allocations of the phase: the heap profile's cumulative figures
	// at its start and at its end (go tool pprof -sample_index=alloc_space
	// -base <start> <end>), after a collection so that both are complete.
	base := strings.TrimSuffix(path, filepath.Ext(path))
	allocsAt := func(p string) error {
		runtime.GC()
		af, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("allocs").WriteTo(af, 0); err != nil {
			af.Close()
			return err
		}
		return af.Close()
	}
	if err := allocsAt(base + ".allocs-start.pprof"); err != nil {
		f.Close()
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
			logf("bench: CPU profile of %s written to %s (samples are labelled side=whisper, baseline or client)", name, path)
			if err := allocsAt(base + ".allocs.pprof"); err != nil {
				logf("bench: the allocation profile of %s: %v", name, err)
				return
			}
			logf("bench: its allocations written to %s.allocs.pprof (go tool pprof -sample_index=alloc_space -base %s.allocs-start.pprof)", base, base)
		})
	}, nil
}

// raiseFileLimit lifts the soft open-files limit to the hard one: the
// fanout scenario holds two sockets per subscriber (client and server end).
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			logf("bench: raising the open-files limit: %v", err)
		}
	}
}

func writeTable(w io.Writer, results []Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tunit\tours\tbaseline\tratio\tp50(ms)\tp99(ms)\tbaseline p50(ms)\tbaseline p99(ms)\tdetails")
	for _, r := range results {
		unit := r.Unit
		if unit == "" {
			unit = "ops/s"
		}
		var details []string
		for _, k := range slices.Sorted(maps.Keys(r.Details)) {
			details = append(details, fmt.Sprintf("%s=%g", k, round(r.Details[k], 2)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.3f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\n",
			r.Name, unit, r.Ours, r.Baseline, r.Ratio, r.P50, r.P99, r.BaselineP50, r.BaselineP99, strings.Join(details, " "))
	}
	tw.Flush()
}

func writeJSON(w io.Writer, results []Result) {
	enc := json.NewEncoder(w)
	for _, r := range results {
		r.Ours, r.Baseline = round(r.Ours, 2), round(r.Baseline, 2)
		for k, v := range r.Details {
			r.Details[k] = round(v, 2)
		}
		r.Ratio = round(r.Ratio, 3)
		r.P50, r.P99 = round(r.P50, 2), round(r.P99, 2)
		_ = enc.Encode(r)
	}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// logf reports progress on stderr, so that stdout carries only the results.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// errTimeout marks a wait that ran out of time.
var errTimeout = errors.New("timed out")

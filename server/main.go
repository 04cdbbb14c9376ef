// Command server runs Whisper: the GraphQL API (HTTP and websockets), the
// GraphiQL explorer, health, readiness and metrics endpoints, on SQLite by
// default or PostgreSQL via DATABASE_URL.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"

	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/app"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/demo/alive"
	"github.com/whisper-health/whisper/internal/outbox"
	settingsdb "github.com/whisper-health/whisper/internal/settings"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/tracing"
	"github.com/whisper-health/whisper/server/explorer"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole command. It returns the exit status: 0 after a clean
// shutdown (or -h), 1 when start-up or shutdown fails, 2 for a bad setting.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(args[1:], getenv, stderr)
	}
	if len(args) > 0 && args[0] == "bootstrap-admin" {
		return bootstrapAdmin(args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "migrate" {
		return migrateCommand(args[1:], getenv, stdout, stderr)
	}
	cfg, err := LoadConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		Usage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "whisper: configuration:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := Start(ctx, cfg, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "whisper:", err)
		return 1
	}
	<-ctx.Done()
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintln(stderr, "whisper: shutdown:", err)
		return 1
	}
	return 0
}

// App is a running Whisper server: the services of internal/app behind the
// HTTP listener, with their workers running.
type App struct {
	cfg      Config
	log      *slog.Logger
	db       *store.DB
	bus      *app.Bus
	core     *app.App
	http     *http.Server
	listener net.Listener
	served   chan error

	stopWorkers context.CancelFunc
	workersDone chan struct{}

	maxLag      time.Duration // /readyz fails past this delivery lag
	metricsHTTP *http.Server  // the /metrics listener, when separate
	metricsAddr net.Addr

	stopTracing func(context.Context) error // flushes and ends tracing (a no-op when off)
}

// serveMetrics serves handler at /metrics on its own listener at addr.
func (a *App) serveMetrics(addr string, handler http.Handler) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", handler)
	a.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	a.metricsAddr = l.Addr()
	go func() { _ = a.metricsHTTP.Serve(l) }()
	return nil
}

// MetricsURL is the base URL of the separate /metrics listener, if any.
func (a *App) MetricsURL() string {
	if a.metricsAddr == nil {
		return ""
	}
	return "http://" + displayAddr(a.metricsAddr)
}

// Start opens the database, brings its schema up to date, loads the demo
// when asked, and starts serving. It returns once the listener is bound; a
// start that fails part-way stops what it had started (workers, bus,
// database) before it returns.
func Start(ctx context.Context, cfg Config, stdout io.Writer) (*App, error) {
	log := newLogger(cfg, stdout)
	// Tracing first, so the database spans too when it is on.
	stopTracing, err := tracing.Start(ctx, cfg.OTLPEndpoint)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		_ = stopTracing(ctx)
		return nil, err
	}
	db.SetPoolSize(cfg.DBMaxConns)
	a := &App{cfg: cfg, log: log, db: db, served: make(chan error, 1), stopTracing: stopTracing}
	if err := a.start(ctx, stdout); err != nil {
		if cerr := a.stopBackground(); cerr != nil {
			log.Warn("stopping after a failed start", "err", cerr)
		}
		return nil, err
	}
	return a, nil
}

func (a *App) start(ctx context.Context, stdout io.Writer) error {
	cfg, log := a.cfg, a.log
	if err := a.db.Migrate(ctx); err != nil {
		return err
	}
	log.Info("database ready", "source", a.db.Source)

	secret := []byte(cfg.TokenSecret)
	if len(secret) == 0 {
		var err error
		if secret, err = auth.LoadOrCreateSecret(ctx, a.db.Client); err != nil {
			return err
		}
	}
	var err error
	if a.bus, err = app.OpenBus(a.db, cfg.DatabaseURL, log); err != nil {
		return err
	}

	var demoLoaded *demo.Result
	if cfg.Demo {
		if demoLoaded, err = demo.Load(ctx, a.db.Client, time.Now()); err != nil {
			return fmt.Errorf("loading demo practice: %w", err)
		}
		if !demoLoaded.Loaded {
			log.Warn("demo practice not loaded: the database already has data")
		} else if err := alive.Seed(ctx, a.db, a.bus, log, time.Now()); err != nil {
			return fmt.Errorf("bringing the demo practice to life: %w", err)
		}
	}

	// Each channel goes to its configured provider; an unconfigured one is
	// delivered by the log provider.
	providers := map[string]outbox.Provider{}
	if cfg.SMSURL != "" {
		providers["SMS"] = outbox.HTTPSMS{BaseURL: cfg.SMSURL, Account: cfg.SMSAccount, Token: cfg.SMSToken, From: cfg.SMSFrom,
			StatusCallback: cfg.SMSStatusURL()}
	}
	if cfg.SMTPHost != "" {
		providers["EMAIL"] = outbox.SMTPEmail{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername,
			Password: cfg.SMTPPassword, From: cfg.SMTPFrom, StartTLS: cfg.SMTPStartTLS}
	}
	if cfg.LettersDir != "" {
		providers["LETTER"] = &outbox.Letters{Dir: cfg.LettersDir, EPostURL: cfg.EPostURL, Letterhead: cfg.PracticeName}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := newMetrics(reg)

	extensions := []graphql.HandlerExtension{metrics}
	if tracing.Enabled() {
		extensions = append(extensions, tracing.GraphQL{})
	}
	a.core, err = app.New(a.db, a.bus, app.Config{
		TokenSecret:             secret,
		AccessTokenTTL:          cfg.AccessTokenTTL,
		RefreshTokenTTL:         cfg.RefreshTokenTTL,
		Practice:                settingsdb.Practice{Name: cfg.PracticeName, Phone: cfg.PracticePhone, Address: cfg.PracticeAddress, Location: cfg.TimeZone},
		Providers:               providers,
		ChannelHideAfter:        cfg.ChannelHideAfter,
		AppURL:                  cfg.AppURL,
		SendWindow:              cfg.SendWindow,
		PublicURL:               cfg.PublicBase(),
		PasswordChecksPerMinute: cfg.PasswordChecksPerMin,
		LiveBuffer:              cfg.SubscriberQueue,
		LiveScanGap:             cfg.LiveScanGap,
		Handler: graph.HandlerConfig{
			Introspection:       cfg.Introspection,
			MaxDepth:            cfg.MaxDepth,
			MaxComplexity:       cfg.MaxComplexity,
			MaxPageSize:         cfg.MaxPageSize,
			MaxBodyBytes:        cfg.MaxBodyBytes,
			MaxSelections:       cfg.MaxSelections,
			MaxAliases:          cfg.MaxAliases,
			MaxFragmentSpreads:  cfg.MaxFragmentSpreads,
			MaxSubscriptions:    cfg.MaxSubscriptions,
			MaxSocketsPerUser:   cfg.MaxSocketsPerUser,
			PersistedQueryBytes: cfg.APQCacheBytes,
			WebsocketOrigins:    cfg.WebsocketOrigins(),
			TrustedProxies:      cfg.TrustedProxies,
			Extensions:          extensions,
		},
		PatientNudgeAfter: cfg.PatientNudgeAfter,
	}, log)
	if err != nil {
		return err
	}
	metrics.openSockets = a.core.Handler.OpenSockets
	metrics.deliveryLag = a.core.Hub.DeliveryLag
	metrics.liveScans = a.core.Hub.Scans
	a.maxLag = cfg.MaxDeliveryLag
	workers, stopWorkers := context.WithCancel(context.Background())
	a.stopWorkers, a.workersDone = stopWorkers, make(chan struct{})
	go func() {
		defer close(a.workersDone)
		a.core.Run(workers)
	}()

	mux := http.NewServeMux()
	mux.Handle("/graphql", a.core.Handler)
	if cfg.Explorer {
		explorer.Register(mux)
	}
	live := func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }
	mux.HandleFunc("GET /livez", live)
	mux.HandleFunc("GET /healthz", live)
	mux.HandleFunc("GET /readyz", a.ready)
	metricsHandler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	switch {
	case cfg.MetricsAddr == "" && !cfg.Production:
		mux.Handle("GET /metrics", metricsHandler)
	case cfg.MetricsAddr != "" && cfg.MetricsAddr != "off":
		// Metrics on their own listener (an internal port), never the
		// public one.
		if err := a.serveMetrics(cfg.MetricsAddr, metricsHandler); err != nil {
			return err
		}
	}
	if cfg.SMSToken != "" {
		// Without a token, inbound messages could not be authenticated.
		mux.Handle("/webhooks/sms", smsWebhook(a.core.Engine, a.core.Consent, a.core.Settings, cfg.SMSToken, cfg.SMSWebhookURL, log))
		mux.Handle("/webhooks/sms/status", smsStatusWebhook(a.core.Outbox, cfg.SMSToken, cfg.smsStatusSignedURL(), log))
	}
	mux.Handle(consent.UnsubscribePath, unsubscribePage(a.core.Consent, log))

	corsMW := cors.New(cors.Options{
		AllowedOrigins:   cfg.CORSOrigins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "X-Request-ID"},
		ExposedHeaders:   []string{"X-Request-ID"},
		AllowCredentials: false,
		MaxAge:           600,
	})
	handler := withRequestLog(log, metrics, corsMW.Handler(mux))
	if tracing.Enabled() {
		handler = withTracing(handler)
	}
	a.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.Background() },
	}
	a.listener, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	go func() { a.served <- a.http.Serve(a.listener) }()

	url := "http://" + displayAddr(a.listener.Addr())
	log.Info("whisper listening", "url", url, "graphql", url+"/graphql", "production", cfg.Production)
	if demoLoaded != nil && demoLoaded.Loaded {
		fmt.Fprintf(stdout, "\nWhisper demo practice is ready at %s (GraphQL: %s/graphql)\n", url, url)
		fmt.Fprintf(stdout, "  sign in with any of these, password %q:\n", demo.Password)
		for _, u := range demoLoaded.Users {
			fmt.Fprintf(stdout, "    %-24s %s\n", u.Email, u.Name)
		}
		fmt.Fprintf(stdout, "  patient portal (patientLogin), same password: %s\n", strings.Join(demo.PortalEmails, ", "))
		fmt.Fprintf(stdout, "  integration API key: %s  (Authorization: Bearer %s)\n\n", demo.IntegrationKey, demo.IntegrationKey)
	}
	return nil
}

// URL is the base URL the server listens on.
func (a *App) URL() string { return "http://" + displayAddr(a.listener.Addr()) }

// ready answers 200 when the database answers a ping and, when the event bus
// has a listener (PostgreSQL LISTEN/NOTIFY between replicas), that listener
// is connected: without it this replica's subscriptions would fall behind.
// The schema is brought up to date before the server listens, so it is not
// checked again here; both checks are cheap.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.db.Ping(ctx); err != nil {
		a.log.WarnContext(r.Context(), "readiness check failed", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	if !a.bus.Ready() {
		a.log.WarnContext(r.Context(), "readiness check failed: event listener not connected")
		http.Error(w, "event bus unavailable", http.StatusServiceUnavailable)
		return
	}
	if lag := a.core.Hub.DeliveryLag(); a.maxLag > 0 && lag > a.maxLag {
		a.log.WarnContext(r.Context(), "readiness check failed: live delivery lags", "lag", lag)
		http.Error(w, "live delivery lags "+lag.Round(time.Second).String(), http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// Shutdown stops in order: stop accepting and let in-flight requests finish,
// close the websockets (clients reconnect elsewhere), then close the
// database.
func (a *App) Shutdown(ctx context.Context) error {
	a.log.Info("shutting down")
	errc := make(chan error, 1)
	go func() { errc <- a.http.Shutdown(ctx) }()

	a.core.Handler.Drain(ctx)
	err := <-errc
	if serveErr := <-a.served; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return errors.Join(err, a.stopBackground())
}

// stopBackground stops what runs behind the listener, in order, as far as
// it was started: the workers (waiting for them), the event bus, then the
// database.
func (a *App) stopBackground() error {
	if a.stopWorkers != nil {
		a.stopWorkers()
		<-a.workersDone
	}
	var err error
	if a.metricsHTTP != nil {
		_ = a.metricsHTTP.Close()
	}
	if a.bus != nil {
		err = a.bus.Close()
	}
	err = errors.Join(err, a.db.Close())
	if a.stopTracing != nil {
		// Send the spans still buffered, within a bound.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, a.stopTracing(ctx))
	}
	return err
}

func displayAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		if ok {
			return fmt.Sprintf("localhost:%d", tcp.Port)
		}
	}
	return addr.String()
}

// healthcheck is the container health probe (`whisper healthcheck`): the
// image has no shell or curl, so the binary asks its own /readyz. The
// address is -addr, else WHISPER_ADDR, else :8080.
func healthcheck(args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("whisper healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := getenv("WHISPER_ADDR")
	if def == "" {
		def = ":8080"
	}
	addr := fs.String("addr", def, "the address the server listens on (WHISPER_ADDR)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "whisper healthcheck: -addr must be host:port or :port, got %q\n", *addr)
		return 2
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 3 * time.Second}
	res, err := client.Get("http://" + net.JoinHostPort(host, port) + "/readyz")
	if err != nil {
		fmt.Fprintln(stderr, "whisper healthcheck:", err)
		return 1
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "whisper healthcheck: /readyz answered", res.Status)
		return 1
	}
	return 0
}

// Package app is Whisper's composition root: it builds every service over one
// database and one event bus and runs the background workers, so the server,
// the GraphQL tests and the benchmarks run the same wiring.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"github.com/whisper-health/whisper/internal/directory"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/settings"
	"log/slog"
	"sync"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/graph"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/notify"
	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/outreach"
	"github.com/whisper-health/whisper/internal/oversight"
	"github.com/whisper-health/whisper/internal/practice"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/store"
)

// Config is what the services are built with. It is read from flags and the
// environment in server/ only; zero values take the services' defaults.
type Config struct {
	// TokenSecret signs access tokens (HMAC-SHA256); at least 32 bytes.
	TokenSecret []byte
	// AccessTokenTTL is how long an access token lives (default 15 minutes).
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is how long a session lives without being refreshed
	// (default 30 days).
	RefreshTokenTTL time.Duration
	// PasswordChecksPerMinute is how many password checks one client
	// address may make per minute (default auth.DefaultPasswordChecks).
	PasswordChecksPerMinute int

	// AppURL is the front-end's base URL, for invitation and password-reset
	// links (default directory.DefaultAppURL).
	AppURL string
	// Practice is the practice's details and time zone until an
	// administrator changes them (practiceSettings): the defaults of the
	// {{practice.*}} placeholders and of every date a person reads.
	Practice settings.Practice
	// Providers deliver outbox rows by channel ("SMS", "EMAIL", "LETTER");
	// a channel without one is delivered by the log provider.
	Providers map[string]outbox.Provider
	// SendWindow is when patient-facing SMS and email may leave, on the
	// practice's clock (the zero Window is always open; the server passes
	// WHISPER_SEND_WINDOW, default 08:00-20:00).
	SendWindow consent.Window
	// PublicURL is the server's public base URL: the one-click unsubscribe
	// links of outreach email point at it.
	PublicURL string
	// ChannelHideAfter is the idle time after which a read channel leaves
	// the channel list (default 3 days).
	ChannelHideAfter time.Duration

	// PollInterval is the live hub's safety net: how often it looks for
	// messages even without an event (default 1 s).
	PollInterval time.Duration
	// LiveBuffer is each live subscriber's queue, in releases; one that
	// falls this far behind is dropped and resumes by cursor (default 512).
	LiveBuffer int
	// LiveScanGap is the least time between two reads of the message
	// stream while messages keep arriving (see live.Config.ScanGap): 0
	// for the default, negative for none.
	LiveScanGap time.Duration
	// ReminderInterval is how often due reminders are announced (default 1 s).
	ReminderInterval time.Duration
	// EngineInterval is how often the Patient Connect engine runs due
	// actions (default 1 s). Negative leaves the engine to be run by hand
	// (Engine.RunDue), as tests do to step it with their clock.
	EngineInterval time.Duration
	// OutboxInterval is how often the outbox worker looks for due rows
	// (default 1 s). Negative leaves delivery to be run by hand
	// (Outbox.RunOnce).
	OutboxInterval time.Duration

	// PatientNudgeAfter is how long a staff message stays unread by the
	// patient before the patient is nudged (default 15 minutes).
	PatientNudgeAfter time.Duration
	// NudgeInterval is how often the nudge worker looks for due nudges
	// (default 30 s, or a quarter of PatientNudgeAfter when that is
	// shorter; negative: not run in the background).
	NudgeInterval time.Duration
	// NudgeConsent is the consent policy nudges ask (default: the consent
	// service's MayContact, the one policy of SPEC §13).
	NudgeConsent messenger.NudgeConsent
	// Now is the clock of every service (default time.Now).
	Now func() time.Time
	// Handler configures the GraphQL endpoint (limits, transports,
	// extensions).
	Handler graph.HandlerConfig
	// RequestClient, when set, serves the request path (resolvers, sign-in,
	// the messenger) instead of the database's own client; the workers keep
	// the database's. Tests count the statements of a request through it.
	RequestClient *ent.Client
}

// App is Whisper's services wired over one database and bus. Run starts its
// workers; the caller serves Handler and owns the database and the bus.
type App struct {
	// Auth signs users in and checks their tokens.
	Auth *auth.Service
	// Messenger owns conversations and messages.
	Messenger *messenger.Service
	// Notify owns notification folders, arrivals and alerts.
	Notify *notify.Service
	// Practice writes the records integrators push.
	Practice *practice.Service
	// Outreach configures Patient Connect.
	Outreach *outreach.Service
	// Engine runs Patient Connect's due actions and takes SMS replies.
	Engine *outreach.Engine
	// Oversight serves observe and the audit and access logs.
	Oversight *oversight.Service
	// Hub fans committed messages and events out to subscriptions.
	Hub *live.Hub
	// Outbox delivers SMS, email and letters.
	Outbox *outbox.Worker
	// Directory owns users, security groups, invitations and passwords,
	// service accounts and API keys.
	Directory *directory.Service
	// Settings are the practice's details and time zone, as data.
	Settings *settings.Service
	// Consent is the contact policy: consent, carrier keywords, the
	// unsubscribe link.
	Consent *consent.Service
	// Nudges tell portal patients that staff wrote to them.
	Nudges *messenger.Nudges
	// Handler is the GraphQL endpoint, to be mounted at /graphql.
	Handler *graph.Handler

	cfg     Config
	log     *slog.Logger
	running sync.Mutex
}

// New builds every service over db and bus. It starts nothing: Run does.
func New(db *store.DB, bus pubsub.Bus, cfg Config, log *slog.Logger) (*App, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReminderInterval <= 0 {
		cfg.ReminderInterval = time.Second
	}
	if cfg.EngineInterval == 0 {
		cfg.EngineInterval = time.Second
	}
	requests := db.Client
	if cfg.RequestClient != nil {
		requests = cfg.RequestClient
	}
	a := &App{cfg: cfg, log: log}
	rule.LogPrivilegedUse(db.Client, log)
	var err error
	a.Auth, err = auth.New(requests, auth.Config{
		Secret:         cfg.TokenSecret,
		AccessTTL:      cfg.AccessTokenTTL,
		RefreshTTL:     cfg.RefreshTokenTTL,
		Now:            cfg.Now,
		PasswordChecks: cfg.PasswordChecksPerMinute,
		Dialect:        db.Dialect,
		Revoked: func(id pulid.ID, reason string) {
			// This replica's sockets of the session end at once; the
			// others' when the event reaches their hub.
			a.Handler.EndSession(id, graph.EndReason(reason))
			bus.Publish(context.Background(), pubsub.Event{Kind: pubsub.SessionRevoked, Session: id, Change: reason})
		},
	}, log)
	if err != nil {
		return nil, err
	}
	a.Messenger = messenger.New(requests, bus, log, messenger.Config{Dialect: db.Dialect, HideAfter: cfg.ChannelHideAfter, Now: cfg.Now})
	a.Settings = settings.New(db.Client, cfg.Practice)
	if l, ok := cfg.Providers["LETTER"].(*outbox.Letters); ok && l.Settings == nil {
		// Letters carry the practice's current letterhead and date.
		l.Settings = a.Settings
	}
	a.Directory = directory.New(requests, bus, a.Auth, a.Messenger, log, directory.Config{AppURL: cfg.AppURL, Now: cfg.Now})
	a.Consent = consent.New(requests, log, cfg.Now, consentKey(cfg.TokenSecret))
	a.Directory.WithPortal(a.Consent, a.Settings)
	nudgeConsent := cfg.NudgeConsent
	if nudgeConsent == nil {
		// The one contact policy (SPEC §13): a nudge never goes to a
		// channel the patient or their number opted out of.
		nudgeConsent = func(ctx context.Context, c *ent.Client, p *ent.Patient, channel string) (bool, error) {
			address := ""
			switch {
			case channel == string(consent.SMS) && p.Mobile != nil:
				address = *p.Mobile
			case channel != string(consent.SMS) && p.Email != nil:
				address = *p.Email
			}
			_, ok, err := a.Consent.MayContact(ctx, c, consent.Channel(channel), p.ID, address)
			return ok, err
		}
	}
	a.Nudges = messenger.NewNudges(db.Client, log, messenger.NudgeConfig{
		After: cfg.PatientNudgeAfter, Consent: nudgeConsent, Settings: a.Settings, Now: cfg.Now,
	})
	a.Notify = notify.New(db.Client, bus, a.Messenger, log, cfg.Now).WithSettings(a.Settings)
	a.Messenger.WithConsent(a.Consent)
	a.Engine = outreach.NewEngine(db.Client, log, outreach.EngineConfig{Dialect: db.Dialect, Now: cfg.Now, Settings: a.Settings,
		Consent: a.Consent, Window: cfg.SendWindow, PublicURL: cfg.PublicURL})
	a.Practice = practice.New(db.Client, bus, a.Notify, a.Engine, db.Dialect, log, cfg.Now)
	a.Outreach = outreach.New(db.Client, log)
	a.Oversight = oversight.New(db.Client, log)
	a.Hub = live.New(db.Client, bus, log, live.Config{
		Dialect:      db.Dialect,
		PollInterval: cfg.PollInterval,
		Buffer:       cfg.LiveBuffer,
		ScanGap:      cfg.LiveScanGap,
		OnRevoke: func(id pulid.ID, reason string) {
			a.Auth.SessionRevoked(id)
			a.Handler.EndSession(id, graph.EndReason(reason))
		},
		OnAccessEnded: func(id pulid.ID, reason string) {
			a.Auth.ForgetUser(id)
			a.Handler.EndPrincipal(id, graph.EndReason(reason))
		},
		Now: cfg.Now,
	})
	outboxInterval := cfg.OutboxInterval
	if outboxInterval < 0 {
		outboxInterval = 0 // the worker's default; Run does not start it
	}
	a.Outbox = outbox.New(db.Client, log, outbox.Config{
		Providers:    cfg.Providers,
		PollInterval: outboxInterval,
		Now:          cfg.Now,
		Undelivered:  a.Engine.DeliveryFailed,
		Withhold:     a.Engine.Withhold,
		SendWindow: func(ctx context.Context, now time.Time) (time.Time, error) {
			p, err := a.Settings.Current(ctx, nil)
			if err != nil {
				return now, err
			}
			return cfg.SendWindow.Next(now, p.Zone()), nil
		},
	})
	a.Handler = graph.NewHandler(&graph.Resolver{
		Client:    requests,
		Auth:      a.Auth,
		Messenger: a.Messenger,
		Live:      a.Hub,
		Practice:  a.Practice,
		Notify:    a.Notify,
		Oversight: a.Oversight,
		Outreach:  a.Outreach,
		Engine:    a.Engine,
		Settings:  a.Settings,
		Directory: a.Directory,
		Consent:   a.Consent,
		Log:       log,
	}, cfg.Handler)
	return a, nil
}

// consentKey derives the key that signs unsubscribe links from the token
// secret, so there is no second secret to configure, and a link can never
// be used as a token nor a token as a link.
func consentKey(secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("whisper: unsubscribe links"))
	return mac.Sum(nil)
}

// Run runs the background workers — the live hub, the reminders, the
// Patient Connect engine and the outbox — until ctx ends, and returns once
// every one of them has stopped. A worker that panics is logged (without the
// panic's value, which may carry patient data) and stopped; the others go
// on. Run is not to be called twice at once.
func (a *App) Run(ctx context.Context) {
	if !a.running.TryLock() {
		panic("app: Run called while running")
	}
	defer a.running.Unlock()
	var wg sync.WaitGroup
	start := func(name string, run func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					a.log.Error("worker panicked and stopped", append([]any{"worker", name}, apperr.PanicAttrs(r)...)...)
				}
			}()
			run(ctx)
		}()
	}
	start("live hub", a.Hub.Run)
	start("reminders", func(ctx context.Context) { a.Notify.RunReminders(ctx, a.cfg.ReminderInterval) })
	if a.cfg.EngineInterval > 0 {
		start("outreach engine", func(ctx context.Context) { a.Engine.Run(ctx, a.cfg.EngineInterval) })
	}
	if a.cfg.OutboxInterval >= 0 {
		start("outbox", a.Outbox.Run)
	}
	if a.cfg.NudgeInterval >= 0 {
		every := a.cfg.NudgeInterval
		if every == 0 {
			// A nudge goes out within a quarter of its delay after it is
			// due, and the worker looks at least every 30 s.
			every = 30 * time.Second
			if q := a.cfg.PatientNudgeAfter / 4; q > 0 && q < every {
				every = max(q, time.Second)
			}
		}
		start("patient nudges", func(ctx context.Context) { a.Nudges.Run(ctx, every) })
	}
	wg.Wait()
}

// Bus is an event bus and the function that stops it.
type Bus struct {
	pubsub.Bus
	close func() error
}

// Close stops the bus (a PostgreSQL listener's connection and goroutines).
func (b *Bus) Close() error { return b.close() }

// OpenBus starts the event bus db's dialect calls for: LISTEN/NOTIFY between
// replicas on PostgreSQL (databaseURL is the listener's own connection), an
// in-process bus on SQLite.
func OpenBus(db *store.DB, databaseURL string, log *slog.Logger) (*Bus, error) {
	if !db.Dialect.IsPostgres() {
		return &Bus{Bus: pubsub.NewMemory(), close: func() error { return nil }}, nil
	}
	pg, err := pubsub.NewPostgres(db.SQL, databaseURL, log)
	if err != nil {
		return nil, fmt.Errorf("starting the event bus: %w", err)
	}
	return &Bus{Bus: pg, close: pg.Close}, nil
}

// Ready reports whether the bus can reach the other replicas: false while a
// PostgreSQL listener is disconnected (this replica's subscriptions would
// fall behind), always true in-process.
func (b *Bus) Ready() bool {
	if l, ok := b.Bus.(interface{ Ready() bool }); ok {
		return l.Ready()
	}
	return true
}

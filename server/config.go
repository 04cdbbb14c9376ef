package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whisper-health/whisper/internal/consent"
	settingsdb "github.com/whisper-health/whisper/internal/settings"
	"github.com/whisper-health/whisper/internal/store"
)

// Config is everything the service reads from its environment and flags.
// Each field has an environment variable and a flag; a flag given on the
// command line wins over the variable.
type Config struct {
	Addr             string        // WHISPER_ADDR, -addr
	DatabaseURL      string        // DATABASE_URL, -database-url
	Demo             bool          // WHISPER_DEMO, -demo
	Production       bool          // WHISPER_PRODUCTION, -production
	CORSOrigins      []string      // WHISPER_CORS_ORIGINS, -cors-origins
	AppURL           string        // WHISPER_APP_URL, -app-url
	TokenSecret      string        // WHISPER_TOKEN_SECRET, -token-secret
	Introspection    bool          // WHISPER_INTROSPECTION, -introspection
	Explorer         bool          // WHISPER_EXPLORER, -explorer
	LogLevel         slog.Level    // WHISPER_LOG_LEVEL, -log-level
	LogFormat        string        // WHISPER_LOG_FORMAT, -log-format
	AccessTokenTTL   time.Duration // WHISPER_ACCESS_TOKEN_TTL, -access-token-ttl
	RefreshTokenTTL  time.Duration // WHISPER_REFRESH_TOKEN_TTL, -refresh-token-ttl
	MaxBodyBytes     int64         // WHISPER_MAX_BODY_BYTES, -max-body-bytes
	MaxDepth         int           // WHISPER_MAX_DEPTH, -max-depth
	MaxComplexity    int           // WHISPER_MAX_COMPLEXITY, -max-complexity
	MaxPageSize      int           // WHISPER_MAX_PAGE_SIZE, -max-page-size
	ShutdownTimeout  time.Duration // WHISPER_SHUTDOWN_TIMEOUT, -shutdown-timeout
	PracticeName     string        // WHISPER_PRACTICE_NAME, -practice-name
	PracticePhone    string        // WHISPER_PRACTICE_PHONE, -practice-phone
	PracticeAddress  string        // WHISPER_PRACTICE_ADDRESS, -practice-address
	SMSURL           string        // WHISPER_SMS_URL, -sms-url
	SMSAccount       string        // WHISPER_SMS_ACCOUNT, -sms-account
	SMSToken         string        // WHISPER_SMS_TOKEN, -sms-token
	SMSFrom          string        // WHISPER_SMS_FROM, -sms-from
	SMSWebhookURL    string        // WHISPER_SMS_WEBHOOK_URL, -sms-webhook-url
	SMTPHost         string        // WHISPER_SMTP_HOST, -smtp-host
	SMTPPort         int           // WHISPER_SMTP_PORT, -smtp-port
	SMTPUsername     string        // WHISPER_SMTP_USERNAME, -smtp-username
	SMTPPassword     string        // WHISPER_SMTP_PASSWORD, -smtp-password
	SMTPFrom         string        // WHISPER_SMTP_FROM, -smtp-from
	SMTPStartTLS     bool          // WHISPER_SMTP_STARTTLS, -smtp-starttls
	LettersDir       string        // WHISPER_LETTERS_DIR, -letters-dir
	EPostURL         string        // WHISPER_EPOST_URL, -epost-url
	ChannelHideAfter time.Duration // WHISPER_CHANNEL_HIDE_AFTER, -channel-hide-after
	PublicURL        string        // WHISPER_PUBLIC_URL, -public-url

	// SendWindow is when patient-facing SMS and email may leave, practice
	// time (WHISPER_SEND_WINDOW, -send-window).
	SendWindow consent.Window

	// The limits of SPEC §14 (see the README's Limits section).
	MaxSelections        int           // WHISPER_MAX_SELECTIONS, -max-selections
	MaxAliases           int           // WHISPER_MAX_ALIASES, -max-aliases
	MaxFragmentSpreads   int           // WHISPER_MAX_FRAGMENT_SPREADS, -max-fragment-spreads
	MaxSubscriptions     int           // WHISPER_MAX_SUBSCRIPTIONS, -max-subscriptions
	MaxSocketsPerUser    int           // WHISPER_MAX_SOCKETS_PER_USER, -max-sockets-per-user
	APQCacheBytes        int           // WHISPER_APQ_CACHE_BYTES, -apq-cache-bytes (negative: off)
	PasswordChecksPerMin int           // WHISPER_PASSWORD_CHECKS_PER_MINUTE, -password-checks-per-minute
	MaxDeliveryLag       time.Duration // WHISPER_MAX_DELIVERY_LAG, -max-delivery-lag
	DBMaxConns           int           // WHISPER_DB_MAX_CONNS, -db-max-conns
	SubscriberQueue      int           // WHISPER_SUBSCRIBER_QUEUE, -subscriber-queue
	LiveScanGap          time.Duration // WHISPER_LIVE_SCAN_GAP, -live-scan-gap (negative: none, from the setting 0)
	// TrustedProxies are the load balancers whose X-Forwarded-For names
	// the client (WHISPER_TRUSTED_PROXIES, -trusted-proxies).
	TrustedProxies []netip.Prefix
	// MetricsAddr is where /metrics is served (WHISPER_METRICS_ADDR,
	// -metrics-addr): empty serves it on the main listener outside
	// production and nowhere in production; "off" serves it nowhere.
	MetricsAddr string
	// OTLPEndpoint is the OpenTelemetry collector's OTLP/HTTP base URL
	// (OTEL_EXPORTER_OTLP_ENDPOINT, -otel-endpoint); empty: no tracing.
	OTLPEndpoint string

	// TimeZone is the practice's default time zone (WHISPER_TIME_ZONE,
	// -time-zone); updatePracticeSettings overrides it.
	TimeZone *time.Location

	// PatientNudgeAfter is WHISPER_PATIENT_NUDGE_AFTER, -patient-nudge-after.
	PatientNudgeAfter time.Duration
}

// setting describes one configuration knob for the loader and the README.
type setting struct {
	env, flag, def, usage string
}

var settings = []setting{
	{"WHISPER_ADDR", "addr", ":8080", "listen address"},
	{"DATABASE_URL", "database-url", "", "postgres://… for PostgreSQL; empty, sqlite:<path> or file:<path> for SQLite (default whisper.db)"},
	{"WHISPER_DEMO", "demo", "false", "load the demo practice into an empty database"},
	{"WHISPER_PRODUCTION", "production", "false", "production mode: no demo, introspection and explorer off unless enabled, explicit CORS origins and token secret required"},
	{"WHISPER_CORS_ORIGINS", "cors-origins", "", "comma-separated origins allowed to call the API from a browser (default outside production: http://localhost:*, http://127.0.0.1:*)"},
	{"WHISPER_APP_URL", "app-url", "http://localhost:8080", "the front-end's base URL, for invitation and password-reset links (…/accept-invitation?token=…, …/reset-password?token=…)"},
	{"WHISPER_TOKEN_SECRET", "token-secret", "", "secret (32+ characters) that signs access tokens; outside production, generated and kept in the database when unset"},
	{"WHISPER_INTROSPECTION", "introspection", "", "allow schema introspection (default: on, off in production)"},
	{"WHISPER_EXPLORER", "explorer", "", "serve the GraphiQL explorer at / (default: on, off in production)"},
	{"WHISPER_LOG_LEVEL", "log-level", "info", "debug, info, warn or error"},
	{"WHISPER_LOG_FORMAT", "log-format", "text", "text or json"},
	{"WHISPER_ACCESS_TOKEN_TTL", "access-token-ttl", "15m", "lifetime of an access token"},
	{"WHISPER_REFRESH_TOKEN_TTL", "refresh-token-ttl", "720h", "lifetime of an idle session"},
	{"WHISPER_MAX_BODY_BYTES", "max-body-bytes", "1048576", "largest request body or websocket message"},
	{"WHISPER_MAX_DEPTH", "max-depth", "12", "deepest query nesting allowed"},
	{"WHISPER_MAX_COMPLEXITY", "max-complexity", "5000", "highest query cost allowed (connections count per requested item)"},
	{"WHISPER_MAX_PAGE_SIZE", "max-page-size", "100", "largest first/last any list accepts (more: BAD_USER_INPUT / PAGE_TOO_LARGE)"},
	{"WHISPER_SHUTDOWN_TIMEOUT", "shutdown-timeout", "20s", "how long in-flight requests may take to finish on SIGTERM"},
	{"WHISPER_PRACTICE_NAME", "practice-name", "Harbourside Medical Centre", "the practice's name in patient messages ({{practice.name}})"},
	{"WHISPER_PRACTICE_PHONE", "practice-phone", "(02) 9000 0000", "the practice's phone number in patient messages ({{practice.phone}})"},
	{"WHISPER_PRACTICE_ADDRESS", "practice-address", "", "the practice's postal address in patient messages ({{practice.address}}); a template using it fails while unset"},
	{"WHISPER_TIME_ZONE", "time-zone", "UTC", "the practice's IANA time zone (e.g. Australia/Sydney): dates and times in messages, and the calendar days Patient Connect counts"},
	{"WHISPER_SMS_URL", "sms-url", "", "base URL of a Twilio-style SMS API (e.g. https://api.twilio.com); unset: SMS go to the log"},
	{"WHISPER_SMS_ACCOUNT", "sms-account", "", "SMS API account (Basic auth user and path segment)"},
	{"WHISPER_SMS_TOKEN", "sms-token", "", "SMS API token (Basic auth password)"},
	{"WHISPER_SMS_FROM", "sms-from", "", "the number SMS are sent from"},
	{"WHISPER_SMS_WEBHOOK_URL", "sms-webhook-url", "", "the public URL of /webhooks/sms as the provider signs it (default: the request's own URL)"},
	{"WHISPER_SMTP_HOST", "smtp-host", "", "SMTP server for email; unset: email goes to the log"},
	{"WHISPER_SMTP_PORT", "smtp-port", "587", "SMTP port"},
	{"WHISPER_SMTP_USERNAME", "smtp-username", "", "SMTP user (PLAIN auth), if the server needs one"},
	{"WHISPER_SMTP_PASSWORD", "smtp-password", "", "SMTP password"},
	{"WHISPER_SMTP_FROM", "smtp-from", "", "the address email is sent from (required with an SMTP host)"},
	{"WHISPER_SMTP_STARTTLS", "smtp-starttls", "true", "require STARTTLS"},
	{"WHISPER_LETTERS_DIR", "letters-dir", "", "folder for letter PDFs (SAVE_FILE) and the mail distribution list; unset: letters go to the log"},
	{"WHISPER_EPOST_URL", "epost-url", "", "e-post endpoint that receives EPOST letters as PDF (needs -letters-dir)"},
	{"WHISPER_CHANNEL_HIDE_AFTER", "channel-hide-after", "72h", "how long a read channel without activity stays in the channel list"},
	{"WHISPER_SEND_WINDOW", "send-window", "08:00-20:00", "practice-time window in which patient SMS and email leave (HH:MM-HH:MM; 00:00-24:00 for always); outside it they wait"},
	{"WHISPER_PUBLIC_URL", "public-url", "", "the server's public base URL, for email unsubscribe links (default: http://localhost:<port of -addr>) and SMS status callbacks (none without it or -sms-webhook-url)"},
	{"WHISPER_PATIENT_NUDGE_AFTER", "patient-nudge-after", "15m", "how long a staff message stays unread by the patient before the patient is nudged (SMS or email, no clinical content)"},
	{"WHISPER_MAX_SELECTIONS", "max-selections", "1000", "most selections (fields and fragments) written in one GraphQL document, refused before validation"},
	{"WHISPER_MAX_ALIASES", "max-aliases", "100", "most aliased fields in one GraphQL document"},
	{"WHISPER_MAX_FRAGMENT_SPREADS", "max-fragment-spreads", "100", "most fragment spreads in one GraphQL document"},
	{"WHISPER_MAX_SUBSCRIPTIONS", "max-subscriptions", "64", "most live subscriptions on one websocket (more: RESOURCE_EXHAUSTED)"},
	{"WHISPER_MAX_SOCKETS_PER_USER", "max-sockets-per-user", "16", "most websockets and server-sent event streams of one principal on one replica (the subscriptions of more: RESOURCE_EXHAUSTED)"},
	{"WHISPER_APQ_CACHE_BYTES", "apq-cache-bytes", "8388608", "bytes of query text the automatic persisted query cache keeps (least recently used dropped first); off: no persisted queries"},
	{"WHISPER_PASSWORD_CHECKS_PER_MINUTE", "password-checks-per-minute", "60", "password checks one client address may make per minute (more: RESOURCE_EXHAUSTED)"},
	{"WHISPER_MAX_DELIVERY_LAG", "max-delivery-lag", "30s", "live delivery lag past which /readyz answers 503"},
	{"WHISPER_DB_MAX_CONNS", "db-max-conns", "20", "most PostgreSQL connections one replica holds (statements beyond wait for one; SQLite ignores it)"},
	{"WHISPER_SUBSCRIBER_QUEUE", "subscriber-queue", "512", "releases (batches of messages) or events one live subscriber may have waiting; a subscriber further behind is ended with UNAVAILABLE / SLOW_CONSUMER and resumes with after:"},
	{"WHISPER_LIVE_SCAN_GAP", "live-scan-gap", "5ms", "least time between two reads of the message stream for live delivery while messages keep arriving: messages committed within it are delivered together, at most this much later (0: one read per message)"},
	{"WHISPER_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated CIDRs (or addresses) of the load balancers and reverse proxies in front of the service: a request from one is from the right-most X-Forwarded-For address outside them; empty: the peer address, X-Forwarded-For ignored"},
	{"OTEL_EXPORTER_OTLP_ENDPOINT", "otel-endpoint", "", "OpenTelemetry collector base URL for OTLP/HTTP traces (e.g. http://collector:4318); unset: no tracing"},
	{"WHISPER_METRICS_ADDR", "metrics-addr", "", "address of a separate listener for /metrics (default: /metrics on the main listener, none in production; off: none)"},
}

// booleans are the settings whose flags may be given bare (-demo).
var booleans = map[string]bool{"demo": true, "production": true, "introspection": true, "explorer": true, "smtp-starttls": true}

// settingFlag is a setting's flag; boolean ones accept the bare form.
type settingFlag struct {
	set     func(string) error
	boolean bool
}

func (f settingFlag) String() string     { return "" }
func (f settingFlag) Set(v string) error { return f.set(v) }
func (f settingFlag) IsBoolFlag() bool   { return f.boolean }

// Usage writes the command line and every setting, as -h prints them.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: whisper [flags]")
	fmt.Fprintln(w, "       whisper healthcheck [-addr host:port]   (asks /readyz; exit 0 when ready)")
	fmt.Fprintln(w, "       whisper migrate status|up [flags]        (lists applied and pending schema migrations; up runs them)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every setting is an environment variable with a flag equivalent; a flag wins over the variable.")
	fmt.Fprintln(w, "Boolean flags may be given bare (-demo) or with a value (-demo=false).")
	fmt.Fprintln(w)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(w, "  -%s  (%s, default %s)\n        %s\n", s.flag, s.env, def, s.usage)
	}
}

// LoadConfig reads the configuration from args and the environment. The
// error names the variable or flag at fault, in one line.
func LoadConfig(args []string, getenv func(string) string) (Config, error) {
	raw := map[string]string{}
	source := map[string]string{}
	fs := flag.NewFlagSet("whisper", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, s := range settings {
		raw[s.flag] = s.def
		source[s.flag] = s.env
		if v, ok := lookup(getenv, s.env); ok {
			raw[s.flag] = v
		}
		fs.Var(settingFlag{boolean: booleans[s.flag], set: func(v string) error {
			raw[s.flag] = v
			source[s.flag] = "-" + s.flag
			return nil
		}}, s.flag, s.usage+" ("+s.env+")")
	}
	// -h and -help give flag.ErrHelp, which the caller answers with Usage.
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	var c Config
	var errs []error
	bad := func(name, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{source[name]}, a...)...))
	}
	parseBool := func(name string) bool {
		b, err := strconv.ParseBool(raw[name])
		if err != nil {
			bad(name, "must be true or false, got %q", raw[name])
		}
		return b
	}
	parseDuration := func(name string) time.Duration {
		d, err := time.ParseDuration(raw[name])
		if err != nil || d <= 0 {
			bad(name, "must be a positive duration such as 15m or 720h, got %q", raw[name])
		}
		return d
	}
	parseInt := func(name string) int64 {
		n, err := strconv.ParseInt(raw[name], 10, 64)
		if err != nil || n <= 0 {
			bad(name, "must be a positive whole number, got %q", raw[name])
		}
		return n
	}

	c.Addr = raw["addr"]
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr", "must be host:port or :port, got %q", c.Addr)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("addr", "port must be a number from 0 to 65535, got %q", port)
	}
	c.DatabaseURL = raw["database-url"]
	if err := store.ValidateURL(c.DatabaseURL); err != nil {
		bad("database-url", "%v", err)
	}
	c.Demo = parseBool("demo")
	c.Production = parseBool("production")
	for _, o := range strings.Split(raw["cors-origins"], ",") {
		if o = strings.TrimSpace(o); o != "" {
			if o != "*" && !hasAnyPrefix(o, "http://", "https://") {
				bad("cors-origins", "origin %q must start with http:// or https://", o)
			}
			c.CORSOrigins = append(c.CORSOrigins, strings.TrimSuffix(o, "/"))
		}
	}
	c.AppURL = strings.TrimSuffix(strings.TrimSpace(raw["app-url"]), "/")
	if !hasAnyPrefix(c.AppURL, "http://", "https://") {
		bad("app-url", "must be an http:// or https:// URL, got %q", raw["app-url"])
	}
	c.TokenSecret = raw["token-secret"]
	if c.TokenSecret != "" && len(c.TokenSecret) < 32 {
		bad("token-secret", "must be at least 32 characters")
	}
	c.Introspection, c.Explorer = !c.Production, !c.Production
	if raw["introspection"] != "" {
		c.Introspection = parseBool("introspection")
	}
	if raw["explorer"] != "" {
		c.Explorer = parseBool("explorer")
	}
	if err := c.LogLevel.UnmarshalText([]byte(raw["log-level"])); err != nil {
		bad("log-level", "must be debug, info, warn or error, got %q", raw["log-level"])
	}
	c.LogFormat = raw["log-format"]
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format", "must be text or json, got %q", c.LogFormat)
	}
	c.AccessTokenTTL = parseDuration("access-token-ttl")
	c.RefreshTokenTTL = parseDuration("refresh-token-ttl")
	c.MaxBodyBytes = parseInt("max-body-bytes")
	c.MaxDepth = int(parseInt("max-depth"))
	c.MaxComplexity = int(parseInt("max-complexity"))
	c.MaxPageSize = int(parseInt("max-page-size"))
	c.ShutdownTimeout = parseDuration("shutdown-timeout")
	c.PracticeName = strings.TrimSpace(raw["practice-name"])
	c.PracticePhone = strings.TrimSpace(raw["practice-phone"])
	c.PracticeAddress = strings.TrimSpace(raw["practice-address"])
	if loc, err := settingsdb.LoadZone(strings.TrimSpace(raw["time-zone"])); err != nil {
		bad("time-zone", "must be an IANA time zone name such as Australia/Sydney or UTC, got %q", raw["time-zone"])
	} else {
		c.TimeZone = loc
	}
	c.SMSURL, c.SMSAccount, c.SMSToken, c.SMSFrom = raw["sms-url"], raw["sms-account"], raw["sms-token"], raw["sms-from"]
	c.SMSWebhookURL = raw["sms-webhook-url"]
	c.SMTPHost, c.SMTPUsername, c.SMTPPassword, c.SMTPFrom = raw["smtp-host"], raw["smtp-username"], raw["smtp-password"], raw["smtp-from"]
	if port := parseInt("smtp-port"); port > 65535 {
		bad("smtp-port", "must be a port number, got %q", raw["smtp-port"])
	} else {
		c.SMTPPort = int(port)
	}
	c.SMTPStartTLS = parseBool("smtp-starttls")
	if c.SMTPHost != "" && !strings.Contains(c.SMTPFrom, "@") {
		bad("smtp-from", "must be an email address when an SMTP host is set")
	}
	c.ChannelHideAfter = parseDuration("channel-hide-after")
	if w, err := consent.ParseWindow(raw["send-window"]); err != nil {
		bad("send-window", "%v, got %q", err, raw["send-window"])
	} else {
		c.SendWindow = w
	}
	c.PublicURL = strings.TrimRight(strings.TrimSpace(raw["public-url"]), "/")
	if c.PublicURL != "" && !hasAnyPrefix(c.PublicURL, "http://", "https://") {
		bad("public-url", "must be an http:// or https:// URL")
	}
	c.PatientNudgeAfter = parseDuration("patient-nudge-after")
	c.MaxSelections = int(parseInt("max-selections"))
	c.MaxAliases = int(parseInt("max-aliases"))
	c.MaxFragmentSpreads = int(parseInt("max-fragment-spreads"))
	c.MaxSubscriptions = int(parseInt("max-subscriptions"))
	c.MaxSocketsPerUser = int(parseInt("max-sockets-per-user"))
	if strings.TrimSpace(raw["apq-cache-bytes"]) == "off" {
		c.APQCacheBytes = -1
	} else {
		c.APQCacheBytes = int(parseInt("apq-cache-bytes"))
	}
	c.PasswordChecksPerMin = int(parseInt("password-checks-per-minute"))
	c.MaxDeliveryLag = parseDuration("max-delivery-lag")
	if d, err := time.ParseDuration(strings.TrimSpace(raw["live-scan-gap"])); err != nil || d < 0 || d > time.Second {
		bad("live-scan-gap", "must be a duration from 0 to 1s such as 5ms, got %q", raw["live-scan-gap"])
	} else if d == 0 {
		c.LiveScanGap = -1 // none
	} else {
		c.LiveScanGap = d
	}
	if n := parseInt("db-max-conns"); n > 1000 {
		bad("db-max-conns", "must be at most 1000, got %q", raw["db-max-conns"])
	} else {
		c.DBMaxConns = int(n)
	}
	if n := parseInt("subscriber-queue"); n < 1 || n > 1<<20 {
		bad("subscriber-queue", "must be 1 to 1048576, got %q", raw["subscriber-queue"])
	} else {
		c.SubscriberQueue = int(n)
	}
	for _, v := range strings.Split(raw["trusted-proxies"], ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, p.Masked())
		} else if a, err := netip.ParseAddr(v); err == nil {
			c.TrustedProxies = append(c.TrustedProxies, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		} else {
			bad("trusted-proxies", "%q is not a CIDR (10.0.0.0/8) or an address", v)
		}
	}
	c.MetricsAddr = strings.TrimSpace(raw["metrics-addr"])
	if c.MetricsAddr != "" && c.MetricsAddr != "off" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("metrics-addr", "must be host:port, :port or off, got %q", c.MetricsAddr)
		}
	}
	c.OTLPEndpoint = strings.TrimSpace(raw["otel-endpoint"])
	if c.OTLPEndpoint != "" {
		if u, err := neturl.Parse(c.OTLPEndpoint); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			bad("otel-endpoint", "must be an http:// or https:// URL, got %q", c.OTLPEndpoint)
		}
	}
	c.LettersDir, c.EPostURL = raw["letters-dir"], raw["epost-url"]
	if c.EPostURL != "" && c.LettersDir == "" {
		bad("epost-url", "needs -letters-dir too: letters are rendered there before they are posted")
	}
	if c.EPostURL != "" && !hasAnyPrefix(c.EPostURL, "http://", "https://") {
		bad("epost-url", "must be an http:// or https:// URL")
	}
	if c.SMSURL != "" {
		switch {
		case !hasAnyPrefix(c.SMSURL, "http://", "https://"):
			bad("sms-url", "must be an http:// or https:// URL")
		case c.SMSAccount == "":
			bad("sms-account", "is required with an SMS URL")
		case c.SMSToken == "":
			bad("sms-token", "is required with an SMS URL")
		case c.SMSFrom == "":
			bad("sms-from", "is required with an SMS URL")
		}
	}

	if c.Production {
		switch {
		case c.Demo:
			bad("demo", "the demo practice cannot be loaded in production mode")
		case len(c.CORSOrigins) == 0:
			bad("cors-origins", "production mode needs the allowed origins listed explicitly")
		case slices.Contains(c.CORSOrigins, "*"):
			bad("cors-origins", "production mode does not allow the * origin")
		case c.TokenSecret == "":
			bad("token-secret", "production mode needs a token secret of at least 32 characters")
		}
	} else if len(c.CORSOrigins) == 0 {
		c.CORSOrigins = []string{"http://localhost:*", "http://127.0.0.1:*"}
	}
	if len(errs) > 0 {
		return Config{}, errs[0]
	}
	return c, nil
}

// PublicBase is the base of the links the server hands out (unsubscribe):
// WHISPER_PUBLIC_URL, or this machine's own address when it is unset.
func (c Config) PublicBase() string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	if _, port, err := net.SplitHostPort(c.Addr); err == nil {
		return "http://localhost:" + port
	}
	return ""
}

// SMSStatusURL is where the SMS provider is asked to post delivery
// receipts: beside the inbound webhook when its public URL is set,
// otherwise under WHISPER_PUBLIC_URL; empty (no receipts asked for) when
// neither is configured, since a provider cannot reach localhost.
func (c Config) SMSStatusURL() string {
	if c.SMSWebhookURL != "" {
		return strings.TrimRight(c.SMSWebhookURL, "/") + "/status"
	}
	if c.PublicURL == "" {
		return ""
	}
	return c.PublicURL + "/webhooks/sms/status"
}

// smsStatusSignedURL is the status webhook's URL as the provider signs it
// when the inbound webhook's public URL is configured; empty means the
// request's own URL.
func (c Config) smsStatusSignedURL() string {
	if c.SMSWebhookURL == "" {
		return ""
	}
	return c.SMSStatusURL()
}

// WebsocketOrigins turns the CORS origins into the host patterns the
// websocket origin check uses.
func (c Config) WebsocketOrigins() []string {
	var out []string
	for _, o := range c.CORSOrigins {
		if o == "*" {
			out = append(out, "*")
			continue
		}
		out = append(out, o[strings.Index(o, "://")+3:])
	}
	return out
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

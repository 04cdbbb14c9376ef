package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DatabaseURL != "" || c.Demo || c.Production {
		t.Errorf("defaults = %+v", c)
	}
	if !c.Introspection || !c.Explorer {
		t.Errorf("outside production introspection and explorer should be on")
	}
	if c.AccessTokenTTL != 15*time.Minute {
		t.Errorf("access token TTL = %v, want 15m", c.AccessTokenTTL)
	}
	if len(c.CORSOrigins) == 0 {
		t.Errorf("outside production, localhost origins should be allowed by default")
	}
	if c.LiveScanGap != 5*time.Millisecond {
		t.Errorf("live scan gap = %v, want 5ms", c.LiveScanGap)
	}
	if c, err := LoadConfig([]string{"-live-scan-gap", "0"}, func(string) string { return "" }); err != nil || c.LiveScanGap >= 0 {
		t.Errorf("-live-scan-gap 0: gap %v, err %v; want a negative gap (none)", c.LiveScanGap, err)
	}
}

func TestLoadConfigSources(t *testing.T) {
	env := map[string]string{"WHISPER_ADDR": ":9000", "WHISPER_DEMO": "1", "DATABASE_URL": "postgres://db/whisper"}
	getenv := func(k string) string { return env[k] }
	c, err := LoadConfig([]string{"-addr", "127.0.0.1:7000"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:7000" {
		t.Errorf("addr = %q, want the flag to win over WHISPER_ADDR", c.Addr)
	}
	if !c.Demo || c.DatabaseURL != "postgres://db/whisper" {
		t.Errorf("environment not applied: %+v", c)
	}
	c, err = LoadConfig([]string{"-demo"}, func(string) string { return "" })
	if err != nil || !c.Demo {
		t.Errorf("bare -demo: demo=%v err=%v", c.Demo, err)
	}
	c, err = LoadConfig([]string{"-production", "-cors-origins", "https://app.clinic.example", "-token-secret", strings.Repeat("s", 32)}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.Introspection || c.Explorer {
		t.Errorf("production leaves introspection=%v explorer=%v, want both off", c.Introspection, c.Explorer)
	}
	if got := c.WebsocketOrigins(); len(got) != 1 || got[0] != "app.clinic.example" {
		t.Errorf("websocket origins = %v, want [app.clinic.example]", got)
	}
}

func TestLoadConfigErrorsNameTheSetting(t *testing.T) {
	prod := map[string]string{"WHISPER_PRODUCTION": "true", "WHISPER_CORS_ORIGINS": "https://app.example", "WHISPER_TOKEN_SECRET": strings.Repeat("x", 40)}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad bool", map[string]string{"WHISPER_DEMO": "yes please"}, nil, "WHISPER_DEMO"},
		{"bad addr", map[string]string{"WHISPER_ADDR": "8080"}, nil, "WHISPER_ADDR"},
		{"bad port", map[string]string{"WHISPER_ADDR": ":99999"}, nil, "WHISPER_ADDR"},
		{"bad flag value", nil, []string{"-access-token-ttl", "soon"}, "-access-token-ttl"},
		{"negative duration", map[string]string{"WHISPER_REFRESH_TOKEN_TTL": "-1h"}, nil, "WHISPER_REFRESH_TOKEN_TTL"},
		{"bad database", map[string]string{"DATABASE_URL": "mysql://x"}, nil, "DATABASE_URL"},
		{"postgres without host", map[string]string{"DATABASE_URL": "postgres://"}, nil, "DATABASE_URL"},
		{"sqlite without path", map[string]string{"DATABASE_URL": "sqlite:"}, nil, "DATABASE_URL"},
		{"unparseable database", map[string]string{"DATABASE_URL": "postgres://db:port/x%zz"}, nil, "DATABASE_URL"},
		{"bad database flag", nil, []string{"-database-url", "file:"}, "-database-url"},
		{"value with a newline", map[string]string{"WHISPER_LOG_LEVEL": "loud\nsecond line"}, nil, "WHISPER_LOG_LEVEL"},
		{"flag value with a newline", nil, []string{"-access-token-ttl", "soon\nlater"}, "-access-token-ttl"},
		{"bad hide after", map[string]string{"WHISPER_CHANNEL_HIDE_AFTER": "3 days"}, nil, "WHISPER_CHANNEL_HIDE_AFTER"},
		{"bool flag with a stray value", nil, []string{"-smtp-starttls", "false"}, "false"},
		{"bad origin", map[string]string{"WHISPER_CORS_ORIGINS": "app.example"}, nil, "WHISPER_CORS_ORIGINS"},
		{"short secret", map[string]string{"WHISPER_TOKEN_SECRET": "short"}, nil, "WHISPER_TOKEN_SECRET"},
		{"bad log level", map[string]string{"WHISPER_LOG_LEVEL": "loud"}, nil, "WHISPER_LOG_LEVEL"},
		{"unknown flag", nil, []string{"-colour"}, "colour"},
		{"sms url without account", map[string]string{"WHISPER_SMS_URL": "https://sms.example"}, nil, "WHISPER_SMS_ACCOUNT"},
		{"sms url not http", map[string]string{"WHISPER_SMS_URL": "sms.example"}, nil, "WHISPER_SMS_URL"},
		{"e-post without a letters folder", map[string]string{"WHISPER_EPOST_URL": "https://epost.example"}, nil, "WHISPER_EPOST_URL"},
		{"stray argument", nil, []string{"serve"}, "serve"},
		{"no database connections", map[string]string{"WHISPER_DB_MAX_CONNS": "0"}, nil, "WHISPER_DB_MAX_CONNS"},
		{"empty subscriber queue", map[string]string{"WHISPER_SUBSCRIBER_QUEUE": "0"}, nil, "WHISPER_SUBSCRIBER_QUEUE"},
		{"scan gap past a second", map[string]string{"WHISPER_LIVE_SCAN_GAP": "2s"}, nil, "WHISPER_LIVE_SCAN_GAP"},
		{"negative scan gap", nil, []string{"-live-scan-gap", "-5ms"}, "-live-scan-gap"},
		{"bad trusted proxy", map[string]string{"WHISPER_TRUSTED_PROXIES": "10.0.0.0/8, lb.internal"}, nil, "WHISPER_TRUSTED_PROXIES"},
		{"too many database connections", nil, []string{"-db-max-conns", "5000"}, "-db-max-conns"},
		{"production demo", with(prod, "WHISPER_DEMO", "1"), nil, "WHISPER_DEMO"},
		{"production without origins", with(prod, "WHISPER_CORS_ORIGINS", ""), nil, "WHISPER_CORS_ORIGINS"},
		{"production with * origin", with(prod, "WHISPER_CORS_ORIGINS", "*"), nil, "WHISPER_CORS_ORIGINS"},
		{"production without secret", with(prod, "WHISPER_TOKEN_SECRET", ""), nil, "WHISPER_TOKEN_SECRET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(tc.args, func(k string) string { return tc.env[k] })
			if err == nil {
				t.Fatalf("got no error, want one naming %s", tc.want)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line naming %s", msg, tc.want)
			}
		})
	}
}

func TestTrustedProxiesAreRanges(t *testing.T) {
	c, err := LoadConfig([]string{"-trusted-proxies", "10.1.2.3/8, 192.0.2.7,2001:db8::/32"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 192.0.2.7/32 2001:db8::/32" {
		t.Errorf("trusted proxies = %v", got)
	}
	if c, _ := LoadConfig(nil, func(string) string { return "" }); len(c.TrustedProxies) != 0 || c.SubscriberQueue != 512 {
		t.Errorf("default trusted proxies = %v, subscriber queue %d, want none and 512", c.TrustedProxies, c.SubscriberQueue)
	}
}

func TestBooleanFlagsAcceptTheBareForm(t *testing.T) {
	off := map[string]string{"WHISPER_SMTP_STARTTLS": "false", "WHISPER_INTROSPECTION": "false", "WHISPER_EXPLORER": "false"}
	getenv := func(k string) string { return off[k] }
	c, err := LoadConfig(nil, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPStartTLS || c.Introspection || c.Explorer {
		t.Fatalf("environment false not applied: starttls=%v introspection=%v explorer=%v", c.SMTPStartTLS, c.Introspection, c.Explorer)
	}
	c, err = LoadConfig([]string{"-smtp-starttls", "-introspection", "-explorer", "-demo"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !c.SMTPStartTLS || !c.Introspection || !c.Explorer || !c.Demo {
		t.Errorf("bare flags: starttls=%v introspection=%v explorer=%v demo=%v, want all true", c.SMTPStartTLS, c.Introspection, c.Explorer, c.Demo)
	}
	c, err = LoadConfig([]string{"-smtp-starttls=false", "--demo=false"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPStartTLS || c.Demo {
		t.Errorf("-smtp-starttls=false --demo=false: starttls=%v demo=%v, want both false", c.SMTPStartTLS, c.Demo)
	}
}

func TestChannelHideAfterIsConfigurable(t *testing.T) {
	c, err := LoadConfig(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.ChannelHideAfter != 72*time.Hour {
		t.Errorf("default channel hide-after = %v, want 72h", c.ChannelHideAfter)
	}
	c, err = LoadConfig([]string{"-channel-hide-after", "24h"}, func(k string) string {
		return map[string]string{"WHISPER_CHANNEL_HIDE_AFTER": "168h"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.ChannelHideAfter != 24*time.Hour {
		t.Errorf("channel hide-after = %v, want the flag's 24h", c.ChannelHideAfter)
	}
}

func TestHelpPrintsTheSettingsAndExitsZero(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out, errOut strings.Builder
		if code := run([]string{arg}, func(string) string { return "" }, &out, &errOut); code != 0 {
			t.Errorf("%s: exit %d (stderr %q), want 0", arg, code, errOut.String())
		}
		for _, s := range settings {
			if !strings.Contains(out.String(), "-"+s.flag) || !strings.Contains(out.String(), s.env) {
				t.Errorf("%s: usage does not list -%s / %s", arg, s.flag, s.env)
			}
		}
	}
}

func TestBadDatabaseURLStopsStartWithExitTwo(t *testing.T) {
	for _, u := range []string{"postgres://", "sqlite:", "postgres://db:port/x%zz", "mysql://db/x"} {
		var out, errOut strings.Builder
		code := run(nil, func(k string) string { return map[string]string{"DATABASE_URL": u}[k] }, &out, &errOut)
		msg := strings.TrimSuffix(errOut.String(), "\n")
		if code != 2 || !strings.Contains(msg, "DATABASE_URL") || strings.Contains(msg, "\n") {
			t.Errorf("DATABASE_URL=%q: exit %d, stderr %q; want 2 and one line naming DATABASE_URL", u, code, errOut.String())
		}
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range m {
		out[a] = b
	}
	out[k] = v
	return out
}

// The README's configuration table lists every setting, variable and flag.
func TestReadmeListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Configuration")
	end := strings.Index(readme[start+1:], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("README has no Configuration section")
	}
	table := readme[start : start+1+end]
	for _, s := range settings {
		if !strings.Contains(table, "`"+s.env+"`") || !strings.Contains(table, "`-"+s.flag+"`") {
			t.Errorf("README configuration table does not list %s / -%s", s.env, s.flag)
		}
	}
}

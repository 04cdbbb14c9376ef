package main

import (
	"strings"
	"testing"
)

func TestTimeZoneSetting(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env, args []string
		want      string // the zone, or the error's start
		fails     bool
	}{
		{name: "default", want: "UTC"},
		{name: "variable", env: []string{"WHISPER_TIME_ZONE", "Australia/Sydney"}, want: "Australia/Sydney"},
		{name: "flag wins", env: []string{"WHISPER_TIME_ZONE", "Australia/Sydney"}, args: []string{"-time-zone", "America/New_York"}, want: "America/New_York"},
		{name: "unknown zone", env: []string{"WHISPER_TIME_ZONE", "Mars/Olympus"}, want: "WHISPER_TIME_ZONE: must be an IANA time zone", fails: true},
		{name: "the server's own zone", args: []string{"-time-zone", "Local"}, want: "-time-zone: must be an IANA time zone", fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for i := 0; i+1 < len(tc.env); i += 2 {
				env[tc.env[i]] = tc.env[i+1]
			}
			cfg, err := LoadConfig(tc.args, func(k string) string { return env[k] })
			switch {
			case tc.fails && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("got error %v, want one starting %q", err, tc.want)
			case !tc.fails && err != nil:
				t.Fatalf("got error %v", err)
			case !tc.fails && cfg.TimeZone.String() != tc.want:
				t.Errorf("got zone %s, want %s", cfg.TimeZone, tc.want)
			}
		})
	}
}

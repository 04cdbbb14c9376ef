package consent_test

import (
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/consent"
)

func TestKeywordOf(t *testing.T) {
	for _, c := range []struct {
		body string
		want consent.Keyword
	}{
		{"STOP", consent.Stop}, {" stop ", consent.Stop}, {"StopAll", consent.Stop}, {"unsubscribe", consent.Stop},
		{"CANCEL", consent.Stop}, {"end", consent.Stop}, {"Quit", consent.Stop},
		{"START", consent.Start}, {"yes", consent.Start}, {"Unstop", consent.Start},
		{"help", consent.Help},
		{"please stop", consent.NoKeyword}, {"STOP!", consent.NoKeyword}, {"82.5 kg", consent.NoKeyword}, {"", consent.NoKeyword},
	} {
		if got := consent.KeywordOf(c.body); got != c.want {
			t.Errorf("KeywordOf(%q) = %v, want %v", c.body, got, c.want)
		}
	}
}

func TestWindow(t *testing.T) {
	sydney, _ := time.LoadLocation("Australia/Sydney")
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, sydney) }
	for _, c := range []struct {
		name, window string
		t, want      time.Time
	}{
		{"inside", "08:00-20:00", at(2026, 3, 10, 9, 0), at(2026, 3, 10, 9, 0)},
		{"at the start", "08:00-20:00", at(2026, 3, 10, 8, 0), at(2026, 3, 10, 8, 0)},
		{"at the end", "08:00-20:00", at(2026, 3, 10, 20, 0), at(2026, 3, 11, 8, 0)},
		{"at night", "08:00-20:00", at(2026, 3, 10, 22, 0), at(2026, 3, 11, 8, 0)},
		{"before dawn", "08:00-20:00", at(2026, 3, 10, 3, 0), at(2026, 3, 10, 8, 0)},
		// Daylight saving ends in Sydney on 5 April 2026: still 08:00 local.
		{"across daylight saving", "08:00-20:00", at(2026, 4, 4, 23, 0), at(2026, 4, 5, 8, 0)},
		{"wrapping past midnight", "20:00-02:00", at(2026, 3, 10, 1, 0), at(2026, 3, 10, 1, 0)},
		{"wrapping, closed", "20:00-02:00", at(2026, 3, 10, 12, 0), at(2026, 3, 10, 20, 0)},
		{"always", "00:00-24:00", at(2026, 3, 10, 3, 0), at(2026, 3, 10, 3, 0)},
	} {
		w, err := consent.ParseWindow(c.window)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := w.Next(c.t, sydney); !got.Equal(c.want) {
			t.Errorf("%s: Next(%v) = %v, want %v", c.name, c.t, got.In(sydney), c.want)
		}
	}
	for _, bad := range []string{"", "8-20", "08:00", "08:00-08:00", "25:00-26:00", "08:60-20:00", "24:00-08:00"} {
		if _, err := consent.ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted it", bad)
		}
	}
	if consent.DefaultWindow.String() != "08:00-20:00" {
		t.Errorf("default window %s", consent.DefaultWindow)
	}
}

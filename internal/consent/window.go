package consent

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is the practice's send window: the local times of day between
// which patient-facing SMS and email may leave (WHISPER_SEND_WINDOW). The
// zero Window is always open; a start after the end wraps past midnight.
type Window struct {
	// Start and End are minutes after local midnight (End may be 1440).
	Start, End int
}

// DefaultWindow is 08:00-20:00, practice time.
var DefaultWindow = Window{Start: 8 * 60, End: 20 * 60}

// ParseWindow reads "HH:MM-HH:MM" (24-hour; "00:00-24:00" is always open).
func ParseWindow(s string) (Window, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return Window{}, fmt.Errorf("a send window is HH:MM-HH:MM, such as 08:00-20:00")
	}
	start, err1 := clock(from)
	end, err2 := clock(to)
	if err1 != nil || err2 != nil || start == 1440 {
		return Window{}, fmt.Errorf("a send window is HH:MM-HH:MM, such as 08:00-20:00")
	}
	if start == end {
		return Window{}, fmt.Errorf("a send window must not be empty (00:00-24:00 is always open)")
	}
	if start == 0 && end == 1440 {
		return Window{}, nil
	}
	return Window{Start: start, End: end}, nil
}

// clock reads HH:MM as minutes after midnight (24:00 allowed).
func clock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// String is the window as it is configured.
func (w Window) String() string {
	if w.always() {
		return "00:00-24:00"
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}

func (w Window) always() bool { return w.Start == w.End }

// Open reports whether t is inside the window on the clock of zone.
func (w Window) Open(t time.Time, zone *time.Location) bool {
	if w.always() {
		return true
	}
	l := t.In(zone)
	m := l.Hour()*60 + l.Minute()
	if w.Start < w.End {
		return m >= w.Start && m < w.End
	}
	return m >= w.Start || m < w.End
}

// Next is t when the window is open, otherwise when it next opens (in
// UTC). Calendar days are counted in zone, so a daylight-saving change
// moves nothing: the window opens at its local time.
func (w Window) Next(t time.Time, zone *time.Location) time.Time {
	if w.Open(t, zone) {
		return t
	}
	l := t.In(zone)
	for d := 0; d <= 2; d++ {
		c := time.Date(l.Year(), l.Month(), l.Day()+d, w.Start/60, w.Start%60, 0, 0, zone)
		if !c.Before(t) {
			return c.UTC()
		}
	}
	return t
}

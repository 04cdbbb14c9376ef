package outreach

import (
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent/programaction"
)

// Cycles and offsets count the practice's calendar days: each cycle of a
// fortnightly program starts at the same local clock time, whichever side
// of a daylight-saving change it falls.
func TestShiftKeepsTheLocalClockTime(t *testing.T) {
	load := func(name string) *time.Location {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	sydney, newYork := load("Australia/Sydney"), load("America/New_York")
	for _, tc := range []struct {
		name string
		from time.Time
		n    int
		unit programaction.Unit
		want time.Time
	}{
		{"Sydney, 2 weeks across the April change", time.Date(2027, time.March, 26, 10, 0, 0, 0, sydney), 2, programaction.UnitWEEKS,
			time.Date(2027, time.April, 9, 10, 0, 0, 0, sydney)},
		{"Sydney, 7 days across the October change", time.Date(2027, time.September, 30, 2, 30, 0, 0, sydney), 7, programaction.UnitDAYS,
			time.Date(2027, time.October, 7, 2, 30, 0, 0, sydney)},
		{"Sydney, back a month across the October change", time.Date(2027, time.October, 31, 9, 0, 0, 0, sydney), -1, programaction.UnitMONTHS,
			time.Date(2027, time.September, 30, 9, 0, 0, 0, sydney)},
		{"New York, 1 day across the March change", time.Date(2027, time.March, 13, 9, 0, 0, 0, newYork), 1, programaction.UnitDAYS,
			time.Date(2027, time.March, 14, 9, 0, 0, 0, newYork)},
		{"New York, 3 months across the November change", time.Date(2027, time.September, 30, 16, 0, 0, 0, newYork), 3, programaction.UnitMONTHS,
			time.Date(2027, time.December, 30, 16, 0, 0, 0, newYork)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := shift(tc.from.UTC(), tc.n, tc.unit, tc.from.Location())
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("got %s, want %s (stored in UTC)", got.In(tc.want.Location()), tc.want)
			}
		})
	}
}

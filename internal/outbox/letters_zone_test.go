package outbox_test

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/settings"
	"github.com/whisper-health/whisper/internal/testdb"
)

// A letter carries the practice's current name and is dated on the
// practice's clock: 20:00 UTC on 15 March is already 16 March in Sydney.
func TestLettersUseThePracticesSettings(t *testing.T) {
	db := testdb.Open(t)
	sydney, err := time.LoadLocation("Australia/Sydney")
	if err != nil {
		t.Fatal(err)
	}
	l := &outbox.Letters{Dir: t.TempDir(), Letterhead: "Configured Name",
		Settings: settings.New(db.Client, settings.Practice{Name: "Harbourside Family Practice", Location: sydney}),
		Now:      func() time.Time { return time.Date(2030, time.March, 15, 20, 0, 0, 0, time.UTC) }}
	path, err := l.Send(context.Background(), outbox.Message{ID: pulid.New("ob"), Channel: "LETTER", Route: "SAVE_FILE",
		Recipient: "Zoë Brown\n10 Harbour Street", Body: "Dear Zoë", IdempotencyKey: "k-zone"})
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := os.ReadFile(path)
	for _, want := range []string{"(Harbourside Family Practice)", "(16 March 2030)"} {
		if !bytes.Contains(pdf, []byte(want)) {
			t.Errorf("the letter lacks %s", want)
		}
	}
}

package outbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/pulid"
)

// Seed 002: "ePost - letter is added to the Distribution List and sent via
// ePost automatically". The list is the practice's record of every letter
// that leaves by post; an e-post letter is on it once, marked as sent
// electronically (so nobody posts it by hand as well), even when the
// e-post endpoint needed a retry.
func TestEPostLettersAreAddedToTheDistributionList(t *testing.T) {
	var calls atomic.Int32
	epost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // the first attempt is retried
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer epost.Close()
	dir := t.TempDir()
	l := &outbox.Letters{Dir: dir, EPostURL: epost.URL, Letterhead: "Harbourside Medical Centre"}
	m := outbox.Message{ID: pulid.New("ob"), Channel: "LETTER", Route: "EPOST", Recipient: "Dr Sam Lee\nHarbour GP\n1 Quay Street",
		Subject: "Referral summary", Body: "Dear Dr Lee", IdempotencyKey: "k-epost"}
	if _, err := l.Send(context.Background(), m); err == nil {
		t.Fatal("the first attempt answered 503 but Send reported success")
	}
	if _, err := l.Send(context.Background(), m); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	list, err := os.ReadFile(filepath.Join(dir, "mail", "distribution-list.tsv"))
	if err != nil {
		t.Fatalf("an e-post letter left no distribution list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(list)), "\n")
	if len(lines) != 1 {
		t.Fatalf("the distribution list has %d lines after a retried e-post letter, want 1:\n%s", len(lines), list)
	}
	cols := strings.Split(lines[0], "\t")
	if len(cols) != 5 || cols[1] != "Dr Sam Lee, Harbour GP, 1 Quay Street" || cols[2] != "Referral summary" ||
		cols[3] != string(m.ID)+".pdf" || cols[4] != "EPOST" {
		t.Errorf("distribution list line = %q, want time, address, subject, file and EPOST", cols)
	}
	if _, err := os.Stat(filepath.Join(dir, "mail", string(m.ID)+".pdf")); err != nil {
		t.Errorf("the listed letter is not in the mail folder: %v", err)
	}
	// A letter to post by hand is listed as MAIL.
	mail := m
	mail.ID, mail.Route = pulid.New("ob"), "MAIL"
	if _, err := l.Send(context.Background(), mail); err != nil {
		t.Fatal(err)
	}
	list, _ = os.ReadFile(filepath.Join(dir, "mail", "distribution-list.tsv"))
	if lines := strings.Split(strings.TrimSpace(string(list)), "\n"); len(lines) != 2 || !strings.HasSuffix(lines[1], "\tMAIL") {
		t.Errorf("distribution list after a MAIL letter:\n%s", list)
	}
}

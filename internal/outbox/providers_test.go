package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/pulid"
)

// smtpBackend is a real SMTP server (go-smtp) that keeps what it receives
// and refuses one mailbox.
type smtpBackend struct {
	mu   sync.Mutex
	mail []string
}

func (b *smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{b: b}, nil }

type smtpSession struct {
	b  *smtpBackend
	to string
}

func (s *smtpSession) AuthPlain(string, string) error { return nil }
func (s *smtpSession) Mail(string, *smtp.MailOptions) error {
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.to = to
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	s.b.mu.Lock()
	s.b.mail = append(s.b.mail, s.to+"\n"+string(b))
	s.b.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

func TestSMTPEmail(t *testing.T) {
	be := &smtpBackend{}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	p := outbox.SMTPEmail{Host: "127.0.0.1", Port: port, From: "clinic@demo.clinic"}
	id := pulid.New("ob")
	ref, err := p.Send(context.Background(), outbox.Message{ID: id, Recipient: "olivia.brown@example.com",
		Subject: "Your annual check", Body: "Dear Olivia,\nplease call us."})
	if err != nil {
		t.Fatalf("sending: %v", err)
	}
	if len(be.mail) != 1 || !strings.Contains(be.mail[0], "Subject: Your annual check") ||
		!strings.Contains(be.mail[0], "please call us") || !strings.Contains(be.mail[0], ref) {
		t.Errorf("the server received %q (ref %s)", be.mail, ref)
	}
	_, err = p.Send(context.Background(), outbox.Message{ID: pulid.New("ob"), Recipient: "nobody@example.com", Subject: "x", Body: "y"})
	if !errors.Is(err, outbox.ErrPermanent) {
		t.Errorf("a refused mailbox gave %v, want a permanent failure", err)
	}
	_, err = outbox.SMTPEmail{Host: "127.0.0.1", Port: 1, From: "clinic@demo.clinic"}.Send(context.Background(),
		outbox.Message{ID: pulid.New("ob"), Recipient: "a@example.com", Subject: "x", Body: "y"})
	if err == nil || errors.Is(err, outbox.ErrPermanent) || errors.Is(err, outbox.ErrUnknown) {
		t.Errorf("an unreachable server gave %v, want a retryable error", err)
	}
}

func TestLettersArePDFFiles(t *testing.T) {
	dir := t.TempDir()
	var posted [][]byte
	var keys []string
	epost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		posted = append(posted, b)
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"id":"EP-1"}`)
	}))
	defer epost.Close()
	l := &outbox.Letters{Dir: dir, EPostURL: epost.URL, Letterhead: "Harbourside Medical Centre"}
	msg := func(route string) outbox.Message {
		return outbox.Message{ID: pulid.New("ob"), Channel: "LETTER", Route: route, Recipient: "Olivia Brown",
			Subject: "Your annual health check", Body: "Dear Olivia Brown,\nplease call us to book.", IdempotencyKey: "k-" + route}
	}
	saved := msg("SAVE_FILE")
	path, err := l.Send(context.Background(), saved)
	if err != nil {
		t.Fatal(err)
	}
	pdf, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the saved letter: %v", err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf, []byte("please call us to book")) ||
		!bytes.Contains(pdf, []byte("Harbourside Medical Centre")) || !bytes.Contains(pdf, []byte("%%EOF")) {
		t.Errorf("%s is not the letter as a PDF", path)
	}
	if _, err := l.Send(context.Background(), msg("MAIL")); err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(filepath.Join(dir, "mail", "distribution-list.tsv"))
	if err != nil || !strings.Contains(string(list), "Olivia Brown\tYour annual health check\t") {
		t.Errorf("distribution list = %q, %v", list, err)
	}
	ref, err := l.Send(context.Background(), msg("EPOST"))
	if err != nil || ref != "EP-1" || len(posted) != 1 || !bytes.HasPrefix(posted[0], []byte("%PDF-")) || keys[0] != "k-EPOST" {
		t.Errorf("e-post: ref %q, err %v, %d posts", ref, err, len(posted))
	}
}

func TestLettersCarryTheAddressAndTheClocksDate(t *testing.T) {
	var address []string
	epost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		address = nil
		_ = json.Unmarshal([]byte(r.Header.Get("X-Recipient-Address")), &address)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer epost.Close()
	day := time.Date(2030, time.March, 15, 10, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	l := &outbox.Letters{Dir: dir, EPostURL: epost.URL, Letterhead: "Harbourside Medical Centre", Now: func() time.Time { return day }}
	m := outbox.Message{ID: pulid.New("ob"), Channel: "LETTER", Route: "SAVE_FILE",
		Recipient: "Zoë Brown\n10 Harbour Street\nSydney NSW 2000", Body: "Dear Zoë", IdempotencyKey: "k-addr"}
	path, err := l.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := os.ReadFile(path)
	for _, want := range []string{"(10 Harbour Street)", "(Sydney NSW 2000)", "(15 March 2030)"} {
		if !bytes.Contains(pdf, []byte(want)) {
			t.Errorf("the letter's PDF lacks %s", want)
		}
	}
	m.Route, m.ID = "EPOST", pulid.New("ob")
	if _, err := l.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if strings.Join(address, "|") != "Zoë Brown|10 Harbour Street|Sydney NSW 2000" {
		t.Errorf("e-post received the address %q, want its three lines", address)
	}
}

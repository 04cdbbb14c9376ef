package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/go-pdf/fpdf"

	"github.com/whisper-health/whisper/internal/settings"
)

// Letters renders letters as PDF files and routes them: SAVE_FILE writes the
// PDF to Dir; MAIL writes it under Dir/mail and adds it to the distribution
// list there for manual posting; EPOST adds it to the list the same way
// (marked as sent electronically) and sends it to an e-post HTTP endpoint.
type Letters struct {
	Dir string
	// EPostURL receives EPOST letters as application/pdf POSTs.
	EPostURL string
	// Letterhead is printed at the top of every letter (the practice),
	// unless Settings gives the practice's current name.
	Letterhead string
	// Settings, when set, are the practice's current name (the letterhead)
	// and time zone (the letter's date), read for each letter.
	Settings *settings.Service
	Client   *http.Client
	// Now is the clock that dates letters (default time.Now).
	Now func() time.Time
	mu  sync.Mutex
}

func (l *Letters) now() time.Time {
	if l.Now == nil {
		return time.Now().UTC()
	}
	return l.Now().UTC()
}

// addressLines splits a letter's recipient — the addressee's name, then
// the postal address, one line each — into its lines.
func addressLines(recipient string) []string {
	var lines []string
	for _, line := range strings.Split(recipient, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// Send implements Provider.
func (l *Letters) Send(ctx context.Context, m Message) (string, error) {
	letterhead, date := l.Letterhead, l.now()
	if l.Settings != nil {
		p, err := l.Settings.Current(ctx, nil)
		if err != nil {
			return "", fmt.Errorf("reading the practice's settings: %w", err)
		}
		letterhead, date = p.Name, p.In(date)
	}
	pdf, err := RenderLetter(letterhead, m.Recipient, m.Subject, m.Body, date)
	if err != nil {
		return "", fmt.Errorf("rendering letter: %v: %w", err, ErrPermanent)
	}
	name := string(m.ID) + ".pdf"
	switch m.Route {
	case "EPOST":
		// Listed first: the list records every letter that leaves by post,
		// this one marked as sent electronically.
		if _, err := l.distribute(m, name, pdf); err != nil {
			return "", err
		}
		return l.epost(ctx, m, pdf)
	case "MAIL":
		return l.distribute(m, name, pdf)
	default: // SAVE_FILE
		return writeFile(l.Dir, name, pdf)
	}
}

// distribute writes a letter under Dir/mail and adds it to the distribution
// list there (time, address, subject, file, and the route: MAIL to post by
// hand, EPOST sent electronically). A retry of the same row does not list
// it twice: the letter's file is written after its line, so a file already
// there means the line is too.
func (l *Letters) distribute(m Message, name string, pdf []byte) (string, error) {
	dir := filepath.Join(l.Dir, "mail")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("letter folder: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		f, err := os.OpenFile(filepath.Join(dir, "distribution-list.tsv"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
		if err != nil {
			return "", fmt.Errorf("opening the distribution list: %w", err)
		}
		line := strings.Join([]string{l.now().Format(time.RFC3339), clean(strings.Join(addressLines(m.Recipient), ", ")),
			clean(m.Subject), name, m.Route}, "\t")
		_, err = fmt.Fprintln(f, line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("adding to the distribution list: %w", err)
		}
	}
	return writeFile(dir, name, pdf)
}

func clean(s string) string { return strings.NewReplacer("\t", " ", "\n", " ").Replace(s) }

// writeFile writes atomically: a crash never leaves half a letter.
func writeFile(dir, name string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("letter folder: %w", err)
	}
	path := filepath.Join(dir, name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return "", fmt.Errorf("writing letter: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("writing letter: %w", err)
	}
	return path, nil
}

func (l *Letters) epost(ctx context.Context, m Message, pdf []byte) (string, error) {
	if l.EPostURL == "" {
		return "", fmt.Errorf("no e-post endpoint is configured: %w", ErrPermanent)
	}
	client := l.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.EPostURL, bytes.NewReader(pdf))
	if err != nil {
		return "", fmt.Errorf("e-post request: %v: %w", err, ErrPermanent)
	}
	req.Header.Set("Content-Type", "application/pdf")
	req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	// The postal address, structured: a JSON array of lines (name first),
	// non-ASCII escaped so that it fits in a header.
	addr, _ := json.Marshal(addressLines(m.Recipient))
	req.Header.Set("X-Recipient-Address", asciiJSON(addr))
	res, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("e-post did not answer (%v): %w", err, ErrUnknown)
	}
	defer res.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	_ = json.Unmarshal(body, &out)
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		if out.ID == "" {
			out.ID = "epost:" + string(m.ID)
		}
		return out.ID, nil
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return "", fmt.Errorf("e-post answered %d, will retry", res.StatusCode)
	}
	return "", fmt.Errorf("e-post refused the letter (%d): %w", res.StatusCode, ErrPermanent)
}

// asciiJSON escapes every non-ASCII character of a JSON text as \\uXXXX.
func asciiJSON(b []byte) string {
	var out strings.Builder
	for _, r := range string(b) {
		if r < 0x80 {
			out.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&out, "\\u%04x", u)
		}
	}
	return out.String()
}

// RenderLetter lays a letter out on A4: the letterhead, the date, the
// address block (the addressee's name and postal address, one line each),
// the subject and the body.
func RenderLetter(letterhead, to, subject, body string, date time.Time) ([]byte, error) {
	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetCompression(false) // letters are small; plain streams can be checked
	doc.SetMargins(25, 25, 25)
	tr := doc.UnicodeTranslatorFromDescriptor("")
	doc.AddPage()
	doc.SetFont("Helvetica", "B", 14)
	doc.CellFormat(0, 8, tr(letterhead), "", 1, "L", false, 0, "")
	doc.SetFont("Helvetica", "", 11)
	doc.CellFormat(0, 6, date.Format("2 January 2006"), "", 1, "R", false, 0, "")
	doc.Ln(6)
	for _, line := range addressLines(to) {
		doc.CellFormat(0, 6, tr(line), "", 1, "L", false, 0, "")
	}
	doc.Ln(6)
	if subject != "" {
		doc.SetFont("Helvetica", "B", 11)
		doc.MultiCell(0, 6, tr(subject), "", "L", false)
		doc.Ln(3)
		doc.SetFont("Helvetica", "", 11)
	}
	doc.MultiCell(0, 6, tr(body), "", "L", false)
	var buf bytes.Buffer
	if err := doc.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

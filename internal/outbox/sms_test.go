package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent/outboxmessage"
	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/viewer"
)

// TestHTTPSMSProvider delivers through a real HTTP server on loopback that
// speaks the shape of Twilio's Messages resource.
func TestHTTPSMSProvider(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "AC123" || pass != "secret" || r.URL.Path != "/2010-04-01/Accounts/AC123/Messages.json" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"code": 20003, "message": "Authenticate"}`)
			return
		}
		_ = r.ParseForm()
		to := r.PostForm.Get("To")
		mu.Lock()
		got = append(got, r.PostForm.Get("From")+">"+to+": "+r.PostForm.Get("Body"))
		mu.Unlock()
		switch to {
		case "+61400000000":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"code": 21211, "message": "Invalid 'To' Phone Number"}`)
		case "+61400000503":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "+61400000999":
			// Answer only once the client has given up (its timeout is the
			// behaviour under test); bounded in case it never does.
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"sid": "SM`+to[len(to)-3:]+`", "status": "queued"}`)
		}
	}))
	defer srv.Close()

	db := testdb.Open(t)
	ctx := viewer.NewSystemContext(context.Background(), "test")
	sms := outbox.HTTPSMS{BaseURL: srv.URL, Account: "AC123", Token: "secret", From: "+61255550000",
		Client: &http.Client{Timeout: 100 * time.Millisecond}}
	w := outbox.New(db.Client, slog.New(slog.NewTextHandler(io.Discard, nil)), outbox.Config{
		Providers: map[string]outbox.Provider{"SMS": sms},
	})
	want := map[string]outboxmessage.Status{
		"+61411000001": outboxmessage.StatusSENT,
		"+61400000000": outboxmessage.StatusFAILED,  // refused: never retried
		"+61400000503": outboxmessage.StatusPENDING, // retried later
		"+61400000999": outboxmessage.StatusUNKNOWN, // may have been sent: left for review
	}
	for to := range want {
		db.Client.OutboxMessage.Create().SetChannel("SMS").SetRecipient(to).SetBody("Your results are ready").
			SetIdempotencyKey("k" + to).SetNextAttemptAt(time.Now().Add(-time.Second)).ExecX(ctx)
	}
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for to, status := range want {
		row := db.Client.OutboxMessage.Query().Where(outboxmessage.Recipient(to)).OnlyX(ctx)
		if row.Status != status {
			t.Errorf("%s: %s (%s), want %s", to, row.Status, row.LastError, status)
		}
		if status == outboxmessage.StatusSENT && row.ProviderRef != "SM001" {
			t.Errorf("provider reference %q, want the message sid", row.ProviderRef)
		}
	}
	if len(got) != 4 || got[0][:13] != "+61255550000>" {
		t.Errorf("provider saw %v", got)
	}
}

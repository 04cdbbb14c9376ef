package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/outreach"
	settingsdb "github.com/whisper-health/whisper/internal/settings"
)

// smsWebhook receives inbound SMS from the provider (a Twilio-style form
// POST), checks its signature, and acts on it: a carrier keyword (STOP and
// its synonyms, START, YES, UNSTOP — the whole body, any case) changes the
// number's SMS consent, HELP is answered with the practice's name and phone,
// and anything else is stored against the enrolment that texted the number.
// publicURL is the address the provider calls, as it signs it; empty means
// this request's own URL.
func smsWebhook(engine *outreach.Engine, consents *consent.Service, practice *settingsdb.Service, token, publicURL string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := signedForm(w, r, token, publicURL)
		if !ok {
			return
		}
		from, body := form.Get("From"), form.Get("Body")
		if strings.TrimSpace(from) == "" || strings.TrimSpace(body) == "" {
			webhookError(w, http.StatusBadRequest, apperr.Invalid("From", "an inbound SMS needs From and Body"))
			return
		}
		reply := ""
		switch k, err := consents.Texted(r.Context(), from, body); {
		case err != nil:
			webhookFailed(w, r, log, "recording an SMS keyword", err)
			return
		case k == consent.Help:
			p, err := practice.Current(r.Context(), nil)
			if err != nil {
				webhookFailed(w, r, log, "reading the practice's settings", err)
				return
			}
			reply = p.Name + ": for help call " + p.Phone + ". Reply STOP to opt out of SMS."
		case k == consent.Stop || k == consent.Start:
			log.InfoContext(r.Context(), "inbound SMS keyword changed the number's consent")
		default:
			found, err := engine.ReplyReceived(r.Context(), from, body, form.Get("MessageSid"))
			if err != nil {
				webhookFailed(w, r, log, "storing an inbound SMS", err)
				return
			}
			if !found {
				log.InfoContext(r.Context(), "inbound SMS matches no enrolment awaiting replies")
			}
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response>`)
		if reply != "" {
			_, _ = io.WriteString(w, "<Message>")
			_ = xml.EscapeText(w, []byte(reply))
			_, _ = io.WriteString(w, "</Message>")
		}
		_, _ = io.WriteString(w, `</Response>`)
	})
}

// signedForm reads a provider's form POST and checks its X-Twilio-Signature
// over publicURL (or the request's own URL); on failure it has answered.
func signedForm(w http.ResponseWriter, r *http.Request, token, publicURL string) (url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		webhookError(w, http.StatusMethodNotAllowed, apperr.New(apperr.BadUserInput, "POST only"))
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		webhookError(w, http.StatusBadRequest, apperr.New(apperr.BadUserInput, "the body must be a form"))
		return nil, false
	}
	u := publicURL
	if u == "" {
		u = "http://" + r.Host + r.URL.RequestURI()
	}
	if !outbox.ValidSignature(token, u, r.PostForm, r.Header.Get("X-Twilio-Signature")) {
		webhookError(w, http.StatusForbidden, apperr.New(apperr.Forbidden, "bad or missing X-Twilio-Signature"))
		return nil, false
	}
	return r.PostForm, true
}

func webhookError(w http.ResponseWriter, status int, e *apperr.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}})
}

package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/outreach"
)

// smsWebhook receives inbound SMS from the provider (a Twilio-style form
// POST), checks its signature, and stores the reply against the enrolment
// that texted the number. publicURL is the address the provider calls, as
// it signs it; empty means this request's own URL.
func smsWebhook(engine *outreach.Engine, token, publicURL string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			webhookError(w, http.StatusMethodNotAllowed, apperr.New(apperr.BadUserInput, "POST only"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			webhookError(w, http.StatusBadRequest, apperr.New(apperr.BadUserInput, "the body must be a form"))
			return
		}
		u := publicURL
		if u == "" {
			u = "http://" + r.Host + r.URL.RequestURI()
		}
		if !outbox.ValidSignature(token, u, r.PostForm, r.Header.Get("X-Twilio-Signature")) {
			webhookError(w, http.StatusForbidden, apperr.New(apperr.Forbidden, "bad or missing X-Twilio-Signature"))
			return
		}
		found, err := engine.ReplyReceived(r.Context(), r.PostForm.Get("From"), r.PostForm.Get("Body"), r.PostForm.Get("MessageSid"))
		if err != nil {
			if e, ok := apperr.As(err); ok {
				webhookError(w, http.StatusBadRequest, e)
				return
			}
			log.ErrorContext(r.Context(), "storing an inbound SMS", "err", err)
			webhookError(w, http.StatusInternalServerError, apperr.New(apperr.Internal, "internal error"))
			return
		}
		if !found {
			log.InfoContext(r.Context(), "inbound SMS matches no enrolment awaiting replies")
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
	})
}

func webhookError(w http.ResponseWriter, status int, e *apperr.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}})
}

package main

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"

	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/outbox"
	"github.com/whisper-health/whisper/internal/pulid"
)

// smsStatusWebhook receives the SMS provider's delivery receipts (Twilio's
// StatusCallback form: MessageSid, MessageStatus, ErrorCode), signed like
// the inbound webhook, and records them on the delivery (see
// outbox.Worker.Receipt). publicURL is the address the provider signs;
// empty means this request's own URL.
func smsStatusWebhook(worker *outbox.Worker, token, publicURL string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, ok := signedForm(w, r, token, publicURL)
		if !ok {
			return
		}
		found, err := worker.Receipt(r.Context(), form.Get("MessageSid"), form.Get("MessageStatus"), form.Get("ErrorCode"))
		if err != nil {
			webhookFailed(w, r, log, "recording an SMS delivery receipt", err)
			return
		}
		if !found {
			log.InfoContext(r.Context(), "SMS delivery receipt matches no delivery")
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// webhookFailed answers a webhook whose handling failed: the error's own
// code when it is safe to show, otherwise INTERNAL (logged, not shown).
func webhookFailed(w http.ResponseWriter, r *http.Request, log *slog.Logger, what string, err error) {
	if e, ok := apperr.As(err); ok {
		status := http.StatusBadRequest
		switch e.Code {
		case apperr.Forbidden:
			status = http.StatusForbidden
		case apperr.NotFound:
			status = http.StatusNotFound
		}
		webhookError(w, status, e)
		return
	}
	log.ErrorContext(r.Context(), what, "err", err)
	webhookError(w, http.StatusInternalServerError, apperr.New(apperr.Internal, "internal error"))
}

// unsubscribePage answers the one-click unsubscribe link of outreach email
// (RFC 8058). A POST — the mail client's one click, or the button on the
// page — opts the patient out of email; a GET only shows the button, since
// mail scanners fetch links without anyone clicking. The link is signed;
// a forged one changes nothing.
func unsubscribePage(svc *consent.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		patient, sig := pulid.ID(q.Get("p")), q.Get("t")
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<!doctype html><meta name="viewport" content="width=device-width"><title>Unsubscribe</title>`+
				`<form method="post" action="?`+html.EscapeString(r.URL.RawQuery)+`"><p>Stop receiving email from the practice?</p>`+
				`<button name="List-Unsubscribe" value="One-Click">Unsubscribe</button></form>`)
		case http.MethodPost:
			r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
			// Recorded even if the client hangs up: the click was made.
			if err := svc.Unsubscribe(context.WithoutCancel(r.Context()), patient, sig); err != nil {
				webhookFailed(w, r, log, "unsubscribing", err)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<!doctype html><title>Unsubscribed</title><p>You will not receive email from the practice any more.</p>`)
		default:
			w.Header().Set("Allow", "GET, POST")
			webhookError(w, http.StatusMethodNotAllowed, apperr.New(apperr.BadUserInput, "GET or POST only"))
		}
	})
}

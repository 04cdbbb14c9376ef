package graph

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"strconv"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/whisper-health/whisper/internal/apperr"
)

// Every HTTP refusal — ours and the ones gqlgen's transports write (400 for
// an unknown transport or unreadable GET parameters, 406 for a mutation over
// GET) — answers with a GraphQL-shaped body whose errors carry
// extensions.code, so clients handle one shape. refusalWriter fills in the
// code (and a reason) where gqlgen leaves it out.

// refusalReasons names the HTTP refusals, for extensions.reason.
var refusalReasons = map[int]string{
	http.StatusBadRequest:            "BAD_REQUEST",
	http.StatusMethodNotAllowed:      "METHOD_NOT_ALLOWED",
	http.StatusNotAcceptable:         "NOT_ACCEPTABLE",
	http.StatusRequestEntityTooLarge: "TOO_LARGE",
	http.StatusUnsupportedMediaType:  "UNSUPPORTED_MEDIA_TYPE",
	http.StatusUnprocessableEntity:   "INVALID_DOCUMENT",
	http.StatusTooManyRequests:       "RATE_LIMITED",
}

// refusalWriter buffers a refusal's body (a 4xx answer is small) to give
// each of its errors a code.
type refusalWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

// WriteHeader implements http.ResponseWriter.
func (w *refusalWriter) WriteHeader(status int) {
	if w.status != 0 {
		return
	}
	w.status = status
	if status < 400 || status >= 500 {
		w.ResponseWriter.WriteHeader(status)
	}
}

// Write implements http.ResponseWriter.
func (w *refusalWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.refusing() {
		return w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher (multipart and SSE responses stream).
func (w *refusalWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok && !w.refusing() {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *refusalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *refusalWriter) refusing() bool { return w.status >= 400 && w.status < 500 }

// finish writes a buffered refusal with its codes.
func (w *refusalWriter) finish() {
	if !w.refusing() {
		return
	}
	body := shapeRefusal(w.status, w.buf.Bytes())
	h := w.ResponseWriter.Header()
	if ct, _, _ := mime.ParseMediaType(h.Get("Content-Type")); ct != "application/graphql-response+json" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(body)
}

// shapeRefusal returns body as a GraphQL response whose every error has an
// extensions.code: a body that is not one becomes one error with a generic
// message (gqlgen's text may quote the request).
func shapeRefusal(status int, body []byte) []byte {
	var resp struct {
		Data   json.RawMessage `json:"data,omitempty"`
		Errors gqlerror.List   `json:"errors"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || len(resp.Errors) == 0 {
		resp.Errors = gqlerror.List{{Message: http.StatusText(status)}}
	}
	for _, e := range resp.Errors {
		if e.Extensions == nil {
			e.Extensions = map[string]any{}
		}
		if _, ok := e.Extensions["code"]; !ok {
			e.Extensions["code"] = apperr.BadUserInput
			if status == http.StatusTooManyRequests {
				e.Extensions["code"] = apperr.ResourceExhausted
			}
		}
		if _, ok := e.Extensions["reason"]; !ok && refusalReasons[status] != "" {
			e.Extensions["reason"] = refusalReasons[status]
		}
	}
	out, _ := json.Marshal(resp)
	return out
}

// suggestion is gqlparser's "Did you mean …" tail of a validation message.
var suggestion = regexp.MustCompile(`\s*Did you mean [^?]*\?`)

// withoutSuggestions removes "Did you mean" suggestions, which name
// arguments, enum values, types and input fields of the schema even when
// introspection is off.
func withoutSuggestions(msg string) string {
	return suggestion.ReplaceAllString(msg, "")
}

// isJSON reports whether a POST's Content-Type is one gqlgen's POST
// transport reads (application/json); others are refused with 415.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// validQuery reports whether a request's URL parameters (GET's query and
// variables) are valid UTF-8 once unescaped, and escape no lone surrogate.
func validQuery(r *http.Request) bool {
	for _, vs := range r.URL.Query() {
		for _, v := range vs {
			if !validUTF8JSON([]byte(v)) {
				return false
			}
		}
	}
	return true
}

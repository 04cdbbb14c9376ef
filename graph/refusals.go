package graph

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/whisper-health/whisper/internal/apperr"
)

// Every HTTP answer that is not the result of executing an operation — our
// own refusals, gqlgen's (400 for an unknown transport or unreadable GET
// parameters, 406 for a mutation over GET), and request errors (a document
// that does not parse or validate, variables that do not coerce, a refused
// credential) — is shaped here the way the GraphQL-over-HTTP spec asks:
//
//   - the body is a GraphQL response with errors only (no data entry: the
//     operation never ran), each error carrying extensions.code;
//   - with application/graphql-response+json a request error is 4xx (400;
//     401 for a refused credential); with application/json a document or
//     variables error is 200, as the spec recommends for that media type;
//   - the Content-Type is the one the Accept header negotiated.
//
// Results of executed operations (and event streams) pass through untouched.

// refusalReasons names the HTTP refusals, for extensions.reason.
var refusalReasons = map[int]string{
	http.StatusBadRequest:            "BAD_REQUEST",
	http.StatusMethodNotAllowed:      "METHOD_NOT_ALLOWED",
	http.StatusNotAcceptable:         "NOT_ACCEPTABLE",
	http.StatusRequestEntityTooLarge: "TOO_LARGE",
	http.StatusUnsupportedMediaType:  "UNSUPPORTED_MEDIA_TYPE",
	http.StatusTooManyRequests:       "RATE_LIMITED",
}

// The media types of GraphQL responses over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// responseMediaType is the media type a response to r is written in, chosen
// as gqlgen's transports choose it: the first of the Accept header's types
// that is one of ours; application/json for */* or no Accept header.
func responseMediaType(r *http.Request) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return mediaJSON
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "*/*", "application/*", mediaJSON:
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

// responseShaper holds back the status and body of a response until it
// knows whether an operation ran: a result passes through as written, a
// refusal or request error (small) is buffered and shaped in finish.
type responseShaper struct {
	http.ResponseWriter
	req     *httpRequest
	media   string // negotiated response media type
	status  int
	decided bool // passing through, or buffering
	through bool
	buf     bytes.Buffer
}

// WriteHeader implements http.ResponseWriter.
func (w *responseShaper) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// Write implements http.ResponseWriter.
func (w *responseShaper) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.decide()
	if w.through {
		return w.ResponseWriter.Write(b)
	}
	return w.buf.Write(b)
}

// decide passes the response through when an operation ran or the
// response streams (server-sent events, multipart); otherwise it buffers.
func (w *responseShaper) decide() {
	if w.decided {
		return
	}
	w.decided = true
	ct, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if w.req.executed.Load() || ct == "text/event-stream" || strings.HasPrefix(ct, "multipart/") {
		w.through = true
		w.ResponseWriter.WriteHeader(w.status)
	}
}

// Flush implements http.Flusher (multipart and SSE responses stream).
func (w *responseShaper) Flush() {
	if !w.decided {
		return
	}
	if w.through {
		// Through the middleware's writers to the connection's.
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseShaper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes a held-back response, shaped.
func (w *responseShaper) finish() {
	if w.through {
		return
	}
	if w.status == 0 {
		return // nothing was written: net/http answers 200 with no body
	}
	if w.buf.Len() == 0 && w.status < 400 {
		w.ResponseWriter.WriteHeader(w.status) // OPTIONS and the like
		return
	}
	status, body := shapeRefusal(w.status, w.media, w.buf.Bytes())
	h := w.ResponseWriter.Header()
	h.Set("Content-Type", w.media)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="whisper", error="invalid_token"`)
	}
	w.ResponseWriter.WriteHeader(status)
	_, _ = w.ResponseWriter.Write(body)
}

// noOperation is gqlgen's request error for a request without a query.
const noOperation = "no operation provided"

// shapeRefusal returns the status and body of a response to an operation
// that never ran: a GraphQL response without data whose every error has an
// extensions.code (a body that is not one becomes one error with a generic
// message: gqlgen's text may quote the request), and the status the
// GraphQL-over-HTTP spec asks for in media.
func shapeRefusal(status int, media string, body []byte) (int, []byte) {
	var resp struct {
		Errors     gqlerror.List  `json:"errors"`
		Extensions map[string]any `json:"extensions,omitempty"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || len(resp.Errors) == 0 {
		resp.Errors = gqlerror.List{{Message: http.StatusText(status)}}
	}
	unauthenticated := false
	if resp.Errors[0].Message == noOperation && (status < 300 || status == http.StatusUnprocessableEntity) {
		// No query parameter at all: not a GraphQL request, whatever the
		// media type.
		status = http.StatusBadRequest
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
		if c, _ := e.Extensions["code"].(string); c == string(apperr.Unauthenticated) {
			unauthenticated = true
		}
		if _, ok := e.Extensions["reason"]; !ok && refusalReasons[status] != "" {
			e.Extensions["reason"] = refusalReasons[status]
		}
	}
	switch {
	case unauthenticated && status < 500:
		// A refused credential, in either media type: clients and proxies
		// key re-authentication on 401.
		status = http.StatusUnauthorized
	case media == mediaGraphQLResponse && (status < 400 || status == http.StatusUnprocessableEntity):
		status = http.StatusBadRequest
	case media == mediaJSON && status == http.StatusUnprocessableEntity:
		status = http.StatusOK
	}
	out, _ := json.Marshal(resp)
	return status, out
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

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/whisper-health/whisper/internal/tracing"
)

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(requestIDHandler{h})
}

type requestIDKey struct{}

// requestIDHandler adds the request id of the context to every log line.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// requestID returns the client's X-Request-ID when it is a sane token, or a
// fresh one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-ID"); len(id) > 0 && len(id) <= 64 {
		ok := true
		for _, c := range id {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				ok = false
				break
			}
		}
		if ok {
			return id
		}
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withRequestLog gives each request an id (echoed in X-Request-ID), logs one
// line per request — method, path, status, duration; never the query string
// or body, which may hold patient data — and counts requests.
func withRequestLog(log *slog.Logger, m *metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := requestID(r)
		w.Header().Set("X-Request-ID", id)
		ctx := context.WithValue(r.Context(), requestIDKey{}, id)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r.WithContext(ctx))
		d := time.Since(start)
		m.httpRequests.WithLabelValues(routeLabel(r.URL.Path), strconv.Itoa(rec.status)).Inc()
		level := slog.LevelInfo
		if r.URL.Path == "/livez" || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			level = slog.LevelDebug
		}
		log.Log(ctx, level, "request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", d)
	})
}

// withTracing gives each request a server span ("POST /graphql"), joined
// to the caller's trace when it sends traceparent; Start adds it only while
// tracing is on. The route is a served path or "other", never the query
// string.
func withTracing(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		route := routeLabel(r.URL.Path)
		ctx, span := tracing.Tracer().Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route)))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.status))
		}
	})
}

// routeLabel bounds the path label to the routes we serve.
func routeLabel(path string) string {
	switch path {
	case "/", "/graphql", "/livez", "/healthz", "/readyz", "/metrics":
		return path
	}
	return "other"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection, which the
// websocket upgrade needs.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// metrics holds the Prometheus collectors and counts GraphQL operations.
type metrics struct {
	httpRequests *prometheus.CounterVec
	operations   *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	openSockets  func() int
	deliveryLag  func() time.Duration
	liveScans    func() int64
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "whisper_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "status"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "whisper_graphql_operations_total", Help: "GraphQL responses by operation type and outcome.",
		}, []string{"type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "whisper_graphql_duration_seconds", Help: "Time to produce a GraphQL response.",
			Buckets: prometheus.DefBuckets,
		}, []string{"type"}),
		openSockets: func() int { return 0 },
		deliveryLag: func() time.Duration { return 0 },
		liveScans:   func() int64 { return 0 },
	}
	reg.MustRegister(m.httpRequests, m.operations, m.duration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "whisper_websockets_open", Help: "Open GraphQL websocket connections.",
		}, func() float64 { return float64(m.openSockets()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "whisper_live_delivery_lag_seconds",
			Help: "How long the oldest committed message not yet delivered to live streams has waited (0: caught up).",
		}, func() float64 { return m.deliveryLag().Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "whisper_live_scans_total",
			Help: "Times the live hub has read the message stream for newly committed messages (message events start at most one read per WHISPER_LIVE_SCAN_GAP).",
		}, func() float64 { return float64(m.liveScans()) }))
	return m
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = (*metrics)(nil)

// ExtensionName implements graphql.HandlerExtension.
func (*metrics) ExtensionName() string { return "Metrics" }

// Validate implements graphql.HandlerExtension.
func (*metrics) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor: it counts each
// response (each event of a subscription) and times queries and mutations.
func (m *metrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	start := time.Now()
	resp := next(ctx)
	typ := "unknown"
	if graphql.HasOperationContext(ctx) {
		if op := graphql.GetOperationContext(ctx).Operation; op != nil {
			typ = string(op.Operation)
		}
	}
	outcome := "ok"
	if resp == nil {
		outcome = "end"
	} else if len(resp.Errors) > 0 {
		outcome = "error"
	}
	m.operations.WithLabelValues(typ, outcome).Inc()
	if typ != string(ast.Subscription) {
		m.duration.WithLabelValues(typ).Observe(time.Since(start).Seconds())
	}
	return resp
}

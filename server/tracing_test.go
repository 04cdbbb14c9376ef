package main

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/whisper-health/whisper/internal/testdb"
	"github.com/whisper-health/whisper/internal/tracing"
)

// otlpReceiver is an OTLP/HTTP trace receiver on loopback: it decodes each
// protobuf export request and keeps the spans.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	raw   []string // every exported attribute value, to look for secrets
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "unexpected export", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				o.spans = append(o.spans, s)
				for _, a := range s.Attributes {
					o.raw = append(o.raw, a.Value.GetStringValue())
				}
			}
		}
	}
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// TestTracingExportsHTTPGraphQLAndDatabaseSpans: with
// OTEL_EXPORTER_OTLP_ENDPOINT set, a sign-in and a query produce an HTTP
// server span, a GraphQL operation span beneath it and database spans
// beneath that, in one trace, delivered to the collector by the time the
// server has shut down; no span carries the password.
func TestTracingExportsHTTPGraphQLAndDatabaseSpans(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()

	app, _ := startApp(t, testdb.URL(t), "-demo", "-otel-endpoint", collector.URL)
	token, _ := login(t, app.URL(), "dr.chen@demo.clinic")
	_, patel := login(t, app.URL(), "dr.patel@demo.clinic")
	post(t, app.URL(), token, `query MyChannels { channels(first: 5) { edges { node { id } } } }`)
	// A send runs in a write transaction with raw statements.
	ch := post(t, app.URL(), token, `mutation { openConversation(input: {userIDs: ["`+patel+`"]}) { id } }`)
	id := ch["openConversation"].(map[string]any)["id"].(string)
	post(t, app.URL(), token, `mutation Send { sendMessage(input: {channelID: "`+id+`", body: "traced"}) { id } }`)
	stopApp(t, app) // flushes the spans

	recv.mu.Lock()
	defer recv.mu.Unlock()
	byID := map[string]*tracepb.Span{}
	for _, s := range recv.spans {
		byID[string(s.SpanId)] = s
	}
	var op *tracepb.Span
	for _, s := range recv.spans {
		if s.Name == "query MyChannels" {
			op = s
		}
	}
	if op == nil {
		names := []string{}
		for _, s := range recv.spans {
			names = append(names, s.Name)
		}
		t.Fatalf("no span for the GraphQL operation; got %d spans: %v", len(recv.spans), names)
	}
	if parent := byID[string(op.ParentSpanId)]; parent == nil || parent.Name != "POST /graphql" || parent.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("the operation's parent = %v, want the HTTP server span POST /graphql", parent)
	}
	dbSpans := 0
	for _, s := range recv.spans {
		if string(s.TraceId) == string(op.TraceId) && s.Name == "SELECT" && s.Kind == tracepb.Span_SPAN_KIND_CLIENT {
			dbSpans++
		}
	}
	if dbSpans == 0 {
		t.Errorf("no database span in the operation's trace")
	}
	var send *tracepb.Span
	for _, s := range recv.spans {
		if s.Name == "mutation Send" {
			send = s
		}
	}
	inserts := 0
	for _, s := range recv.spans {
		if send != nil && string(s.TraceId) == string(send.TraceId) && (s.Name == "INSERT" || s.Name == "UPDATE") {
			inserts++
		}
	}
	if send == nil || inserts == 0 {
		t.Errorf("the send has no write statements in its trace (span %v, %d writes)", send, inserts)
	}
	for _, v := range recv.raw {
		if strings.Contains(v, "whisper-demo") {
			t.Errorf("a span attribute carries the password: %q", v)
		}
	}
}

// TestTracingOffByDefault: without an endpoint nothing is set up — no SDK
// tracer provider (so no exporter and no span buffer), and neither requests
// nor statements are wrapped; a bad endpoint stops start-up naming it.
func TestTracingOffByDefault(t *testing.T) {
	app, _ := startApp(t, testdb.URL(t))
	defer stopApp(t, app)
	if tracing.Enabled() {
		t.Fatal("tracing is on without OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	if tp, isSDK := otel.GetTracerProvider().(*sdktrace.TracerProvider); isSDK {
		t.Fatalf("an SDK tracer provider is installed: %v", tp)
	}
	if _, err := LoadConfig([]string{"-otel-endpoint", "collector:4318"}, func(string) string { return "" }); err == nil ||
		!strings.Contains(err.Error(), "otel-endpoint") {
		t.Errorf("a bad endpoint: %v, want an error naming otel-endpoint", err)
	}
}

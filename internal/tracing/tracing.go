// Package tracing is Whisper's optional OpenTelemetry tracing: when an OTLP
// endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT), spans for HTTP
// requests, GraphQL operations and database statements are exported over
// OTLP/HTTP; otherwise nothing is set up — no exporter, the global no-op
// tracer, and no wrapper in any request or statement path.
package tracing

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Name is the instrumentation scope of Whisper's own spans.
const Name = "github.com/whisper-health/whisper"

var enabled atomic.Bool

// Enabled reports whether Start turned tracing on in this process.
func Enabled() bool { return enabled.Load() }

// Tracer is Whisper's tracer (the global provider's; a no-op one while
// tracing is off).
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// Start turns tracing on when endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, the
// collector's base URL: spans go to <endpoint>/v1/traces) is not empty. It
// installs a batching OTLP/HTTP exporter and the W3C trace-context
// propagator globally; the exporter's other standard variables
// (OTEL_EXPORTER_OTLP_HEADERS, …) and OTEL_SERVICE_NAME /
// OTEL_RESOURCE_ATTRIBUTES apply as usual. The returned function flushes
// and stops it; with no endpoint it does nothing.
func Start(ctx context.Context, endpoint string) (shutdown func(context.Context) error, err error) {
	if endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimRight(endpoint, "/")+"/v1/traces"))
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "whisper")),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(2*time.Second)),
		sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	enabled.Store(true)
	return func(ctx context.Context) error {
		enabled.Store(false)
		otel.SetTracerProvider(noop.NewTracerProvider())
		return tp.Shutdown(ctx)
	}, nil
}

// GraphQL is a gqlgen extension that gives each GraphQL response (each
// event of a subscription) a span named after its operation ("query
// Channels"), with its type and name and an error status when the response
// has errors. It records neither the query text nor variables nor
// argument values: they carry passwords and patient data (which is why
// otelgqlgen, which records the raw query and resolver arguments, is not
// used).
type GraphQL struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = GraphQL{}

// ExtensionName implements graphql.HandlerExtension.
func (GraphQL) ExtensionName() string { return "Tracing" }

// Validate implements graphql.HandlerExtension.
func (GraphQL) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (GraphQL) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	typ, name := "operation", oc.OperationName
	if oc.Operation != nil {
		typ = string(oc.Operation.Operation)
		if name == "" {
			name = oc.Operation.Name
		}
	}
	spanName := typ
	if name != "" {
		spanName += " " + name
	}
	ctx, span := Tracer().Start(ctx, spanName, trace.WithAttributes(
		attribute.String("graphql.operation.type", typ), attribute.String("graphql.operation.name", name)))
	defer span.End()
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 0 {
		span.SetStatus(codes.Error, "the response has errors")
		span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
	}
	return resp
}

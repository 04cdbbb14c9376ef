package store

import (
	"context"
	"database/sql"
	"strings"

	"entgo.io/ent/dialect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/whisper-health/whisper/internal/tracing"
)

// tracedDriver gives every statement ent runs a client span named by its
// first keyword ("SELECT", "UPDATE", …) with the statement text (never its
// arguments, which may hold patient data). Open uses it only while
// tracing is on.
type tracedDriver struct {
	entDriver
}

// entDriver is what ent's generated code calls on a driver: the plain
// *entsql.Driver, or the SQLite writer gate around one.
type entDriver interface {
	dialect.Driver
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error)
}

// span starts a span for query.
func span(ctx context.Context, system, query string) (context.Context, func(error)) {
	op := query
	if i := strings.IndexAny(strings.TrimSpace(query), " \n\t("); i > 0 {
		op = strings.TrimSpace(query)[:i]
	}
	ctx, s := tracing.Tracer().Start(ctx, strings.ToUpper(op), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", system), attribute.String("db.query.text", query)))
	return ctx, func(err error) {
		if err != nil && err != sql.ErrNoRows {
			s.RecordError(err)
			s.SetStatus(codes.Error, "statement failed")
		}
		s.End()
	}
}

func system(d string) string {
	if d == dialect.Postgres {
		return "postgresql"
	}
	return "sqlite"
}

// Exec implements dialect.Driver.
func (d tracedDriver) Exec(ctx context.Context, query string, args, v any) error {
	ctx, end := span(ctx, system(d.Dialect()), query)
	err := d.entDriver.Exec(ctx, query, args, v)
	end(err)
	return err
}

// Query implements dialect.Driver.
func (d tracedDriver) Query(ctx context.Context, query string, args, v any) error {
	ctx, end := span(ctx, system(d.Dialect()), query)
	err := d.entDriver.Query(ctx, query, args, v)
	end(err)
	return err
}

// ExecContext is what ent's generated ExecContext calls.
func (d tracedDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, end := span(ctx, system(d.Dialect()), query)
	res, err := d.entDriver.ExecContext(ctx, query, args...)
	end(err)
	return res, err
}

// QueryContext is what ent's generated QueryContext calls.
func (d tracedDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, end := span(ctx, system(d.Dialect()), query)
	rows, err := d.entDriver.QueryContext(ctx, query, args...)
	end(err)
	return rows, err
}

// Tx implements dialect.Driver.
func (d tracedDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	return d.BeginTx(ctx, nil)
}

// BeginTx is what ent's generated BeginTx calls.
func (d tracedDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	tx, err := d.entDriver.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return tracedTx{Tx: tx, system: system(d.Dialect())}, nil
}

// tracedTx traces the statements of a transaction.
type tracedTx struct {
	dialect.Tx
	system string
}

// Exec implements dialect.Tx.
func (t tracedTx) Exec(ctx context.Context, query string, args, v any) error {
	ctx, end := span(ctx, t.system, query)
	err := t.Tx.Exec(ctx, query, args, v)
	end(err)
	return err
}

// Query implements dialect.Tx.
func (t tracedTx) Query(ctx context.Context, query string, args, v any) error {
	ctx, end := span(ctx, t.system, query)
	err := t.Tx.Query(ctx, query, args, v)
	end(err)
	return err
}

// ExecContext passes ent's raw statements in a transaction through.
func (t tracedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, end := span(ctx, t.system, query)
	res, err := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}).ExecContext(ctx, query, args...)
	end(err)
	return res, err
}

// QueryContext passes ent's raw queries in a transaction through.
func (t tracedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, end := span(ctx, t.system, query)
	rows, err := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}).QueryContext(ctx, query, args...)
	end(err)
	return rows, err
}

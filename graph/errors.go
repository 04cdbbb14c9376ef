package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/lib/pq"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/viewer"
)

// resolverError marks an error returned by a resolver, as opposed to one
// gqlgen raised while reading the arguments (which is the client's fault).
type resolverError struct{ err error }

func (e *resolverError) Error() string { return e.err.Error() }
func (e *resolverError) Unwrap() error { return e.err }

// markResolverErrors is a field middleware that tags resolver errors.
func markResolverErrors(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err != nil {
		err = &resolverError{err}
	}
	return res, err
}

// presentError classifies every error once, into extensions.code, and makes
// sure internal details (SQL, stack, input values) never reach the client.
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := &gqlerror.Error{Path: graphql.GetPath(ctx)}
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) {
			if gqlErr.Path != nil {
				out.Path = gqlErr.Path
			}
			out.Locations = gqlErr.Locations
		}
		code, msg, known := classify(ctx, err)
		var reason string
		switch {
		case known:
		case gqlErr != nil && gqlErr.Err == nil:
			// Parse, validation and limit errors that gqlgen raises about
			// the query text: the client's to fix.
			code, msg = apperr.BadUserInput, gqlErr.Message
			if strings.HasPrefix(msg, "json request body could not be decoded") {
				// gqlgen quotes the whole body here; it may hold patient data.
				msg = "request body is not valid JSON"
			}
			if c, ok := gqlErr.Extensions["code"].(apperr.Code); ok {
				code = c
			}
			if c, _ := gqlErr.Extensions["code"].(string); c == string(persistedQueryNotFound) {
				// Apollo's persisted-query link retries with the full
				// query on this code (or this message).
				code = persistedQueryNotFound
			}
			if r, ok := gqlErr.Extensions["reason"].(string); ok {
				reason = r
			}
		case isResolverError(err) && strings.HasSuffix(err.Error(), "introspection disabled"):
			// gqlgen's answer to __schema and __type when introspection is
			// off: a refusal, not a fault.
			code, msg = apperr.Forbidden, "introspection is disabled"
		case isResolverError(err):
			code, msg = apperr.Internal, "internal error"
		default:
			// Raised by gqlgen while coercing arguments (a malformed Time, an
			// unknown enum value): the message names the type, not the data.
			code, msg = apperr.BadUserInput, err.Error()
			if gqlErr != nil && gqlErr.Err != nil {
				msg = gqlErr.Err.Error()
			}
		}
		if code == apperr.Internal {
			log.ErrorContext(ctx, "internal error", "path", out.Path.String(), "err", err)
		}
		out.Message = msg
		out.Extensions = map[string]any{"code": code}
		if reason != "" {
			out.Extensions["reason"] = reason
		}
		if e, ok := apperr.As(err); ok && e.Field != "" {
			out.Extensions["field"] = e.Field
		}
		if e, ok := apperr.As(err); ok && e.Reason != "" {
			out.Extensions["reason"] = e.Reason
		}
		return out
	}
}

// persistedQueryNotFound is the code of an automatic persisted query whose
// hash the server does not know (yet): the client sends the query itself.
const persistedQueryNotFound apperr.Code = "PERSISTED_QUERY_NOT_FOUND"

func isResolverError(err error) bool {
	var re *resolverError
	return errors.As(err, &re)
}

// classify maps the errors we know — ours, and ent's — to a code and a
// message safe to show.
func classify(ctx context.Context, err error) (code apperr.Code, msg string, known bool) {
	if e, ok := apperr.As(err); ok {
		return e.Code, e.Message, true
	}
	var ve *ent.ValidationError
	var nf *ent.NotFoundError
	var nse *ent.NotSingularError
	var pe *pq.Error
	switch {
	case errors.As(err, &pe) && (pe.Code == "57014" || pe.Code == "25P03"):
		// A statement or an idle transaction ran past PostgreSQL's
		// timeout (see the README's Limits), or was cancelled: its
		// transaction was rolled back. A message send is one transaction,
		// so it changed nothing and may simply be tried again.
		return apperr.Unavailable, "the database took too long; try again", true
	case errors.As(err, &nf):
		return apperr.NotFound, "not found", true
	case errors.Is(err, privacy.Deny):
		if viewer.FromContext(ctx) == nil {
			return apperr.Unauthenticated, "sign in first", true
		}
		return apperr.Forbidden, "you do not have permission to do this", true
	case errors.As(err, &ve):
		return apperr.BadUserInput, fmt.Sprintf("invalid value for %s", ve.Name), true
	case ent.IsConstraintError(err):
		return apperr.Conflict, "conflicts with an existing record", true
	case errors.As(err, &nse):
		return apperr.Internal, "internal error", true
	case errors.Is(err, context.DeadlineExceeded):
		return apperr.Internal, "the operation took too long", true
	case errors.Is(err, context.Canceled):
		// The client stopped the operation (a subscription completed while
		// it started, a closed connection) or the server is shutting
		// down: not a fault of ours to log.
		return apperr.Unavailable, "the operation was cancelled", true
	}
	return "", "", false
}

// recoverPanic turns a panic in a resolver into an INTERNAL error, logging
// the panic's type and the stack (which holds no client input) for us and
// nothing for the client. The panic value itself is not logged — it may be
// built from patient data — except a runtime error's text, which the Go
// runtime writes ("index out of range [3] with length 2").
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", apperr.PanicAttrs(p)...)
		return apperr.New(apperr.Internal, "internal error")
	}
}

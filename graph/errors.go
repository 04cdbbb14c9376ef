package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
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
		var gqlErr *gqlerror.Error
		if !errors.As(err, &gqlErr) {
			err = &resolverError{err}
		}
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
			if gqlErr.Err == nil {
				// Parse, validation and limit errors raised by gqlgen about
				// the query text: the client's to fix.
				out.Message = gqlErr.Message
				out.Extensions = map[string]any{"code": apperr.BadUserInput}
				if c, ok := gqlErr.Extensions["code"].(apperr.Code); ok {
					out.Extensions["code"] = c
				}
				return out
			}
			err = gqlErr.Err
		}
		code, msg := classify(ctx, err)
		if code == apperr.Internal {
			log.ErrorContext(ctx, "internal error", "path", out.Path.String(), "err", err)
		}
		out.Message = msg
		out.Extensions = map[string]any{"code": code}
		if e, ok := apperr.As(err); ok && e.Field != "" {
			out.Extensions["field"] = e.Field
		}
		return out
	}
}

// classify maps an error to a code and a message safe to show.
func classify(ctx context.Context, err error) (apperr.Code, string) {
	if e, ok := apperr.As(err); ok {
		return e.Code, e.Message
	}
	var ve *ent.ValidationError
	var nf *ent.NotFoundError
	var nse *ent.NotSingularError
	switch {
	case errors.As(err, &nf):
		return apperr.NotFound, "not found"
	case errors.Is(err, privacy.Deny):
		if viewer.FromContext(ctx) == nil {
			return apperr.Unauthenticated, "sign in first"
		}
		return apperr.Forbidden, "you do not have permission to do this"
	case errors.As(err, &ve):
		return apperr.BadUserInput, fmt.Sprintf("invalid value for %s", ve.Name)
	case ent.IsConstraintError(err):
		return apperr.Conflict, "conflicts with an existing record"
	case errors.As(err, &nse):
		return apperr.Internal, "internal error"
	case errors.Is(err, context.DeadlineExceeded):
		return apperr.Internal, "the operation took too long"
	}
	var re *resolverError
	if !errors.As(err, &re) {
		// Raised by gqlgen while coercing arguments (a malformed Time, an
		// unknown enum value): the message names the type, not the data.
		return apperr.BadUserInput, err.Error()
	}
	return apperr.Internal, "internal error"
}

// recoverPanic turns a panic in a resolver into an INTERNAL error, logging
// the stack (which holds no client input) for us and nothing for the client.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return apperr.New(apperr.Internal, "internal error")
	}
}

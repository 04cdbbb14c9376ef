package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/viewer"
)

// GraphQL validation is quadratic in places (overlapping fields are
// compared pairwise), so a document that is cheap to send — 14,000
// __typename selections in 154 KB — can cost seconds of CPU, and a document
// with a thousand aliased login fields runs a thousand password hashes.
// documentLimits refuses such documents from their text, before gqlgen
// validates them; passwordBudget then lets one operation check at most one
// password.

// Default document limits; see HandlerConfig.
const (
	DefaultMaxSelections = 1000
	DefaultMaxAliases    = 100
	DefaultMaxSpreads    = 100
)

// passwordFields are the root fields that verify a password: one operation
// may hold only one of them.
var passwordFields = map[string]bool{
	"login": true, "patientLogin": true, "acceptInvitation": true, "acceptPatientInvitation": true,
	"resetPassword": true, "changePassword": true,
}

// documentLimits counts a document's selections, aliases and fragment
// spreads before validation.
type documentLimits struct {
	tokens, selections, aliases, spreads int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
	graphql.OperationInterceptor
} = documentLimits{}

// ExtensionName implements graphql.HandlerExtension.
func (documentLimits) ExtensionName() string { return "DocumentLimits" }

// Validate implements graphql.HandlerExtension.
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator:
// it runs before gqlgen parses and validates the document. Parsing is
// linear and bounded by the token limit; a document that does not parse is
// left to gqlgen to report.
func (l documentLimits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, l.tokens)
	if err != nil {
		return nil
	}
	var c docCount
	for _, op := range doc.Operations {
		c.set(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		c.set(f.SelectionSet)
	}
	switch {
	case c.selections > l.selections:
		return documentError(fmt.Sprintf("document has too many selections (%d, limit %d)", c.selections, l.selections))
	case c.aliases > l.aliases:
		return documentError(fmt.Sprintf("document has too many aliases (%d, limit %d)", c.aliases, l.aliases))
	case c.spreads > l.spreads:
		return documentError(fmt.Sprintf("document has too many fragment spreads (%d, limit %d)", c.spreads, l.spreads))
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator: an
// operation that would check more than one password is refused before any
// of its fields runs, and so is a subscription that is not on a websocket.
func (documentLimits) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if oc.Operation.Operation == ast.Subscription {
		// A subscription lives on a socket: a websocket, or a stream of
		// server-sent events opened with a token. Anywhere else it would
		// hold the request (and a goroutine) open until the timeout.
		if _, ok := ctx.Value(socketEndKey{}).(*socketEnd); !ok {
			if ctx.Value(sseRequestKey{}) != nil && viewer.FromContext(ctx) == nil {
				return &gqlerror.Error{
					Message:    "subscriptions need a signed-in viewer: send Authorization: Bearer <accessToken>",
					Extensions: map[string]any{"code": apperr.Unauthenticated},
				}
			}
			return &gqlerror.Error{
				Message:    "subscriptions are served over websockets (graphql-transport-ws) or server-sent events (Accept: text/event-stream)",
				Extensions: map[string]any{"code": apperr.BadUserInput, "reason": "STREAM_REQUIRED"},
			}
		}
		return nil
	}
	if oc.Operation.Operation != ast.Mutation {
		return nil
	}
	if n := passwordChecks(oc.Operation.SelectionSet, 0); n > 1 {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("one request may check only one password (this one asks for %d)", n),
			Extensions: map[string]any{"code": apperr.ResourceExhausted, "reason": "PASSWORD_BUDGET"},
		}
	}
	return nil
}

// InterceptOperation implements graphql.OperationInterceptor: each
// operation may verify one password (auth.VerifyPassword spends it), which
// also holds for a field that checks one in a way passwordFields misses.
func (documentLimits) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(auth.WithPasswordBudget(ctx, 1))
}

// passwordChecks counts the password fields at the root of a mutation,
// through inline fragments and fragment spreads.
func passwordChecks(set ast.SelectionSet, depth int) int {
	if depth > 10 {
		return 0
	}
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if passwordFields[s.Name] {
				n++
			}
		case *ast.InlineFragment:
			n += passwordChecks(s.SelectionSet, depth+1)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				n += passwordChecks(s.Definition.SelectionSet, depth+1)
			}
		}
	}
	return n
}

func documentError(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": apperr.BadUserInput, "reason": "DOCUMENT_TOO_LARGE"}}
}

// docCount is what a document holds, as written (fragments once each).
type docCount struct{ selections, aliases, spreads int }

func (c *docCount) set(set ast.SelectionSet) {
	for _, sel := range set {
		c.selections++
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				c.aliases++
			}
			c.set(s.SelectionSet)
		case *ast.InlineFragment:
			c.set(s.SelectionSet)
		case *ast.FragmentSpread:
			c.spreads++
		}
	}
}

package graph

import (
	"context"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/viewer"
)

// credentialFree are the root fields that run as nobody whatever
// Authorization header comes with them: signing in, refreshing a session,
// redeeming an invitation or reset link. A client that still sends its
// stale (expired, revoked) token must be able to call them; the sign-in
// ones then act as the person they sign in (viewer.NewPendingContext).
// Adding an operation here is all it takes.
var credentialFree = map[string]bool{
	"login":                   true,
	"patientLogin":            true,
	"refreshSession":          true,
	"patientRefreshSession":   true,
	"acceptInvitation":        true,
	"acceptPatientInvitation": true,
	"resetPassword":           true,
	"requestPasswordReset":    true,
}

// httpRequest is what the HTTP handler and the GraphQL pipeline share about
// one request: the credential refused (answered once the document shows
// whether it matters), and whether an operation ran (see responseShaper).
type httpRequest struct {
	refused  error
	executed atomic.Bool
}

type httpRequestKey struct{}

func httpRequestOf(ctx context.Context) *httpRequest {
	r, _ := ctx.Value(httpRequestKey{}).(*httpRequest)
	return r
}

// credentials is the gqlgen extension that refuses an operation whose
// Authorization header was refused — an UNAUTHENTICATED request error with
// the reason (TOKEN_EXPIRED, TOKEN_INVALID, SESSION_REVOKED,
// USER_DEACTIVATED), before anything runs — unless the operation only asks
// for credential-free fields. It also marks the operations that run.
type credentials struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.OperationInterceptor
} = credentials{}

// ExtensionName implements graphql.HandlerExtension.
func (credentials) ExtensionName() string { return "Credentials" }

// Validate implements graphql.HandlerExtension.
func (credentials) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (credentials) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	req := httpRequestOf(ctx)
	if req == nil || req.refused == nil || onlyCredentialFree(op.Operation) {
		return nil
	}
	e, _ := apperr.As(req.refused)
	ext := map[string]any{"code": e.Code}
	if e.Reason != "" {
		ext["reason"] = e.Reason
	}
	return &gqlerror.Error{Message: e.Message, Err: e, Extensions: ext}
}

// InterceptOperation implements graphql.OperationInterceptor.
func (credentials) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if req := httpRequestOf(ctx); req != nil {
		req.executed.Store(true)
	}
	return next(ctx)
}

// onlyCredentialFree reports whether every root field op selects is
// credential-free (__typename aside).
func onlyCredentialFree(op *ast.OperationDefinition) bool {
	if op == nil || op.Operation != ast.Mutation {
		return false
	}
	free := false
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		switch {
		case !ok:
			return false // a fragment at the root: not worth reading through
		case f.Name == "__typename":
		case credentialFree[f.Name]:
			free = true
		default:
			return false
		}
	}
	return free
}

// signInContext runs the credential-free root fields as nobody (whatever
// token came with the request or socket) in a pending-viewer context, so
// the user a sign-in returns is read as that user (see
// viewer.NewPendingContext).
func signInContext(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	if credentialFree[graphql.GetRootFieldContext(ctx).Field.Name] {
		ctx = viewer.NewPendingContext(viewer.WithoutViewer(ctx))
	}
	return next(ctx)
}

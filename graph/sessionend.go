package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/whisper-health/whisper/internal/apperr"
)

// socketEnd ends every subscription of one websocket with the same clear
// error (token expired, session revoked) before the socket itself closes:
// graphql-transport-ws clients see no close reason, only a close frame, so
// the error is what tells them to refresh or to sign in again.
type socketEnd struct {
	once   sync.Once
	ending chan struct{}
	err    *gqlerror.Error

	mu      sync.Mutex
	closing bool // no subscription joins once set, so subs.Wait is safe
	subs    sync.WaitGroup
}

type socketEndKey struct{}

func newSocketEnd() *socketEnd { return &socketEnd{ending: make(chan struct{})} }

// end sends err to the socket's subscriptions and waits (at most grace)
// for them to deliver it.
func (s *socketEnd) end(cause error, grace time.Duration) {
	s.once.Do(func() {
		s.err = &gqlerror.Error{Message: cause.Error(), Extensions: map[string]any{
			"code":   apperr.Unauthenticated,
			"reason": reasonCode(cause),
		}}
		close(s.ending)
	})
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.subs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
}

// join counts a starting subscription, unless the socket is ending.
func (s *socketEnd) join() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.subs.Add(1)
	return true
}

// reasonCode is the machine-readable form of why a socket ends.
func reasonCode(cause error) string {
	switch cause {
	case errTokenExpired:
		return "TOKEN_EXPIRED"
	case errSessionRevoked:
		return "SESSION_REVOKED"
	case errUserDeactivated:
		return "USER_DEACTIVATED"
	case errPermissionsChanged:
		return "ACCESS_CHANGED"
	}
	return "SHUTTING_DOWN"
}

// sessionEnds is the gqlgen extension that ends a socket's subscriptions
// with its socketEnd's error.
type sessionEnds struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = sessionEnds{}

// ExtensionName implements graphql.HandlerExtension.
func (sessionEnds) ExtensionName() string { return "SessionEnds" }

// Validate implements graphql.HandlerExtension.
func (sessionEnds) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor.
func (sessionEnds) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	se, ok := ctx.Value(socketEndKey{}).(*socketEnd)
	if !ok || !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation != ast.Subscription {
		return next(ctx)
	}
	if !se.join() {
		// The socket is ending: the subscription gets its error and ends.
		sent := false
		return func(context.Context) *graphql.Response {
			if sent {
				return nil
			}
			sent = true
			return &graphql.Response{Errors: gqlerror.List{se.err}}
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-se.ending:
			cancel()
		case <-sctx.Done():
		}
	}()
	h := next(sctx)
	var (
		finished bool
		callCtx  context.Context
	)
	return func(ctx context.Context) *graphql.Response {
		if finished {
			return nil
		}
		if callCtx == nil {
			var stop context.CancelFunc
			callCtx, stop = context.WithCancel(ctx)
			context.AfterFunc(sctx, stop)
		}
		r := h(callCtx)
		if r == nil {
			finished = true
			select {
			case <-se.ending:
				func() {
					defer func() { _ = recover() }() // a transport without subscription errors
					transport.AddSubscriptionError(ctx, se.err)
				}()
			default:
			}
			cancel()
			se.subs.Done()
		}
		return r
	}
}

// Package graph is Whisper's GraphQL edge: resolvers (thin: one ent chain or
// one call into a domain package), error classification, query limits and
// the handler that serves them over HTTP and websockets.
package graph

import (
	"log/slog"

	"github.com/99designs/gqlgen/graphql"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/graph/generated"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/consent"
	"github.com/whisper-health/whisper/internal/directory"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/notify"
	"github.com/whisper-health/whisper/internal/outreach"
	"github.com/whisper-health/whisper/internal/oversight"
	"github.com/whisper-health/whisper/internal/practice"
	"github.com/whisper-health/whisper/internal/settings"
)

// Resolver is the one wiring point of the GraphQL layer.
type Resolver struct {
	Client    *ent.Client
	Auth      *auth.Service
	Messenger *messenger.Service
	Directory *directory.Service
	Live      *live.Hub
	Practice  *practice.Service
	Notify    *notify.Service
	Oversight *oversight.Service
	Outreach  *outreach.Service
	Engine    *outreach.Engine
	Settings  *settings.Service
	Consent   *consent.Service
	Log       *slog.Logger
	// MaxPageSize is the page-size limit (NewHandler sets it from
	// HandlerConfig.MaxPageSize); a list asked for no page returns
	// DefaultPageSize items, or this many when it is smaller.
	MaxPageSize int
}

// NewSchema returns the executable schema over r.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return generated.NewExecutableSchema(generated.Config{Resolvers: r})
}

package rule

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/viewer"
)

// LogPrivilegedUse records every statement c runs in a worker context
// (viewer.NewSystemContext) at debug level, with the reason the context
// names and, through the logger's handler, the id of the request it serves.
// Workers run with full privilege by design; on the request path a worker
// context is the exception that ent/schema/policy.go lists, and this is how
// an operator sees each use. With debug logging off it costs one check.
func LogPrivilegedUse(c *ent.Client, log *slog.Logger) {
	// The message is built only when it is logged: this runs for every
	// statement ent builds.
	record := func(ctx context.Context, what func() string) {
		if v := viewer.FromContext(ctx); Worker.Holds(v) && log.Enabled(ctx, slog.LevelDebug) {
			log.DebugContext(ctx, "privileged "+what(), "reason", v.Reason)
		}
	}
	c.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			record(ctx, func() string {
				return "read of " + strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", q), "*ent."), "Query")
			})
			return next.Query(ctx, q)
		})
	}))
	c.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			record(ctx, func() string { return "write of " + m.Type() })
			return next.Mutate(ctx, m)
		})
	})
}

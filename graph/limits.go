package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/whisper-health/whisper/internal/apperr"
)

// DefaultPageSize is the page a connection returns when first/last is omitted.
const DefaultPageSize = 50

// MaxPageSize is the largest page a connection returns.
const MaxPageSize = 200

// queryLimits rejects hostile queries before they run: too deep, or too
// costly, where a connection's cost is multiplied by the page it asks for
// (first/last, or the default page). gqlgen has no depth limit of its own,
// and its complexity counting does not know our connections.
type queryLimits struct {
	maxDepth      int
	maxComplexity int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = queryLimits{}

// ExtensionName implements graphql.HandlerExtension.
func (queryLimits) ExtensionName() string { return "QueryLimits" }

// Validate implements graphql.HandlerExtension.
func (queryLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (l queryLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := walker{vars: oc.Variables, maxDepth: l.maxDepth}
	cost := w.cost(oc.Operation.SelectionSet, 1)
	if w.tooDeep {
		return limitError(fmt.Sprintf("query is nested too deeply (limit %d)", l.maxDepth))
	}
	if l.maxComplexity > 0 && cost > l.maxComplexity {
		return limitError(fmt.Sprintf("query is too complex (cost %d, limit %d)", cost, l.maxComplexity))
	}
	return nil
}

func limitError(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": apperr.BadUserInput}}
}

type walker struct {
	vars     map[string]any
	maxDepth int
	tooDeep  bool
	seen     int
}

// cost returns the cost of a selection set at a depth. Introspection fields
// are free: whether introspection is allowed at all is a separate switch.
func (w *walker) cost(set ast.SelectionSet, depth int) int {
	total := 0
	for _, sel := range set {
		// A safety valve against fragment bombs: stop counting past a bound.
		if w.seen++; w.seen > 100_000 {
			w.tooDeep = true
			return total
		}
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.Name) > 2 && s.Name[:2] == "__" {
				continue
			}
			if w.maxDepth > 0 && depth > w.maxDepth {
				w.tooDeep = true
				return total
			}
			child := w.cost(s.SelectionSet, depth+1)
			total += 1 + w.multiplier(s)*child
		case *ast.InlineFragment:
			total += w.cost(s.SelectionSet, depth)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				total += w.cost(s.Definition.SelectionSet, depth)
			}
		}
		if total > 1<<30 {
			return total
		}
	}
	return total
}

// listCost is what an unpaginated list (a group's members, say) counts for.
const listCost = 10

// multiplier is the page size a list field asks for: its first or last
// argument, or the default page when it takes one but none was given. Lists
// that cannot be paged count as listCost items; a connection's edges are
// already counted by the connection's page.
func (w *walker) multiplier(f *ast.Field) int {
	if f.Definition == nil {
		return 1
	}
	if t := f.Definition.Type; t.Elem != nil && !strings.HasSuffix(t.Elem.Name(), "Edge") {
		return listCost
	}
	pageable := false
	for _, a := range f.Definition.Arguments {
		if a.Name == "first" || a.Name == "last" {
			pageable = true
		}
	}
	if !pageable {
		return 1
	}
	args := f.ArgumentMap(w.vars)
	n := 0
	for _, name := range []string{"first", "last"} {
		if v, ok := args[name].(int64); ok && int(v) > n {
			n = int(v)
		}
	}
	if n <= 0 {
		n = DefaultPageSize
	}
	return min(n, MaxPageSize)
}

// page clamps a connection's first/last to the page-size bounds; with neither
// given it asks for the default page.
func page(first, last *int) (*int, *int, error) {
	for _, p := range []*int{first, last} {
		if p != nil && *p < 0 {
			return nil, nil, apperr.Invalid("first", "first and last must not be negative")
		}
	}
	clamp := func(p *int) *int {
		if p == nil {
			return nil
		}
		n := min(*p, MaxPageSize)
		return &n
	}
	first, last = clamp(first), clamp(last)
	if first == nil && last == nil {
		n := DefaultPageSize
		first = &n
	}
	return first, last, nil
}

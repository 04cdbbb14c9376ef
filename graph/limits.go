package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
)

// DefaultPageSize is the page a connection returns when first/last is
// omitted (the page-size limit, when that is smaller).
const DefaultPageSize = 50

// DefaultMaxPageSize is the largest first/last a list accepts unless
// HandlerConfig.MaxPageSize (WHISPER_MAX_PAGE_SIZE) says otherwise.
const DefaultMaxPageSize = 100

// queryLimits rejects hostile queries before they run: too deep, asking
// any list for a page (first/last) above the page-size limit, or too
// costly, where a connection's cost is multiplied by the page it asks for
// (first/last, or the default page). gqlgen has no depth limit of its own,
// and its complexity counting does not know our connections. This is the
// one place the page-size limit is enforced, for every field that takes
// first or last, nested ones included.
type queryLimits struct {
	maxDepth      int
	maxComplexity int
	maxPage       int
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
	w := walker{vars: oc.Variables, maxDepth: l.maxDepth, maxPage: l.maxPage}
	cost := w.cost(oc.Operation.SelectionSet, 1)
	if w.tooDeep {
		return limitError(fmt.Sprintf("query is nested too deeply (limit %d)", l.maxDepth))
	}
	if w.tooLarge != nil {
		return w.tooLarge
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
	maxPage  int
	tooDeep  bool
	tooLarge *gqlerror.Error // the first page above maxPage
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
		v, ok := args[name].(int64)
		if !ok {
			continue
		}
		if v > int64(w.maxPage) && w.tooLarge == nil {
			w.tooLarge = &gqlerror.Error{
				Message: fmt.Sprintf("%s.%s: %d is more than the page-size limit of %d; page with after/before",
					f.Name, name, v, w.maxPage),
				Extensions: map[string]any{"code": apperr.BadUserInput, "reason": "PAGE_TOO_LARGE"},
			}
		}
		if int(v) > n {
			n = int(v)
		}
	}
	if n <= 0 {
		n = DefaultPageSize
	}
	return min(n, w.maxPage)
}

// pageArgs are a list's page arguments, checked and decoded.
type pageArgs struct {
	first, last   *int
	after, before *ent.Cursor
}

// page checks a connection's first/last (queryLimits has refused pages
// above the limit before any resolver ran; with neither given it asks for
// the default page) and decodes its after/before (cursorArgs).
func (r *Resolver) page(first *int, after *string, last *int, before *string) (pageArgs, error) {
	for _, p := range []*int{first, last} {
		if p != nil && *p < 0 {
			return pageArgs{}, apperr.Invalid("first", "first and last must not be negative")
		}
	}
	if first == nil && last == nil {
		n := r.defaultPage()
		first = &n
	}
	a, b, err := cursorArgs(after, before)
	return pageArgs{first: first, last: last, after: a, before: b}, err
}

// defaultPage is the page a list returns when asked for none.
func (r *Resolver) defaultPage() int {
	if r.MaxPageSize > 0 {
		return min(DefaultPageSize, r.MaxPageSize)
	}
	return DefaultPageSize
}

// cursorArgs decodes a connection's after and before: cursors the same
// list returned (an edge's cursor, pageInfo's startCursor or endCursor).
// They are Strings in the schema, as SPEC §7 names them; anything else is
// BAD_USER_INPUT naming the argument.
func cursorArgs(after, before *string) (*ent.Cursor, *ent.Cursor, error) {
	decode := func(arg string, s *string) (*ent.Cursor, error) {
		if s == nil {
			return nil, nil
		}
		var c ent.Cursor
		if err := c.UnmarshalGQL(*s); err != nil {
			return nil, apperr.Invalid(arg, "%s must be a cursor this list returned", arg)
		}
		return &c, nil
	}
	a, err := decode("after", after)
	if err != nil {
		return nil, nil, err
	}
	b, err := decode("before", before)
	return a, b, err
}

// messageCursor decodes a messages(after:/before:) argument: a message's
// cursor (Message.cursor, which is its edge cursor) of that channel.
func (r *Resolver) messageCursor(ctx context.Context, channelID pulid.ID, arg string, s *string) (*ent.Cursor, error) {
	if s == nil {
		return nil, nil
	}
	m, err := r.Messenger.Position(ctx, arg, *s)
	if err != nil {
		return nil, err
	}
	if m.ChannelID != channelID {
		return nil, apperr.Invalid(arg, "%s is the cursor of a message in another channel", arg)
	}
	c := messenger.PageCursor(m)
	return &c, nil
}

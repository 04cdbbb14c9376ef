package graph

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

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

// Validation compares every two fields that share a response name, and
// reports each pair that differs in field or arguments as its own error: 450
// un-aliased users(first: i) fields, 15 KB, make 101,000 errors, a 23 MB
// response and 1.6 s of CPU. A valid document has no such pairs outside
// fragments on different types, so a document is refused when the fields
// that would be merged under one response name hold more than
// maxConflictingPairs pairs that differ (a conflicting pair costs about 20 µs
// to report). Expanding fragment spreads for the count visits at most
// expansionFactor times the selection limit.
const (
	maxConflictingPairs = 100
	expansionFactor     = 10
)

// maxValidationErrors bounds the errors one document's validation reports,
// as graphql-js does: a document within the limits can still hold a few
// thousand mistakes (4,900 unknown arguments), each an error to build and
// encode.
const maxValidationErrors = 100

// cappedRules is gqlparser's default rule set, each rule reporting through
// one count that stops at maxValidationErrors (gqlgen calls it once per
// validation). gqlgen swaps FieldsOnCorrectType and ScalarLeafs for its own
// afterwards; they report at most one error per selection.
func cappedRules() *rules.Rules {
	n := 0
	capped := rules.NewRules()
	for name, rule := range rules.NewDefaultRules().GetInner() {
		capped.AddRule(name, func(o *core.Events, addError core.AddErrFunc) {
			rule(o, func(opts ...core.ErrorOption) {
				switch n++; {
				case n <= maxValidationErrors:
					addError(opts...)
				case n == maxValidationErrors+1:
					addError(core.Message("too many validation errors: the first %d are listed", maxValidationErrors))
				}
			})
		})
	}
	return capped
}

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
	// passed holds the SHA-256 of the most recent documents these limits
	// passed (they depend on the text alone): a client sends the same few
	// documents again and again, and each is parsed and counted here once
	// rather than on every request (gqlgen's own query cache spares it
	// only its second parse).
	passed *lru.LRU[struct{}]
}

// passedDocuments is how many passed documents documentLimits remembers.
const passedDocuments = 1000

// newDocumentLimits returns the limits, remembering what they passed.
func newDocumentLimits(tokens, selections, aliases, spreads int) documentLimits {
	return documentLimits{tokens: tokens, selections: selections, aliases: aliases, spreads: spreads, passed: lru.New[struct{}](passedDocuments)}
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
// it runs before gqlgen parses and validates the document (but for a
// document it passed recently). Parsing is linear and bounded by the token
// limit; a document that does not parse is left to gqlgen to report.
func (l documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Query == "" {
		return nil
	}
	var key string
	if l.passed != nil {
		sum := sha256.Sum256([]byte(p.Query))
		key = string(sum[:])
		if _, ok := l.passed.Get(ctx, key); ok {
			return nil
		}
	}
	parsed, err := l.check(p.Query)
	if err != nil {
		return err
	}
	if parsed && l.passed != nil {
		l.passed.Add(ctx, key, struct{}{})
	}
	return nil
}

// check counts query's selections, aliases and fragment spreads and checks
// how its fields merge: an error when it is over the limits; parsed is
// false when it does not parse (gqlgen reports that).
func (l documentLimits) check(query string) (parsed bool, _ *gqlerror.Error) {
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, l.tokens)
	if err != nil {
		return false, nil
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
		return true, documentError(fmt.Sprintf("document has too many selections (%d, limit %d)", c.selections, l.selections))
	case c.aliases > l.aliases:
		return true, documentError(fmt.Sprintf("document has too many aliases (%d, limit %d)", c.aliases, l.aliases))
	case c.spreads > l.spreads:
		return true, documentError(fmt.Sprintf("document has too many fragment spreads (%d, limit %d)", c.spreads, l.spreads))
	}
	return true, mergeCheck(doc, expansionFactor*l.selections)
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

// mergeCheck walks each operation and fragment of doc as validation merges
// it: the fields under one response name, through inline fragments and
// fragment spreads, form a group, and the groups' sub-selections merge in
// turn. It refuses the document when the groups hold more than
// maxConflictingPairs pairs of fields that differ in name or arguments, or
// when expanding its fragments visits more than budget selections.
func mergeCheck(doc *ast.QueryDocument, budget int) *gqlerror.Error {
	m := merger{fragments: map[string]*ast.FragmentDefinition{}, budget: budget}
	for _, f := range doc.Fragments {
		m.fragments[f.Name] = f
	}
	for _, op := range doc.Operations {
		m.merge([]ast.SelectionSet{op.SelectionSet})
	}
	for _, f := range doc.Fragments {
		m.merge([]ast.SelectionSet{f.SelectionSet})
	}
	switch {
	case m.budget < 0:
		return documentError(fmt.Sprintf("document's fragments expand to too many selections (limit %d)", budget))
	case m.pairs > maxConflictingPairs:
		return documentError(fmt.Sprintf("document has too many differing fields under one response name (%d pairs, limit %d)", m.pairs, maxConflictingPairs))
	}
	return nil
}

// merger is the state of mergeCheck.
type merger struct {
	fragments map[string]*ast.FragmentDefinition
	budget    int // selections still to visit
	pairs     int // pairs of differing fields under one response name
}

// group is the fields merged under one response name.
type group struct {
	n        int
	variants map[string]int // by field name and arguments
	subs     []ast.SelectionSet
}

// merge groups the fields of sets by response name, counts each group's
// differing pairs, and merges each group's sub-selections.
func (m *merger) merge(sets []ast.SelectionSet) {
	groups := map[string]*group{}
	var order []string
	var collect func(set ast.SelectionSet, spread map[string]bool)
	collect = func(set ast.SelectionSet, spread map[string]bool) {
		for _, sel := range set {
			if m.budget--; m.budget < 0 || m.pairs > maxConflictingPairs {
				return
			}
			switch s := sel.(type) {
			case *ast.Field:
				name := s.Alias
				if name == "" {
					name = s.Name
				}
				g := groups[name]
				if g == nil {
					g = &group{variants: map[string]int{}}
					groups[name] = g
					order = append(order, name)
				}
				g.n++
				g.variants[variant(s)]++
				if len(s.SelectionSet) > 0 {
					g.subs = append(g.subs, s.SelectionSet)
				}
			case *ast.InlineFragment:
				collect(s.SelectionSet, spread)
			case *ast.FragmentSpread:
				// A fragment already being expanded is a cycle, which
				// validation reports.
				if f := m.fragments[s.Name]; f != nil && !spread[s.Name] {
					spread[s.Name] = true
					collect(f.SelectionSet, spread)
					delete(spread, s.Name)
				}
			}
		}
	}
	for _, set := range sets {
		collect(set, map[string]bool{})
	}
	for _, name := range order {
		g := groups[name]
		same := 0
		for _, v := range g.variants {
			same += v * v
		}
		m.pairs += (g.n*g.n - same) / 2
	}
	for _, name := range order {
		if m.budget < 0 || m.pairs > maxConflictingPairs {
			return
		}
		if g := groups[name]; len(g.subs) > 0 {
			m.merge(g.subs)
		}
	}
}

// variant is a field's name and arguments as written: two fields under one
// response name that differ in it do not merge.
func variant(f *ast.Field) string {
	var b strings.Builder
	b.WriteString(f.Name)
	for _, a := range f.Arguments {
		b.WriteString(" ")
		b.WriteString(a.Name)
		b.WriteString(":")
		b.WriteString(a.Value.String())
	}
	return b.String()
}

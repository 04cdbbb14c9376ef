package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// nodeFields returns the names of the fields the operation selects on the
// nodes (edges.node and nodes) of the connection the current resolver
// returns, so a list page can load what its rows' resolvers need in one
// statement for the whole page. typeName is the node's GraphQL type.
func nodeFields(ctx context.Context, typeName string) map[string]bool {
	out := map[string]bool{}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return out
	}
	op := graphql.GetOperationContext(ctx)
	node := []string{typeName, "Node"}
	collect := func(f graphql.CollectedField) {
		for _, n := range graphql.CollectFields(op, f.Selections, node) {
			out[n.Name] = true
		}
	}
	for _, f := range graphql.CollectFields(op, fc.Field.Selections, []string{typeName + "Connection"}) {
		switch f.Name {
		case "edges":
			for _, e := range graphql.CollectFields(op, f.Selections, []string{typeName + "Edge"}) {
				if e.Name == "node" {
					collect(e)
				}
			}
		case "nodes":
			collect(f)
		}
	}
	return out
}

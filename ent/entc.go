//go:build ignore

// Command entc generates the ent client and the ent.graphql schema from
// ent/schema. It runs from the repository root through go generate.
package main

import (
	"log"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("ent.graphql"),
		entgql.WithSchemaHook(nonNullLists, staffDetailsNullable, stringCursorArgs, dropUnusedOrders),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	templates := append(entgql.AllTemplates,
		gen.MustParse(gen.NewTemplate("pulid").ParseFiles("ent/template/pulid.tmpl")))
	err = entc.Generate("./ent/schema", &gen.Config{
		Package:   "github.com/whisper-health/whisper/ent",
		Target:    "ent",
		Templates: templates,
		Features: []gen.Feature{
			gen.FeaturePrivacy,
			gen.FeatureEntQL,
			gen.FeatureUpsert,
			gen.FeatureLock,
			gen.FeatureModifier,
			gen.FeatureIntercept,
			gen.FeatureExecQuery,
		},
	}, entc.Extensions(ex))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// nonNullLists makes every list-of-entities field non-null ([T!] becomes
// [T!]!), because an edge with no rows is an empty list, never null; the
// contract of SPEC §7 (User.securityGroups, Channel.members, …) says so.
func nonNullLists(_ *gen.Graph, s *ast.Schema) error {
	for _, def := range s.Types {
		if def.Kind != ast.Object {
			continue
		}
		for _, f := range def.Fields {
			if t := f.Type; t.Elem != nil && !t.NonNull && t.Elem.NonNull {
				t.NonNull = true
			}
		}
	}
	return nil
}

// staffDetailsNullable makes User.email nullable: a portal patient reads the
// staff who write to them by name and job title only, and a field they may
// not read resolves to null rather than voiding the surrounding result
// (SPEC §12). Staff and integrators always get a value.
func staffDetailsNullable(_ *gen.Graph, s *ast.Schema) error {
	if u := s.Types["User"]; u != nil {
		if f := u.Fields.ForName("email"); f != nil {
			f.Type.NonNull = false
		}
	}
	return nil
}

// stringCursorArgs declares the after/before arguments of the generated
// connection fields (Label.messages) as String, like every connection of
// schema.graphql: SPEC §7 names them String, so a client's `$after: String`
// variable fits every list. The values are the cursors the connections
// return; the resolvers decode them.
func stringCursorArgs(_ *gen.Graph, s *ast.Schema) error {
	for _, def := range s.Types {
		for _, f := range def.Fields {
			for _, a := range f.Arguments {
				if (a.Name == "after" || a.Name == "before") && a.Type.Name() == "Cursor" && a.Type.Elem == nil {
					a.Type = ast.NamedType("String", nil)
				}
			}
		}
	}
	return nil
}

// dropUnusedOrders leaves out of ent.graphql the ordering inputs entgql
// generates for every connection type (UserOrder, its UserOrderField enum,
// OrderDirection) that no argument takes: the lists of schema.graphql have
// a fixed order, and an input type nothing accepts only misleads a client
// developer reading the schema. The Go types stay (the resolvers order with
// them).
func dropUnusedOrders(_ *gen.Graph, s *ast.Schema) error {
	orderType := func(def *ast.Definition) bool {
		switch def.Kind {
		case ast.InputObject:
			return strings.HasSuffix(def.Name, "Order")
		case ast.Enum:
			return strings.HasSuffix(def.Name, "OrderField") || def.Name == "OrderDirection"
		}
		return false
	}
	for {
		used := map[string]bool{}
		for _, def := range s.Types {
			for _, f := range def.Fields {
				if f.Type.Name() != def.Name {
					used[f.Type.Name()] = true
				}
				for _, a := range f.Arguments {
					used[a.Type.Name()] = true
				}
			}
		}
		dropped := false
		for name, def := range s.Types {
			if orderType(def) && !used[name] {
				delete(s.Types, name)
				dropped = true
			}
		}
		if !dropped {
			return nil
		}
	}
}

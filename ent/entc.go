//go:build ignore

// Command entc generates the ent client and the ent.graphql schema from
// ent/schema. It runs from the repository root through go generate.
package main

import (
	"log"

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
		entgql.WithSchemaHook(nonNullLists, staffDetailsNullable),
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

package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/whisper-health/whisper/internal/pulid"
)

// SecurityGroup is a named set of users carrying permissions; every security
// group also has a GROUP channel whose membership follows it.
type SecurityGroup struct {
	ent.Schema
}

// Mixin of the SecurityGroup.
func (SecurityGroup) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("sg"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the SecurityGroup.
func (SecurityGroup) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").
			NotEmpty().
			MaxLen(200).
			Unique(),
		field.Strings("permissions").
			Optional().
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the SecurityGroup.
func (SecurityGroup) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("members", User.Type).Ref("security_groups"),
		edge.From("custom_group_channels", Channel.Type).
			Ref("custom_groups").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

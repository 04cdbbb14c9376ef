package pulid

import (
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// Mixin gives an ent schema an ID field with the given prefix.
type Mixin struct {
	mixin.Schema
	prefix string
}

// MixinWithPrefix returns the id mixin for one entity type.
func MixinWithPrefix(prefix string) Mixin { return Mixin{prefix: prefix} }

// Fields provides the id field.
func (m Mixin) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").
			GoType(ID("")).
			MaxLen(Len).
			Immutable().
			DefaultFunc(func() ID { return New(m.prefix) }),
	}
}

// Annotation records the prefix so code generation can map ids to tables.
type Annotation struct {
	Prefix string
}

// Name implements schema.Annotation.
func (Annotation) Name() string { return "PULID" }

// Annotations returns the prefix annotation.
func (m Mixin) Annotations() []schema.Annotation {
	return []schema.Annotation{Annotation{Prefix: m.prefix}}
}

// Package schema is Whisper's data model: one ent schema per entity, with the
// privacy policy that decides who may read and write each row.
package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
)

// TimeMixin records when a row was created and last updated, always in UTC.
type TimeMixin struct {
	mixin.Schema
}

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").
			Default(now).
			Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").
			Default(now).
			UpdateDefault(now).
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// now is the default for timestamps: UTC so both databases store the same.
func now() time.Time { return time.Now().UTC() }

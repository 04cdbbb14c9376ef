package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/whisper-health/whisper/internal/pulid"
)

// AutoReplySent records that a user's auto-reply answered in a channel on a
// day; its unique key is what makes it "at most once per conversation per
// day", even with concurrent senders on several replicas.
type AutoReplySent struct {
	ent.Schema
}

// Mixin of the AutoReplySent.
func (AutoReplySent) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ar"), PrivacyMixin{}}
}

// Fields of the AutoReplySent.
func (AutoReplySent) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(pulid.ID("")).Immutable(),
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.String("day").MaxLen(10).Immutable().Comment("YYYY-MM-DD, UTC"),
		field.Time("created_at").Default(now).Immutable(),
	}
}

// Indexes of the AutoReplySent.
func (AutoReplySent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("channel_id", "user_id", "day").Unique()}
}

// Annotations of the AutoReplySent.
func (AutoReplySent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

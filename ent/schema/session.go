package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/whisper-health/whisper/internal/pulid"
)

// Session is one sign-in: it holds the hash of the current refresh token and
// its generation, so a replayed older token is recognised and revokes it.
type Session struct {
	ent.Schema
}

// Mixin of the Session.
func (Session) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("se"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the Session.
func (Session) Fields() []ent.Field {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Immutable().Annotations(skip),
		field.String("refresh_hash").Sensitive().Annotations(skip),
		field.Int("refresh_generation").Default(0).Annotations(skip),
		field.Time("expires_at"),
		field.Time("last_used_at"),
		field.Time("revoked_at").Optional().Nillable(),
		field.String("revoked_reason").Optional().Annotations(skip),
		field.String("user_agent").Optional().MaxLen(512),
		field.String("ip_address").Optional().MaxLen(64),
	}
}

// Edges of the Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("sessions").
			Field("user_id").
			Unique().
			Required().
			Immutable(),
	}
}

// Indexes of the Session.
func (Session) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "revoked_at")}
}

// Annotations of the Session.
func (Session) Annotations() []schema.Annotation {
	return nil
}

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

// PatientSession is one portal sign-in of a patient, kept apart from staff
// sessions (whose rows belong to a user): the hash of its current refresh
// token and its generation, so a replayed older token is recognised and
// revokes it, exactly as for staff.
type PatientSession struct {
	ent.Schema
}

// Mixin of the PatientSession.
func (PatientSession) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ps"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the PatientSession.
func (PatientSession) Fields() []ent.Field {
	return []ent.Field{
		field.String("patient_id").GoType(pulid.ID("")).Immutable(),
		field.String("refresh_hash").Sensitive(),
		field.Int("refresh_generation").Default(0),
		field.Time("expires_at"),
		field.Time("last_used_at"),
		field.Time("revoked_at").Optional().Nillable(),
		field.String("revoked_reason").Optional(),
		field.String("user_agent").Optional().MaxLen(512),
		field.String("ip_address").Optional().MaxLen(64),
	}
}

// Edges of the PatientSession.
func (PatientSession) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("patient", Patient.Type).Field("patient_id").Unique().Required().Immutable(),
	}
}

// Indexes of the PatientSession.
func (PatientSession) Indexes() []ent.Index {
	return []ent.Index{index.Fields("patient_id", "revoked_at")}
}

// Annotations of the PatientSession.
func (PatientSession) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

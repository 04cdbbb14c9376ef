package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/whisper-health/whisper/internal/trail"

	"github.com/whisper-health/whisper/internal/pulid"
)

// Patient is a person the practice cares for. The practice-management system
// owns patients and pushes them here keyed by its own external id.
type Patient struct {
	ent.Schema
}

// Mixin of the Patient.
func (Patient) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pa"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the Patient.
func (Patient) Fields() []ent.Field {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("external_id").Optional().Nillable().Unique().MaxLen(200).Annotations(skip),
		field.String("patient_number").NotEmpty().MaxLen(64).Unique(),
		field.String("first_name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("FIRST_NAME")),
		field.String("last_name").NotEmpty().MaxLen(200).Annotations(entgql.OrderField("LAST_NAME")),
		field.String("birth_date").Optional().Nillable().MaxLen(10).Comment("YYYY-MM-DD"),
		field.String("mobile").Optional().Nillable().MaxLen(32),
		field.String("email").Optional().Nillable().MaxLen(320),
		field.String("address_line1").Optional().Nillable().MaxLen(200),
		field.String("address_line2").Optional().Nillable().MaxLen(200),
		field.String("city").Optional().Nillable().MaxLen(100),
		field.String("region").Optional().Nillable().MaxLen(100),
		field.String("postcode").Optional().Nillable().MaxLen(20),
		field.String("gp_name").Optional().Nillable().MaxLen(200),
		field.String("gp_practice").Optional().Nillable().MaxLen(200),
		field.String("gp_address").Optional().Nillable().MaxLen(500),
		field.String("gp_email").Optional().Nillable().MaxLen(320),
		field.String("portal_password_hash").Optional().Sensitive().Annotations(skip),
		field.Int64("source_version").Default(0).Annotations(skip).
			Comment("the integrator's version of the record; an older push changes nothing"),
	}
}

// Edges of the Patient.
func (Patient) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("bookings", Booking.Type).Annotations(entgql.Skip(entgql.SkipAll)),
		// The messages that link this patient (many-to-many: a patient is
		// discussed in any number of messages). The join table is
		// message_patients; internal/store indexes it by patient.
		edge.From("messages", Message.Type).Ref("patients").Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Patient.
func (Patient) Indexes() []ent.Index {
	return []ent.Index{index.Fields("last_name", "first_name")}
}

// Interceptors of the Patient: every patient record a staff member reads is
// recorded in the access log (see trail.AuditPatientReads).
func (Patient) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{trail.AuditPatientReads()}
}

// Annotations of the Patient.
func (Patient) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

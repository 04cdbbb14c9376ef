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

// BookingType is a kind of appointment (e.g. standard consult, recall visit).
type BookingType struct {
	ent.Schema
}

// Mixin of the BookingType.
func (BookingType) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("bt"), TimeMixin{}, PrivacyMixin{}}
}

// Edges of the BookingType.
func (BookingType) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("completes_programs", Program.Type).Ref("completing_booking_types").
			Comment("programs (with SELECTED completion) whose cycle a booking of this type completes"),
	}
}

// Fields of the BookingType.
func (BookingType) Fields() []ent.Field {
	return []ent.Field{
		field.String("external_id").Optional().Nillable().Unique().MaxLen(200).
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("name").NotEmpty().MaxLen(200),
		field.Int("duration_minutes").Default(15).Positive(),
		field.Int64("source_version").Default(0).Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Booking is an appointment of a patient with a doctor.
type Booking struct {
	ent.Schema
}

// Mixin of the Booking.
func (Booking) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("bk"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the Booking.
func (Booking) Fields() []ent.Field {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("external_id").Optional().Nillable().Unique().MaxLen(200).Annotations(skip),
		field.String("patient_id").GoType(pulid.ID("")).Annotations(skip),
		field.String("doctor_id").GoType(pulid.ID("")).Annotations(skip),
		field.String("booking_type_id").GoType(pulid.ID("")).Optional().Nillable().Annotations(skip),
		field.Time("starts_at").Annotations(entgql.OrderField("STARTS_AT")),
		field.Enum("status").
			NamedValues(
				"Proposed", "PROPOSED", "Pending", "PENDING", "Booked", "BOOKED",
				"Arrived", "ARRIVED", "Fulfilled", "FULFILLED", "Cancelled", "CANCELLED",
				"Noshow", "NOSHOW", "CheckedIn", "CHECKED_IN", "Waitlist", "WAITLIST",
				"EnteredInError", "ENTERED_IN_ERROR",
			).
			Default("BOOKED").
			Annotations(entgql.Type("BookingStatus")),
		field.Int64("source_version").Default(0).Annotations(skip).
			Comment("the integrator's version of the record; an older push changes nothing"),
	}
}

// Edges of the Booking.
func (Booking) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("patient", Patient.Type).Ref("bookings").Field("patient_id").Unique().Required(),
		edge.To("doctor", User.Type).Field("doctor_id").Unique().Required(),
		edge.To("booking_type", BookingType.Type).Field("booking_type_id").Unique(),
		edge.To("status_changes", BookingStatusChange.Type),
	}
}

// Indexes of the Booking.
func (Booking) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("doctor_id", "starts_at"),
		index.Fields("patient_id", "starts_at"),
	}
}

// Annotations of the Booking.
func (Booking) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/whisper-health/whisper/internal/pulid"
)

// Notification is one item in one user's message-board folder (SPEC §3):
// an arrival, a lab report, a reminder… Sending to several users or groups
// writes one row per recipient, so each acknowledges their own.
type Notification struct {
	ent.Schema
}

// Mixin of the Notification.
func (Notification) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("nt"), PrivacyMixin{}}
}

// Fields of the Notification.
func (Notification) Fields() []ent.Field {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.Enum("kind").
			Values("ARRIVAL", "SCHEDULE", "ERX", "REMINDER", "SIGNATURE_REQUEST", "ANNOUNCEMENT",
				"PATIENT_PORTAL", "COMPLIANCE", "LAB_REPORT", "CLOUD_COMMUNICATION").
			Immutable().
			Annotations(entgql.Type("NotificationKind")),
		field.String("recipient_id").GoType(pulid.ID("")).Immutable().Annotations(skip),
		field.String("title").NotEmpty().MaxLen(300).Immutable(),
		field.Text("body").Optional().Nillable().Immutable(),
		field.String("patient_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(skip),
		field.String("booking_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(skip),
		field.String("from_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(skip),
		field.Time("due_at").Optional().Nillable().Immutable(),
		field.Time("deliver_at").Immutable().Annotations(skip).
			Comment("when it appears: now, or a reminder's due time"),
		field.Time("acknowledged_at").Optional().Nillable(),
		field.Time("announced_at").Optional().Nillable().Annotations(skip).
			Comment("when it was announced live; a replica claims a due reminder by setting it, so it is announced once"),
		field.String("dedupe_key").Optional().Nillable().MaxLen(200).Immutable().Annotations(skip).
			Comment("with the recipient, unique: an arrival notifies once however often it is pushed"),
		field.Time("created_at").Default(now).Immutable().Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the Notification.
func (Notification) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("recipient", User.Type).Field("recipient_id").Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("patient", Patient.Type).Field("patient_id").Unique().Immutable(),
		edge.To("booking", Booking.Type).Field("booking_id").Unique().Immutable(),
		edge.To("from", User.Type).Field("from_id").Unique().Immutable(),
	}
}

// Indexes of the Notification.
func (Notification) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("recipient_id", "acknowledged_at", "deliver_at"),
		index.Fields("recipient_id", "dedupe_key").Unique(),
		index.Fields("created_at"),
		index.Fields("from_id", "created_at"),
		index.Fields("patient_id", "created_at"),
		// The reminders worker's scan: due and not yet announced.
		index.Fields("deliver_at").Annotations(entsql.IndexWhere("announced_at IS NULL")),
	}
}

// Annotations of the Notification.
func (Notification) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// BookingStatusChange records who changed a booking's status, and when.
type BookingStatusChange struct {
	ent.Schema
}

// Mixin of the BookingStatusChange.
func (BookingStatusChange) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("bs"), PrivacyMixin{}}
}

// Fields of the BookingStatusChange.
func (BookingStatusChange) Fields() []ent.Field {
	statuses := []string{"PROPOSED", "PENDING", "BOOKED", "ARRIVED", "FULFILLED", "CANCELLED",
		"NOSHOW", "CHECKED_IN", "WAITLIST", "ENTERED_IN_ERROR"}
	return []ent.Field{
		field.String("booking_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("from_status").Values(statuses...).Optional().Nillable().Immutable().
			Annotations(entgql.Type("BookingStatus")),
		field.Enum("to_status").Values(statuses...).Immutable().
			Annotations(entgql.Type("BookingStatus")),
		field.String("changed_by_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("changed_at").Default(now).Immutable(),
	}
}

// Edges of the BookingStatusChange.
func (BookingStatusChange) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("booking", Booking.Type).Ref("status_changes").Field("booking_id").Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("changed_by", User.Type).Field("changed_by_id").Unique().Immutable(),
	}
}

// Referral is a referral of a patient, pushed by the practice system.
type Referral struct {
	ent.Schema
}

// Mixin of the Referral.
func (Referral) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("rf"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the Referral.
func (Referral) Fields() []ent.Field {
	return []ent.Field{
		field.String("external_id").NotEmpty().MaxLen(200).Unique().Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("patient_id").GoType(pulid.ID("")).Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("referral_date"),
		field.String("referrer").Optional().MaxLen(300),
		field.String("reason").Optional().MaxLen(1000),
		field.Int64("source_version").Default(0).Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Edges of the Referral.
func (Referral) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("patient", Patient.Type).Field("patient_id").Unique().Required(),
	}
}

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

// AccessLogEntry records that someone opened a patient-linked conversation
// or a patient record, observed a user, or searched the audit log (HIPAA
// audit control). Rows are only ever appended.
type AccessLogEntry struct {
	ent.Schema
}

// Mixin of the AccessLogEntry.
func (AccessLogEntry) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("al"), PrivacyMixin{}}
}

// Fields of the AccessLogEntry.
func (AccessLogEntry) Fields() []ent.Field {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.Enum("action").
			Values("OPEN_PATIENT_CONVERSATION", "VIEW_PATIENT", "OBSERVE_USER", "AUDIT_SEARCH").
			Immutable().
			Annotations(entgql.Type("AccessAction")),
		field.String("actor_id").GoType(pulid.ID("")).Immutable().Annotations(skip),
		field.String("patient_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(skip),
		field.String("channel_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(skip),
		field.String("subject_user_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(skip),
		field.Time("at").Default(now).Immutable().Annotations(entgql.OrderField("AT")),
	}
}

// Edges of the AccessLogEntry.
func (AccessLogEntry) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("actor", User.Type).Field("actor_id").Unique().Required().Immutable(),
		edge.To("patient", Patient.Type).Field("patient_id").Unique().Immutable(),
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Immutable(),
		edge.To("subject_user", User.Type).Field("subject_user_id").Unique().Immutable(),
	}
}

// Indexes of the AccessLogEntry.
func (AccessLogEntry) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("at"),
		index.Fields("patient_id", "at"),
		index.Fields("actor_id", "at"),
	}
}

// Annotations of the AccessLogEntry.
func (AccessLogEntry) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Hooks of the AccessLogEntry: the log is append-only for every viewer,
// background workers included — an update or delete is refused before the
// privacy policy is even asked.
func (AccessLogEntry) Hooks() []ent.Hook {
	return []ent.Hook{trail.AppendOnly()}
}

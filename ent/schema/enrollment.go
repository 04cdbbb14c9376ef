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

// Enrollment is a patient's way through a program: which cycle, which
// action is next and when it is due.
type Enrollment struct {
	ent.Schema
}

// Mixin of the Enrollment.
func (Enrollment) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("en"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the Enrollment.
func (Enrollment) Fields() []ent.Field {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("program_id").GoType(pulid.ID("")).Immutable().Annotations(skip),
		field.String("patient_id").GoType(pulid.ID("")).Immutable().Annotations(skip),
		field.Enum("status").Values("ACTIVE", "PAUSED", "COMPLETED", "CANCELLED").Default("ACTIVE").
			Annotations(entgql.Type("EnrollmentStatus")),
		field.Bool("flagged").Default(false).Comment("an action failed with pause on error: needs follow-up"),
		field.Int("cycle").Default(1).Positive(),
		field.Time("reference_date"),
		field.Time("origin_date").Optional().Nillable().Immutable().Annotations(skip).
			Comment("cycle 1's reference date: cycle k counts from it (k-1 frequencies on), so months never drift"),
		field.String("next_action_id").GoType(pulid.ID("")).Optional().Nillable().Annotations(skip).
			Comment("the action due next, by identity: reordering or editing the program never repeats or loses one"),
		field.Int("answered_cycle").Default(0).NonNegative().Annotations(skip).
			Comment("the last cycle a qualifying booking completed or answered"),
		field.Time("next_due_at").Optional().Nillable().Annotations(skip).
			Comment("when the next action is due; null while waiting at a pause or when finished"),
	}
}

// Edges of the Enrollment.
func (Enrollment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("program", Program.Type).Field("program_id").Unique().Required().Immutable(),
		edge.To("patient", Patient.Type).Field("patient_id").Unique().Required().Immutable(),
		edge.To("steps", EnrollmentStep.Type).Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Enrollment.
func (Enrollment) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "next_due_at"),
		index.Fields("patient_id"),
		index.Fields("program_id"),
	}
}

// Annotations of the Enrollment.
func (Enrollment) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// EnrollmentStep records one action of one cycle for one enrolment:
// scheduled, then sent, failed (with the reason), skipped or waiting, and a
// patient's reply.
type EnrollmentStep struct {
	ent.Schema
}

// Mixin of the EnrollmentStep.
func (EnrollmentStep) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("es"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the EnrollmentStep.
func (EnrollmentStep) Fields() []ent.Field {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("enrollment_id").GoType(pulid.ID("")).Immutable().Annotations(skip),
		field.String("action_id").GoType(pulid.ID("")).Immutable().Annotations(skip),
		field.Int("cycle").Immutable(),
		field.Enum("status").Values("SCHEDULED", "SENT", "FAILED", "SKIPPED", "WAITING").Default("SCHEDULED").
			Annotations(entgql.Type("StepStatus")),
		field.Time("scheduled_at"),
		field.Time("executed_at").Optional().Nillable(),
		field.String("error").Optional().Nillable().MaxLen(1000),
		field.String("skip_reason").Optional().Nillable().MaxLen(40).
			Comment("why a SKIPPED step was not sent, as a code: OPTED_OUT (the patient opted out of the channel)"),
		field.Text("reply_content").Optional().Nillable(),
		field.String("last_reply_sid").Optional().Nillable().MaxLen(100).Annotations(skip).
			Comment("the provider's id of the last reply stored: a webhook delivered again is stored once"),
		field.String("outbox_id").GoType(pulid.ID("")).Optional().Nillable().Annotations(skip),
	}
}

// Edges of the EnrollmentStep.
func (EnrollmentStep) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("enrollment", Enrollment.Type).Ref("steps").Field("enrollment_id").Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("action", ProgramAction.Type).Field("action_id").Unique().Required().Immutable(),
	}
}

// Indexes of the EnrollmentStep.
func (EnrollmentStep) Indexes() []ent.Index {
	return []ent.Index{index.Fields("enrollment_id", "cycle", "action_id").Unique()}
}

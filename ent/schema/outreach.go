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

// Patient Connect (SPEC §6): templates, programs and their ordered actions.
// The GraphQL surface and the engine that runs them are built on these.

// Template is the text of an SMS, an email or a letter, with placeholders.
type Template struct {
	ent.Schema
}

// Mixin of the Template.
func (Template) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("tp"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the Template.
func (Template) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("SMS", "EMAIL", "LETTER").Immutable().Annotations(entgql.Type("TemplateKind")),
		field.String("name").NotEmpty().MaxLen(200),
		field.String("subject").Optional().Nillable().MaxLen(300),
		field.Text("body").NotEmpty(),
	}
}

// Annotations of the Template.
func (Template) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Program is an outreach program: what is sent to an enrolled patient, when.
type Program struct {
	ent.Schema
}

// Mixin of the Program.
func (Program) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pg"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the Program.
func (Program) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200),
		field.Enum("type").Values("GENERAL", "RECALL", "PROGRAM", "BOOKING", "REFERRAL").Immutable().
			Annotations(entgql.Type("ProgramType")),
		field.Int("cycles").Default(1).Positive(),
		field.Int("frequency_every").Optional().Nillable().Positive().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("frequency_unit").Values("DAYS", "WEEKS", "MONTHS").Optional().Nillable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("completion").Values("IGNORE", "ANY", "SELECTED").Default("IGNORE").
			Annotations(entgql.Type("CycleCompletion")),
		field.Bool("enabled").Default(false),
	}
}

// Edges of the Program.
func (Program) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("actions", ProgramAction.Type).Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("completing_booking_types", BookingType.Type).
			Comment("with completion SELECTED: a booking of one of these types completes the cycle"),
	}
}

// Annotations of the Program.
func (Program) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// ProgramAction is one step of a program, run relative to the reference date.
type ProgramAction struct {
	ent.Schema
}

// Mixin of the ProgramAction.
func (ProgramAction) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("pn"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the ProgramAction.
func (ProgramAction) Fields() []ent.Field {
	return []ent.Field{
		field.String("program_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Int("position").NonNegative(),
		field.Enum("type").Values("SMS", "EMAIL", "LETTER_TO_PATIENT", "LETTER_TO_GP", "PAUSE").
			Annotations(entgql.Type("ActionType")),
		field.String("template_id").GoType(pulid.ID("")).Optional().Nillable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Bool("save_reply_content").Default(false),
		field.Enum("letter_option").Values("MAIL", "EPOST", "SAVE_FILE").Optional().Nillable().
			Annotations(entgql.Type("LetterOption")),
		field.Int("offset").NonNegative().Default(0),
		field.Enum("unit").Values("DAYS", "WEEKS", "MONTHS").Default("DAYS").
			Annotations(entgql.Type("TimeUnit")),
		field.Enum("relation").Values("BEFORE", "ON", "AFTER").Default("ON").
			Annotations(entgql.Type("TimingRelation")),
		field.Bool("pause_on_error").Default(true),
		field.Time("archived_at").Optional().Nillable().Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("set when the action is removed after a patient reached it: hidden, but its steps keep pointing at it"),
	}
}

// Edges of the ProgramAction.
func (ProgramAction) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("program", Program.Type).Ref("actions").Field("program_id").Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("template", Template.Type).Field("template_id").Unique(),
	}
}

// Indexes of the ProgramAction.
func (ProgramAction) Indexes() []ent.Index {
	return []ent.Index{index.Fields("program_id", "position")}
}

// Annotations of the ProgramAction.
func (ProgramAction) Annotations() []schema.Annotation {
	return nil
}

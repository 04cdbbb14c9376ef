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

// MaxMessageLength bounds a message body, in characters.
const MaxMessageLength = 4000

// Message is one post in a channel. seq is its position in the channel: it
// never changes, and it is the resume cursor of the live stream.
type Message struct {
	ent.Schema
}

// Mixin of the Message.
func (Message) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ms"), PrivacyMixin{}}
}

// Fields of the Message.
func (Message) Fields() []ent.Field {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.String("channel_id").GoType(pulid.ID("")).Immutable().Annotations(skip),
		field.Int64("seq").Immutable().Positive().Annotations(entgql.OrderField("SEQ")).
			Comment("position in the channel: 1, 2, 3, … in the order messages committed"),
		field.Enum("kind").
			Values("USER", "SYSTEM", "AUTO_REPLY", "ALERT").
			Default("USER").
			Immutable().
			Annotations(entgql.Type("MessageKind")),
		field.String("sender_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(skip),
		field.String("sender_patient_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(skip),
		field.Text("body").MaxLen(MaxMessageLength * 4).Immutable(),
		field.Bool("sms").Default(false).Immutable(),
		field.String("client_message_id").Optional().Nillable().MaxLen(100).Immutable().Annotations(skip),
		field.String("reply_to_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(skip),
		field.Time("created_at").Default(now).Immutable(),
		field.Int64("txid").Default(0).Immutable().Annotations(skip).
			Comment("the writing transaction: with the id, the commit-ordered position of the live stream (see internal/live)"),
	}
}

// Edges of the Message.
func (Message) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("channel", Channel.Type).Ref("messages").Field("channel_id").Unique().Required().Immutable(),
		edge.To("sender", User.Type).Field("sender_id").Unique().Immutable(),
		edge.To("sender_patient", Patient.Type).Field("sender_patient_id").Unique().Immutable(),
		edge.To("patients", Patient.Type),
		edge.To("replies", Message.Type).
			From("reply_to").Field("reply_to_id").Unique().Immutable(),
		edge.From("labels", Label.Type).Ref("messages"),
	}
}

// Indexes of the Message.
func (Message) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("channel_id", "seq").Unique(),
		// A retry is found by its clientMessageID; most messages have
		// none, and leaving them out of these two indexes spares every
		// such send two index writes. "client_message_id = ?" implies
		// the condition, so the lookup in Send still uses them.
		index.Fields("sender_id", "client_message_id").Unique().
			Annotations(entsql.IndexWhere("client_message_id IS NOT NULL")),
		index.Fields("sender_patient_id", "client_message_id").Unique().
			Annotations(entsql.IndexWhere("client_message_id IS NOT NULL")),
		index.Fields("created_at"),
		index.Fields("sender_id", "created_at"),
		index.Fields("txid", "channel_id", "seq"),
	}
}

// Annotations of the Message.
func (Message) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Label is a user's own tag for messages; nobody else sees it.
type Label struct {
	ent.Schema
}

// Mixin of the Label.
func (Label) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("lb"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the Label.
func (Label) Fields() []ent.Field {
	return []ent.Field{
		field.String("owner_id").GoType(pulid.ID("")).Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("name").NotEmpty().MaxLen(100),
	}
}

// Edges of the Label.
func (Label) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("owner", User.Type).Field("owner_id").Unique().Required().Immutable().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("messages", Message.Type).Annotations(entgql.RelayConnection()),
	}
}

// Indexes of the Label.
func (Label) Indexes() []ent.Index {
	return []ent.Index{index.Fields("owner_id", "name").Unique()}
}

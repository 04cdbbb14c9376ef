package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/whisper-health/whisper/internal/pulid"
)

// OutboxMessage is one SMS, email or letter to deliver. It is written in the
// same transaction as its cause and moves pending → sending → sent | failed
// | unknown; "sending" is committed before the provider is called, so a
// crash mid-call leaves "unknown" for review instead of a second SMS.
type OutboxMessage struct {
	ent.Schema
}

// Mixin of the OutboxMessage.
func (OutboxMessage) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ob"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the OutboxMessage.
func (OutboxMessage) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("channel").Values("SMS", "EMAIL", "LETTER").Immutable().Annotations(entgql.Type("DeliveryChannel")),
		field.String("recipient").MaxLen(500).Immutable().
			Comment("phone number, email address, or postal name for letters"),
		field.String("subject").Optional().MaxLen(300).Immutable(),
		field.Text("body").Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Enum("route").Values("MAIL", "EPOST", "SAVE_FILE").Optional().Nillable().Immutable().Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("for letters: the distribution list, the e-post provider, or a PDF file"),
		field.Enum("status").Values("PENDING", "SENDING", "SENT", "FAILED", "UNKNOWN").Default("PENDING").
			Annotations(entgql.Type("DeliveryStatus")),
		field.Int("attempts").Default(0).NonNegative(),
		field.Time("next_attempt_at").Default(now),
		field.String("last_error").Optional().MaxLen(1000),
		field.String("idempotency_key").NotEmpty().MaxLen(200).Unique().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.String("provider_ref").Optional().MaxLen(200),
		field.String("cause_message_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(entgql.Skip(entgql.SkipAll)),
		field.Time("sent_at").Optional().Nillable(),
		field.Bool("patient_facing").Default(false).Immutable().Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("a patient's SMS or email: leaves only inside the practice's send window"),
		field.Time("held_until").Optional().Nillable().
			Comment("queued outside the send window: waits until the window opens"),
		field.String("unsubscribe_url").Optional().MaxLen(1000).Immutable().Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("an outreach email's signed one-click unsubscribe link (RFC 8058)"),
		field.String("provider_status").Optional().Nillable().MaxLen(20).
			Comment("the SMS provider's last delivery receipt: queued, sending, sent, delivered, undelivered, failed"),
		field.Time("delivered_at").Optional().Nillable().
			Comment("when the provider reported the SMS delivered"),
	}
}

// Indexes of the OutboxMessage.
func (OutboxMessage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("status", "next_attempt_at"), index.Fields("provider_ref")}
}

// Annotations of the OutboxMessage: staff review it as a Delivery (the
// body and internal keys stay out of the API).
func (OutboxMessage) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Type("Delivery"), entgql.RelayConnection()}
}

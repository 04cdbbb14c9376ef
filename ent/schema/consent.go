package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/trail"
)

// Consent is whether one subject may be contacted on one channel: a
// patient (subject: the patient's id, set by staff or by the unsubscribe
// link) or an address (subject "tel:+61…" or "mailto:…", set by the carrier
// keywords a number texts), so that a number shared by two patients, or
// typed on a new record, stays opted out. internal/consent reads the two
// together; no row is UNKNOWN.
type Consent struct {
	ent.Schema
}

// Mixin of the Consent.
func (Consent) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cs"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the Consent.
func (Consent) Fields() []ent.Field {
	return []ent.Field{
		field.String("subject").NotEmpty().MaxLen(400).Immutable().
			Comment("a patient id, tel:<normalised number> or mailto:<lower-case address>"),
		field.Enum("channel").Values("SMS", "EMAIL").Immutable(),
		field.Enum("state").Values("OPTED_IN", "OPTED_OUT", "UNKNOWN"),
	}
}

// Indexes of the Consent.
func (Consent) Indexes() []ent.Index {
	return []ent.Index{index.Fields("subject", "channel").Unique()}
}

// Annotations of the Consent: read through Patient.smsConsent and
// Patient.emailConsent only.
func (Consent) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// ConsentChange is the audit trail of consent: every change, with who
// (a staff user, or the patient through a keyword or the unsubscribe
// link), how and when. Rows are only ever appended.
type ConsentChange struct {
	ent.Schema
}

// Mixin of the ConsentChange.
func (ConsentChange) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cc"), PrivacyMixin{}}
}

// Fields of the ConsentChange.
func (ConsentChange) Fields() []ent.Field {
	return []ent.Field{
		field.String("subject").NotEmpty().MaxLen(400).Immutable(),
		field.String("patient_id").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
		field.Enum("channel").Values("SMS", "EMAIL").Immutable(),
		field.Enum("state").Values("OPTED_IN", "OPTED_OUT", "UNKNOWN").Immutable(),
		field.Enum("source").Values("STAFF", "SMS_KEYWORD", "UNSUBSCRIBE_LINK").Immutable(),
		field.String("actor_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("the staff user who changed it (STAFF)"),
		field.String("detail").Optional().MaxLen(200).Immutable().
			Comment("the keyword texted, for SMS_KEYWORD"),
		field.Time("at").Immutable(),
	}
}

// Indexes of the ConsentChange.
func (ConsentChange) Indexes() []ent.Index {
	return []ent.Index{index.Fields("subject", "at"), index.Fields("patient_id", "at")}
}

// Annotations of the ConsentChange.
func (ConsentChange) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Hooks of the ConsentChange: append-only, workers included.
func (ConsentChange) Hooks() []ent.Hook {
	return []ent.Hook{trail.AppendOnly()}
}

// InboundSMS remembers every inbound SMS the provider delivered, by its
// MessageSid, so that a webhook the provider delivers again is handled once
// — whichever reply came in between.
type InboundSMS struct {
	ent.Schema
}

// Mixin of the InboundSMS.
func (InboundSMS) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("is"), PrivacyMixin{}}
}

// Fields of the InboundSMS.
func (InboundSMS) Fields() []ent.Field {
	return []ent.Field{
		field.String("sid").NotEmpty().MaxLen(100).Unique().Immutable(),
		field.Time("at").Immutable(),
	}
}

// Annotations of the InboundSMS.
func (InboundSMS) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

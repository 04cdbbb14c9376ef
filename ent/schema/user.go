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

// User is a staff member or an integration service account.
type User struct {
	ent.Schema
}

// Mixin of the User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("us"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.Enum("kind").
			Values("STAFF", "SERVICE").
			Default("STAFF").
			Immutable().
			Annotations(skip),
		field.String("name").
			NotEmpty().
			MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("email").
			NotEmpty().
			MaxLen(320).
			Unique(),
		field.String("mobile").
			Optional().
			Nillable().
			MaxLen(32),
		field.String("job_title").
			Optional().
			Nillable().
			MaxLen(200),
		field.String("external_id").
			Optional().
			Nillable().
			Unique().
			MaxLen(200).
			Comment("the practice system's id of a staff member (upsertStaff)"),
		field.Bool("active").
			Default(true),
		field.String("password_hash").
			Optional().
			Sensitive().
			Annotations(skip),
		field.Strings("permissions").
			Optional().
			Comment("direct grants, in addition to the security groups'").
			Annotations(skip),
		field.Int("failed_logins").
			Default(0).
			NonNegative().
			Annotations(skip),
		field.Time("locked_until").
			Optional().
			Nillable().
			Annotations(skip),
		// Preferences (SPEC §3).
		field.Bool("open_on_new_message").Default(true).Annotations(skip),
		field.Bool("keep_hidden").Default(false).Annotations(skip),
		field.Bool("never_receive_direct").Default(false).Annotations(skip),
		field.Bool("open_on_startup").Default(false).Annotations(skip),
		field.Bool("patient_arrived_alerts").Default(false).Annotations(skip),
		// Auto-replies (SPEC §3): a text and an optional end date each.
		field.String("staff_auto_reply").Optional().Nillable().MaxLen(1000).Annotations(skip),
		field.Time("staff_auto_reply_until").Optional().Nillable().Annotations(skip),
		field.String("patient_auto_reply").Optional().Nillable().MaxLen(1000).Annotations(skip),
		field.Time("patient_auto_reply_until").Optional().Nillable().Annotations(skip),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("security_groups", SecurityGroup.Type),
		edge.To("sessions", Session.Type).Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("api_keys", APIKey.Type).Annotations(entgql.Skip(entgql.SkipAll)),
		edge.From("custom_group_channels", Channel.Type).
			Ref("custom_users").
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.From("channels", Channel.Type).
			Ref("members").
			Through("memberships", ChannelMember.Type).
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the User.
func (User) Indexes() []ent.Index {
	return []ent.Index{index.Fields("name")}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}

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

// Channel is a conversation. Its last_seq is the sequence number of its
// newest message, assigned under the channel row's lock in the send
// transaction, so a member's unread count is last_seq minus their read mark.
type Channel struct {
	ent.Schema
}

// Mixin of the Channel.
func (Channel) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ch"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the Channel.
func (Channel) Fields() []ent.Field {
	skip := entgql.Skip(entgql.SkipAll)
	return []ent.Field{
		field.Enum("kind").
			Values("ALERT", "ARRIVAL", "INDIVIDUAL", "GROUP", "CUSTOM_GROUP", "PATIENT").
			Immutable().
			Annotations(entgql.Type("ChannelKind")),
		field.String("name").MaxLen(200).Default("").
			Annotations(entgql.Skip(entgql.SkipAll)).
			Comment("custom groups' own name; other kinds are named per viewer"),
		field.String("topic").Optional().Nillable().MaxLen(200),
		field.String("patient_id").GoType(pulid.ID("")).Optional().Nillable().Annotations(skip),
		field.String("security_group_id").GoType(pulid.ID("")).Optional().Nillable().Annotations(skip),
		field.String("unique_key").Optional().Nillable().Unique().MaxLen(600).Annotations(skip).
			Comment("identity of channels that must exist once: a user pair, a security group, the alert channel, a member set"),
		field.Int64("last_seq").Default(0).NonNegative().Annotations(skip),
		field.Int64("last_txid").Default(0).NonNegative().Annotations(skip).
			Comment("stream transaction id of the newest message: a later message of the channel never takes a lower one"),
		field.Int("message_count").Default(0).NonNegative(),
		field.Int64("patient_read_seq").Default(0).NonNegative().Annotations(skip).
			Comment("the portal patient's read mark in a PATIENT channel (one patient per conversation)"),
		field.Time("last_activity_at").Default(now).Annotations(entgql.OrderField("LAST_ACTIVITY_AT")),
		field.Int64("member_version").Default(0).NonNegative().Annotations(skip).
			Comment("raised in the transaction of every change to the channel's members (a trigger on channel_members, see internal/store), so a member set read at a version is current while the version is"),
	}
}

// Edges of the Channel.
func (Channel) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("patient", Patient.Type).Field("patient_id").Unique(),
		edge.To("security_group", SecurityGroup.Type).Field("security_group_id").Unique().
			Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("members", User.Type).Through("memberships", ChannelMember.Type),
		edge.To("messages", Message.Type).Annotations(entgql.Skip(entgql.SkipAll)),
		// What a custom group is made of; members are these, expanded.
		edge.To("custom_users", User.Type).Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("custom_groups", SecurityGroup.Type).Annotations(entgql.Skip(entgql.SkipAll)),
		edge.To("custom_channels", Channel.Type).
			From("included_in").
			Annotations(entgql.Skip(entgql.SkipAll)),
	}
}

// Indexes of the Channel.
func (Channel) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("kind", "last_activity_at"),
		index.Fields("patient_id"),
	}
}

// Annotations of the Channel.
func (Channel) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// ChannelMember is one user's membership of one channel, with their read mark.
type ChannelMember struct {
	ent.Schema
}

// Mixin of the ChannelMember.
func (ChannelMember) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("cm"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the ChannelMember.
func (ChannelMember) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(pulid.ID("")),
		field.String("user_id").GoType(pulid.ID("")),
		field.Int64("last_read_seq").Default(0).NonNegative().
			Comment("sequence number of the newest message this member has read"),
	}
}

// Edges of the ChannelMember.
func (ChannelMember) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required(),
		edge.To("user", User.Type).Field("user_id").Unique().Required(),
	}
}

// Indexes of the ChannelMember.
func (ChannelMember) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("channel_id", "user_id").Unique(),
		index.Fields("user_id"),
	}
}

// Annotations of the ChannelMember.
func (ChannelMember) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Hooks of the ChannelMember: every join and leave is recorded as a
// MembershipSpan, so the audit log knows who received a message after they
// have left the channel.
func (ChannelMember) Hooks() []ent.Hook {
	return []ent.Hook{trail.RecordMembershipSpans()}
}

// MembershipSpan is one stretch of one user's membership of one channel, in
// channel sequence numbers: the user received the messages with
// joined_seq < seq <= left_seq (left_seq empty while still a member). It is
// kept by hooks on ChannelMember and never shown directly; the audit log
// resolves a message's recipients from it.
type MembershipSpan struct {
	ent.Schema
}

// Mixin of the MembershipSpan.
func (MembershipSpan) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("mh"), PrivacyMixin{}}
}

// Fields of the MembershipSpan.
func (MembershipSpan) Fields() []ent.Field {
	return []ent.Field{
		field.String("channel_id").GoType(pulid.ID("")).Immutable(),
		field.String("user_id").GoType(pulid.ID("")).Immutable(),
		field.Int64("joined_seq").NonNegative().Immutable().
			Comment("the channel's last sequence number when the user joined"),
		field.Int64("left_seq").Optional().Nillable().
			Comment("the channel's last sequence number when the user left"),
		field.Time("created_at").Default(now).Immutable(),
	}
}

// Edges of the MembershipSpan.
func (MembershipSpan) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("channel", Channel.Type).Field("channel_id").Unique().Required().Immutable(),
		edge.To("user", User.Type).Field("user_id").Unique().Required().Immutable(),
	}
}

// Indexes of the MembershipSpan.
func (MembershipSpan) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("channel_id", "user_id"),
		index.Fields("user_id", "channel_id"),
	}
}

// Annotations of the MembershipSpan.
func (MembershipSpan) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

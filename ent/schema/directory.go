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

// UserToken is a single-use link: a staff invitation or password reset
// (user_id), or a portal invitation (patient_id, purpose
// PATIENT_INVITATION). Only a SHA-256 of the token is stored; the token
// itself travels once, in the invitation answer and the email or SMS.
type UserToken struct {
	ent.Schema
}

// Mixin of the UserToken.
func (UserToken) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("ut"), TimeMixin{}, PrivacyMixin{}}
}

// Fields of the UserToken.
func (UserToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("user_id").GoType(pulid.ID("")).Optional().Immutable().
			Comment("the staff user of an invitation or reset; empty for a portal invitation"),
		field.String("patient_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().
			Comment("the patient of a portal invitation"),
		field.Enum("purpose").Values("INVITATION", "RESET", "PATIENT_INVITATION").Immutable(),
		field.String("token_hash").Sensitive().Unique().Immutable(),
		field.Time("expires_at").Immutable(),
		field.Time("used_at").Optional().Nillable(),
		field.String("created_by").GoType(pulid.ID("")).Optional().Nillable().Immutable(),
	}
}

// Indexes of the UserToken.
func (UserToken) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id", "purpose"), index.Fields("patient_id", "purpose")}
}

// Annotations of the UserToken: never exposed as such (an Invitation is).
func (UserToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// DirectoryLogEntry records one change to the directory: who changed whom
// (a user, a security group, a service account), what, and when. Names are
// copied in, so an entry still reads after its group is deleted. Rows are
// only ever appended.
type DirectoryLogEntry struct {
	ent.Schema
}

// Mixin of the DirectoryLogEntry.
func (DirectoryLogEntry) Mixin() []ent.Mixin {
	return []ent.Mixin{pulid.MixinWithPrefix("dl"), PrivacyMixin{}}
}

// Fields of the DirectoryLogEntry.
func (DirectoryLogEntry) Fields() []ent.Field {
	return []ent.Field{
		field.Time("at").Default(now).Immutable().Annotations(entgql.OrderField("AT")),
		field.Enum("action").
			Values("USER_CREATED", "USER_UPDATED", "USER_DEACTIVATED", "USER_REACTIVATED", "PERMISSIONS_SET",
				"SESSIONS_REVOKED", "GROUP_CREATED", "GROUP_UPDATED", "GROUP_DELETED", "GROUP_MEMBERS_CHANGED",
				"INVITATION_CREATED", "INVITATION_ACCEPTED", "PASSWORD_RESET_REQUESTED", "PASSWORD_RESET",
				"PASSWORD_CHANGED", "SERVICE_ACCOUNT_CREATED", "API_KEY_CREATED", "API_KEY_REVOKED",
				"ADMINISTRATOR_BOOTSTRAPPED").
			Immutable().
			Annotations(entgql.Type("DirectoryAction")),
		field.String("actor_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(entgql.Type("ID")).
			Comment("the user or service account who made the change; null for the server itself"),
		field.String("actor_name").MaxLen(200).Immutable().
			Comment("who, as they were named then (or \"Whisper\" for the server)"),
		field.String("user_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(entgql.Type("ID")).
			Comment("the user changed, if any"),
		field.String("user_name").Optional().MaxLen(200).Immutable(),
		field.String("group_id").GoType(pulid.ID("")).Optional().Nillable().Immutable().Annotations(entgql.Type("ID")).
			Comment("the security group changed, if any"),
		field.String("group_name").Optional().MaxLen(200).Immutable(),
		field.Text("detail").Optional().Immutable().
			Comment("what changed, for people (never a password or token)"),
	}
}

// Indexes of the DirectoryLogEntry.
func (DirectoryLogEntry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("at"), index.Fields("user_id", "at")}
}

// Annotations of the DirectoryLogEntry.
func (DirectoryLogEntry) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Hooks of the DirectoryLogEntry: append-only for everyone, workers included.
func (DirectoryLogEntry) Hooks() []ent.Hook {
	return []ent.Hook{trail.AppendOnly()}
}

// SignInThrottle counts failed sign-ins per key (an address that names no
// account, a portal address) in the database, so every replica shares one
// count: guessing against several replicas gets no more tries than one.
type SignInThrottle struct {
	ent.Schema
}

// Mixin of the SignInThrottle.
func (SignInThrottle) Mixin() []ent.Mixin { return []ent.Mixin{PrivacyMixin{}} }

// Fields of the SignInThrottle.
func (SignInThrottle) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().MaxLen(100).Immutable().
			Comment("a SHA-256 of the key, so no address is stored"),
		field.Int("failures").Default(0).NonNegative(),
		field.Time("window_start"),
	}
}

// Annotations of the SignInThrottle.
func (SignInThrottle) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

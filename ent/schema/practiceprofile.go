package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// PracticeProfile is the practice's own details as an administrator set
// them: one row (id "practice"), each field unset until changed, when the
// configured default applies. Kept as data so that a change needs no
// restart and every replica reads the same.
type PracticeProfile struct {
	ent.Schema
}

// Mixin of the PracticeProfile.
func (PracticeProfile) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}, PrivacyMixin{}} }

// Fields of the PracticeProfile.
func (PracticeProfile) Fields() []ent.Field {
	return []ent.Field{
		field.String("id").NotEmpty().MaxLen(50).Immutable(),
		field.String("name").Optional().Nillable().MaxLen(200),
		field.String("phone").Optional().Nillable().MaxLen(50),
		field.String("address").Optional().Nillable().MaxLen(500),
		field.String("time_zone").Optional().Nillable().MaxLen(100).Comment("an IANA time zone name"),
	}
}

// Annotations of the PracticeProfile: the API shows the effective settings
// (internal/settings), not this row.
func (PracticeProfile) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

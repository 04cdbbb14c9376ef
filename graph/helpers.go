package graph

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/ent/predicate"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/graph/model"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/directory"
)

func authPayload(t *auth.Tokens) *model.AuthPayload {
	return &model.AuthPayload{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		ExpiresAt:    t.ExpiresAt,
		User:         t.User,
	}
}

func patientAuthPayload(t *auth.PatientTokens) *model.PatientAuthPayload {
	return &model.PatientAuthPayload{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		ExpiresAt:    t.ExpiresAt,
		Patient:      t.Patient,
	}
}

// searchWords splits a search box into words (at most five, so a pasted
// paragraph cannot build a huge query).
func searchWords(search *string) []string {
	if search == nil {
		return nil
	}
	words := strings.Fields(*search)
	if len(words) > 5 {
		words = words[:5]
	}
	return words
}

// userSearch matches users whose name or email contains every word.
func userSearch(search *string) predicate.User {
	var ps []predicate.User
	for _, w := range searchWords(search) {
		ps = append(ps, user.Or(user.NameContainsFold(w), user.EmailContainsFold(w)))
	}
	return user.And(ps...)
}

// patientSearch matches patients whose names or patient number contain
// every word.
func patientSearch(search *string) predicate.Patient {
	var ps []predicate.Patient
	for _, w := range searchWords(search) {
		ps = append(ps, patient.Or(
			patient.FirstNameContainsFold(w),
			patient.LastNameContainsFold(w),
			patient.PatientNumberContainsFold(w),
		))
	}
	return patient.And(ps...)
}

// initials returns the upper-cased first letters of the given names.
func initials(names ...string) string {
	var b strings.Builder
	for _, n := range names {
		if r, _ := utf8.DecodeRuneInString(strings.TrimSpace(n)); r != utf8.RuneError {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

func autoReplyChange(in *model.AutoReplyInput) *directory.AutoReplyChange {
	if in == nil {
		return nil
	}
	return &directory.AutoReplyChange{Text: in.Text, Until: in.Until}
}

func autoReply(text *string, until *time.Time) *model.AutoReply {
	if text == nil || *text == "" {
		return nil
	}
	return &model.AutoReply{Text: *text, Until: until}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// version widens a GraphQL Int version to the stored int64.
func version(v *int) *int64 {
	if v == nil {
		return nil
	}
	n := int64(*v)
	return &n
}

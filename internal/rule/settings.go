package rule

import (
	"context"

	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/viewer"
)

// AllowIfSignedInStaff allows any signed-in staff user — not a portal
// patient, not an integration's service account — whatever their
// permissions: what every member of the practice may know.
func AllowIfSignedInStaff() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if v := viewer.FromContext(ctx); v != nil && v.Kind == viewer.Staff && v.UserID != "" {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// MayChangePracticeSettings reports whether v may change the practice's
// name, phone, address and time zone: DIRECTORY_MANAGE. The domain asks it
// before validating input, so a refusal does not depend on the input; the
// policy asks it again at the data layer.
func MayChangePracticeSettings(v *viewer.Viewer) bool {
	return v != nil && v.Has(viewer.DirectoryManage)
}

// AllowIfPracticeSettingsManager allows a write by a viewer that
// MayChangePracticeSettings.
func AllowIfPracticeSettingsManager() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if MayChangePracticeSettings(viewer.FromContext(ctx)) {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

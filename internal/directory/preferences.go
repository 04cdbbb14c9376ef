package directory

import (
	"context"
	"strings"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/rule"
)

// AutoReplyChange sets an auto-reply; an empty text turns it off.
type AutoReplyChange struct {
	Text  string
	Until *time.Time
}

// PreferencesChange changes the viewer's preferences; nil fields stay.
type PreferencesChange struct {
	OpenOnNewMessage, KeepHidden, NeverReceiveDirect, OpenOnStartup, PatientArrivedAlerts *bool
	StaffAutoReply, PatientAutoReply                                                      *AutoReplyChange
}

// MaxAutoReplyLength bounds an auto-reply text.
const MaxAutoReplyLength = 1000

// UpdatePreferences changes the viewer's own preferences.
func (s *Service) UpdatePreferences(ctx context.Context, in PreferencesChange) (*ent.User, error) {
	v, err := rule.Messaging.Check(ctx)
	if err != nil {
		return nil, err
	}
	upd := s.client.User.UpdateOneID(v.UserID).
		SetNillableOpenOnNewMessage(in.OpenOnNewMessage).
		SetNillableKeepHidden(in.KeepHidden).
		SetNillableNeverReceiveDirect(in.NeverReceiveDirect).
		SetNillableOpenOnStartup(in.OpenOnStartup).
		SetNillablePatientArrivedAlerts(in.PatientArrivedAlerts)
	for _, ar := range []struct {
		field  string
		change *AutoReplyChange
		set    func(string, *time.Time)
		clear  func()
	}{
		{"staffAutoReply", in.StaffAutoReply,
			func(t string, u *time.Time) {
				upd.SetStaffAutoReply(t)
				if u == nil {
					// Open-ended: the previous end date must not carry over.
					upd.ClearStaffAutoReplyUntil()
				} else {
					upd.SetStaffAutoReplyUntil(*u)
				}
			},
			func() { upd.ClearStaffAutoReply().ClearStaffAutoReplyUntil() }},
		{"patientAutoReply", in.PatientAutoReply,
			func(t string, u *time.Time) {
				upd.SetPatientAutoReply(t)
				if u == nil {
					upd.ClearPatientAutoReplyUntil()
				} else {
					upd.SetPatientAutoReplyUntil(*u)
				}
			},
			func() { upd.ClearPatientAutoReply().ClearPatientAutoReplyUntil() }},
	} {
		if ar.change == nil {
			continue
		}
		text := strings.TrimSpace(ar.change.Text)
		switch {
		case text == "":
			ar.clear()
		case len([]rune(text)) > MaxAutoReplyLength:
			return nil, apperr.Invalid(ar.field, "an auto-reply is at most %d characters", MaxAutoReplyLength)
		case ar.change.Until != nil && !ar.change.Until.After(s.now()):
			return nil, apperr.Invalid(ar.field, "an auto-reply's end date must be in the future")
		default:
			var until *time.Time
			if ar.change.Until != nil {
				u := ar.change.Until.UTC()
				until = &u
			}
			ar.set(text, until)
		}
	}
	return upd.Save(ctx)
}

// Package outreach owns Patient Connect: templates with placeholders,
// programs and their ordered actions, and the rules that keep a program
// runnable. (Enrolments and the engine that runs them build on this.)
package outreach

import (
	"context"
	"github.com/whisper-health/whisper/internal/rule"
	"regexp"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/template"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
)

// Placeholders are the fields a template may use, as {{name}}.
var Placeholders = map[string]string{
	"patient.firstName":        "the patient's first name",
	"patient.lastName":         "the patient's last name",
	"patient.fullName":         "the patient's first and last name",
	"patient.patientNumber":    "the patient number",
	"patient.birthDate":        "the patient's date of birth",
	"patient.mobile":           "the patient's mobile number",
	"patient.email":            "the patient's email address",
	"patient.address":          "the patient's postal address",
	"patient.gpName":           "the patient's GP",
	"booking.date":             "the booking's date",
	"booking.time":             "the booking's time",
	"booking.type":             "the booking's type",
	"doctor.name":              "the booking's doctor",
	"practice.name":            "the practice's name",
	"practice.phone":           "the practice's phone number",
	"practice.address":         "the practice's address",
	"program.name":             "the program's name",
	"enrollment.referenceDate": "the enrolment's reference date for this cycle (the proposed booking, referral, start date...)",
	"referral.date":            "the referral's date",
	"referral.referrer":        "who made the referral",
}

var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// CheckPlaceholders reports the first problem with a template text: an
// unknown placeholder, or braces that do not make one.
func CheckPlaceholders(field, text string) error {
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		if _, ok := Placeholders[m[1]]; !ok {
			return apperr.Invalid(field, "unknown placeholder {{%s}}; known ones are %s", m[1], known())
		}
	}
	rest := placeholder.ReplaceAllString(text, "")
	if strings.Contains(rest, "{{") || strings.Contains(rest, "}}") {
		return apperr.Invalid(field, "unbalanced {{ }} in the template")
	}
	return nil
}

func known() string {
	var names []string
	for k := range Placeholders {
		names = append(names, "{{"+k+"}}")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// gsm7 is the GSM 03.38 basic character set; any other character makes an
// SMS UCS-2 (70 characters a part instead of 160).
const gsm7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7ext characters take two places (an escape and the character).
const gsm7ext = "^{}\\[~]|€"

// Segments is how many SMS parts text takes: 160 GSM-7 characters (153 per
// part when split) or 70 UCS-2 characters (67 per part).
func Segments(text string) int {
	units, ucs2 := 0, false
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsm7, r):
			units++
		case strings.ContainsRune(gsm7ext, r):
			units += 2
		default:
			ucs2 = true
		}
	}
	if ucs2 {
		// UCS-2 parts count UTF-16 code units: an emoji takes two.
		units = len(utf16.Encode([]rune(text)))
		if units <= 70 {
			return 1
		}
		return (units + 66) / 67
	}
	if units <= 160 {
		return 1
	}
	return (units + 152) / 153
}

// TemplateInput is a template to save.
type TemplateInput struct {
	Kind    template.Kind
	Name    string
	Subject *string
	Body    string
}

// CreateTemplate saves a template after checking its placeholders, so that
// a mistake surfaces now and not when a patient is messaged.
func (s *Service) CreateTemplate(ctx context.Context, in TemplateInput) (*ent.Template, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	name, subject, body, err := validateTemplate(in)
	if err != nil {
		return nil, err
	}
	return s.client.Template.Create().SetKind(in.Kind).SetName(name).SetNillableSubject(subject).SetBody(body).Save(ctx)
}

// TemplateChange edits a template; nil fields stay, an empty subject is
// removed.
type TemplateChange struct {
	Name, Subject, Body *string
}

// UpdateTemplate edits a template under the rules of CreateTemplate; its
// kind never changes. Nothing is written when a rule fails.
func (s *Service) UpdateTemplate(ctx context.Context, id pulid.ID, ch TemplateChange) (*ent.Template, error) {
	if _, err := rule.ProgramManager.Check(ctx); err != nil {
		return nil, err
	}
	t, err := s.client.Template.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	in := TemplateInput{Kind: t.Kind, Name: t.Name, Subject: t.Subject, Body: t.Body}
	if ch.Name != nil {
		in.Name = *ch.Name
	}
	if ch.Subject != nil {
		in.Subject = ch.Subject
	}
	if ch.Body != nil {
		in.Body = *ch.Body
	}
	name, subject, body, err := validateTemplate(in)
	if err != nil {
		return nil, err
	}
	upd := s.client.Template.UpdateOne(t).SetName(name).SetBody(body)
	if subject != nil {
		upd.SetSubject(*subject)
	} else {
		upd.ClearSubject()
	}
	return upd.Save(ctx)
}

// validateTemplate applies the template rules and returns the trimmed
// name, subject (nil when none) and body.
func validateTemplate(in TemplateInput) (string, *string, string, error) {
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return "", nil, "", apperr.Invalid("name", "a template name is 1 to 200 characters")
	}
	body := strings.TrimSpace(in.Body)
	if body == "" {
		return "", nil, "", apperr.Invalid("body", "a template needs a body")
	}
	if err := CheckPlaceholders("body", body); err != nil {
		return "", nil, "", err
	}
	var subject *string
	if in.Subject != nil && strings.TrimSpace(*in.Subject) != "" {
		sub := strings.TrimSpace(*in.Subject)
		if utf8.RuneCountInString(sub) > 300 {
			return "", nil, "", apperr.Invalid("subject", "a subject is at most 300 characters")
		}
		if err := CheckPlaceholders("subject", sub); err != nil {
			return "", nil, "", err
		}
		subject = &sub
	}
	switch {
	case in.Kind == template.KindEMAIL && subject == nil:
		return "", nil, "", apperr.Invalid("subject", "an email template needs a subject")
	case in.Kind == template.KindSMS && subject != nil:
		return "", nil, "", apperr.Invalid("subject", "an SMS has no subject")
	case in.Kind == template.KindSMS && Segments(body) > 10:
		return "", nil, "", apperr.Invalid("body", "an SMS template is at most 10 parts (this one is %d)", Segments(body))
	}
	return name, subject, body, nil
}

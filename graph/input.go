package graph

import (
	"context"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"

	"github.com/whisper-health/whisper/internal/apperr"
)

// Text input is checked here, at the edge, once for every field's
// arguments, before any resolver runs: the databases disagree on what they
// accept (PostgreSQL refuses NUL in text, SQLite stores it; a long LIKE
// pattern fails on SQLite), and names with control characters or
// bidirectional overrides mislead the people who read them. The rules:
//
//   - NUL is refused everywhere;
//   - other C0 controls are refused, except newline and tab in multi-line
//     text (message bodies, notes, addresses);
//   - bidirectional overrides and isolates are refused outside multi-line text;
//   - search strings are at most MaxSearchLength characters.
//
// Invalid UTF-8 is refused before the request is decoded (see checkUTF8),
// because JSON decoding would silently rewrite it.

// MaxSearchLength is the longest search string accepted.
const MaxSearchLength = 200

// multiLine names the arguments and input fields that hold free text of
// several lines: newline and tab are allowed there, and so is bidirectional
// text formatting, which a message in a right-to-left script may need.
var multiLine = map[string]bool{
	"body": true, "text": true, "reason": true, "note": true, "notes": true,
	"description": true, "address": true, "gpAddress": true,
}

// secret names arguments whose content is never shown to anyone (they are
// hashed or compared): only NUL is refused there.
var secret = map[string]bool{
	"password": true, "newPassword": true, "currentPassword": true, "oldPassword": true,
}

// isSearch reports whether an argument or input field is a search string.
func isSearch(name string) bool {
	if name == "search" || name == "query" {
		return true
	}
	for _, suffix := range []string{"Contains", "ContainsFold", "HasPrefix", "HasSuffix"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// checkText is the field middleware that refuses bad text in any argument
// before the field's resolver runs.
func checkText(ctx context.Context, next graphql.Resolver) (any, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && len(fc.Args) > 0 {
		for name, v := range fc.Args {
			if err := checkValue(name, reflect.ValueOf(v), false, 0); err != nil {
				return nil, err
			}
		}
	}
	return next(ctx)
}

// maxInputDepth bounds the walk over nested input objects (and cycles
// through pointers, which GraphQL input cannot build but reflection could).
const maxInputDepth = 32

// checkValue checks every string in v, an argument's value called name;
// inFilter says v is inside a filter input, whose strings are searches.
func checkValue(name string, v reflect.Value, inFilter bool, depth int) error {
	if depth > maxInputDepth || !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		if inFilter && utf8.RuneCountInString(v.String()) > MaxSearchLength {
			return apperr.Invalid(name, "%s is longer than %d characters", name, MaxSearchLength)
		}
		return CheckText(name, v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return checkValue(name, v.Elem(), inFilter, depth+1)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkValue(name, v.Index(i), inFilter, depth+1); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			k := name
			if it.Key().Kind() == reflect.String {
				k = it.Key().String()
			}
			if err := checkValue(k, it.Value(), inFilter, depth+1); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		filter := inFilter || strings.HasSuffix(t.Name(), "Filter") || strings.HasSuffix(t.Name(), "WhereInput")
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if err := checkValue(jsonName(f), v.Field(i), filter, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonName is the GraphQL name of a generated input struct's field.
func jsonName(f reflect.StructField) string {
	if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
		return tag
	}
	return f.Name
}

// CheckText applies the text rules to the value s of the argument or input
// field called name; the error is BAD_USER_INPUT naming the field.
func CheckText(name, s string) error {
	if !utf8.ValidString(s) {
		return apperr.Invalid(name, "%s is not valid UTF-8", name)
	}
	if isSearch(name) && utf8.RuneCountInString(s) > MaxSearchLength {
		return apperr.Invalid(name, "%s is longer than %d characters", name, MaxSearchLength)
	}
	lines := multiLine[name]
	for _, r := range s {
		switch {
		case r == 0:
			return apperr.Invalid(name, "%s contains a NUL character", name)
		case secret[name]:
		case r < 0x20 && !(lines && (r == '\n' || r == '\t')):
			return apperr.Invalid(name, "%s contains a control character", name)
		case !lines && isBidiControl(r):
			return apperr.Invalid(name, "%s contains a bidirectional override", name)
		}
	}
	return nil
}

// isBidiControl reports whether r is a bidirectional embedding, override or
// isolate (U+202A–U+202E, U+2066–U+2069), which can make a name read as
// something else ("Trojan Source").
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// validUTF8JSON reports whether a JSON document is valid UTF-8 and escapes
// no lone surrogate (which decoding would turn into U+FFFD): JSON decoding
// rewrites both silently, so they are refused before it.
func validUTF8JSON(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for i := 0; i+5 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' {
			i++ // skip the escaped character (an escaped backslash included)
			continue
		}
		r := hex4(b[i+2 : i+6])
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			// A high surrogate must be followed by an escaped low one.
			if i+11 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo := hex4(b[i+8 : i+12]); lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return false
		case r >= 0xDC00 && r <= 0xDFFF:
			return false
		}
		i += 5
	}
	return true
}

// hex4 decodes four hex digits; -1 when they are not.
func hex4(b []byte) int {
	n := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n*16 + int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n*16 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n*16 + int(c-'A'+10)
		default:
			return -1
		}
	}
	return n
}

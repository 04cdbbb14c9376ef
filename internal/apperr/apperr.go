// Package apperr owns the errors Whisper shows to clients: a code from the
// fixed set of SPEC §7 and a message that is safe to show. Anything that is
// not an *Error is internal and is never shown.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for clients (GraphQL extensions.code).
type Code string

// The codes of SPEC §7.
const (
	Unauthenticated Code = "UNAUTHENTICATED"
	Forbidden       Code = "FORBIDDEN"
	NotFound        Code = "NOT_FOUND"
	BadUserInput    Code = "BAD_USER_INPUT"
	Conflict        Code = "CONFLICT"
	Internal        Code = "INTERNAL"
)

// The codes of SPEC §14: limits on what one client may use.
const (
	// ResourceExhausted refuses what goes past a limit on one client
	// (subscriptions per socket, sockets per principal, password checks).
	ResourceExhausted Code = "RESOURCE_EXHAUSTED"
	// Unavailable ends a stream the server could not keep (shutting down, a
	// subscriber that fell behind); extensions.reason says which.
	Unavailable Code = "UNAVAILABLE"
)

// Error is an error whose message is safe to show to the client.
type Error struct {
	Code    Code
	Message string
	// Field names the argument at fault, for BAD_USER_INPUT.
	Field string
	// Reason refines Code for clients that act on it (extensions.reason),
	// e.g. TOKEN_EXPIRED: refresh the access token.
	Reason string
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// New returns an Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Because returns an Error with a reason (extensions.reason) beside its code.
func Because(code Code, reason, message string) *Error {
	return &Error{Code: code, Reason: reason, Message: message}
}

// Invalid returns a BAD_USER_INPUT error about one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Is reports whether err carries code.
func Is(err error, code Code) bool {
	e, ok := As(err)
	return ok && e.Code == code
}

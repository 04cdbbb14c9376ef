package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/privacy"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/viewer"
)

func TestPresentError(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	present := presentError(log)
	staff := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.Staff, UserID: "us01JD3F4M5X8Q9R2T6V7W8Y9Z0A"})
	panicked := recoverPanic(log)(staff, "index out of range: patient Brown")
	cases := []struct {
		name     string
		ctx      context.Context
		err      error
		code     apperr.Code
		mustHide string
	}{
		{"app error", staff, apperr.Invalid("body", "body is too long"), apperr.BadUserInput, ""},
		{"not found", staff, &resolverError{&ent.NotFoundError{}}, apperr.NotFound, ""},
		{"denied", staff, &resolverError{privacy.Denyf("viewer is not a member of ch123")}, apperr.Forbidden, "ch123"},
		{"denied anonymous", context.Background(), &resolverError{privacy.Deny}, apperr.Unauthenticated, ""},
		{"internal", staff, &resolverError{errors.New(`pq: duplicate key value violates "users_email_key" (dr@x)`)}, apperr.Internal, "pq:"},
		{"panic", staff, panicked, apperr.Internal, "Brown"},
		{"statement timeout", staff, &resolverError{fmt.Errorf("sending: %w", &pq.Error{Code: "57014", Message: "canceling statement due to statement timeout"})}, apperr.Unavailable, "canceling"},
		{"idle transaction timeout", staff, &resolverError{&pq.Error{Code: "25P03", Message: "terminating connection due to idle-in-transaction timeout"}}, apperr.Unavailable, "terminating"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := present(tc.ctx, tc.err)
			if got.Extensions["code"] != tc.code {
				t.Errorf("code = %v, want %s", got.Extensions["code"], tc.code)
			}
			if tc.mustHide != "" && strings.Contains(got.Message, tc.mustHide) {
				t.Errorf("message %q leaks %q", got.Message, tc.mustHide)
			}
		})
	}
}

func TestPanicLogKeepsTheValueOut(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	err := recoverPanic(log)(context.Background(), "no booking for patient Brown, DOB 1984-03-12")
	if e, _ := apperr.As(err); e == nil || e.Code != apperr.Internal {
		t.Fatalf("recovered panic = %v, want INTERNAL", err)
	}
	got := logs.String()
	if strings.Contains(got, "Brown") || strings.Contains(got, "1984") {
		t.Errorf("panic log carries the panic value: %s", got)
	}
	if !strings.Contains(got, "type=string") || !strings.Contains(got, "stack=") {
		t.Errorf("panic log %s, want the value's type and the stack", got)
	}
	logs.Reset()
	var m map[string]int
	func() {
		defer func() { _ = recoverPanic(log)(context.Background(), recover()) }()
		m["x"] = 1 // a runtime error: its text is the runtime's own
	}()
	if !strings.Contains(logs.String(), "nil map") {
		t.Errorf("runtime error text missing from the panic log: %s", logs.String())
	}
}

package apperr_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/whisper-health/whisper/internal/apperr"
)

func TestPanicAttrsKeepTheValueOut(t *testing.T) {
	for _, tc := range []struct {
		name    string
		panic   func()
		absent  string
		present []string
	}{
		{"error value", func() { panic(fmt.Errorf("message for Olivia Brown")) }, "Olivia", []string{"type=*errors.errorString", "stack="}},
		{"string value", func() { panic("Olivia Brown, 0412 345 678") }, "Olivia", []string{"type=string"}},
		{"runtime error", func() {
			var s []int
			_ = s[len("Olivia")]
		}, "Olivia", []string{"runtime_error=\"runtime error: index out of range [6] with length 0\""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			func() {
				defer func() {
					if r := recover(); r != nil {
						log.Error("panicked", apperr.PanicAttrs(r)...)
					}
				}()
				tc.panic()
			}()
			got := buf.String()
			if strings.Contains(got, tc.absent) {
				t.Errorf("log line carries the panic's value: %s", got)
			}
			for _, want := range tc.present {
				if !strings.Contains(got, want) {
					t.Errorf("log line lacks %q: %s", want, got)
				}
			}
		})
	}
}

package graph

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

// TestDocumentLimitsRememberOnlyWhatTheyPassed: a document within the
// limits is remembered, so that the next request with the same text is not
// parsed and counted again; a document over them is never remembered and is
// refused every time; one that does not parse is left to gqlgen and not
// remembered either.
func TestDocumentLimitsRememberOnlyWhatTheyPassed(t *testing.T) {
	ctx := context.Background()
	l := newDocumentLimits(15000, 100, 10, 10)
	remembered := func(q string) bool {
		sum := sha256.Sum256([]byte(q))
		_, ok := l.passed.Get(ctx, string(sum[:]))
		return ok
	}
	within := `{ me { id } }`
	over := "{ " + strings.Repeat("__typename ", 101) + "}"
	broken := `{ me { id `
	for attempt := 1; attempt <= 2; attempt++ {
		if err := l.MutateOperationParameters(ctx, &graphql.RawParams{Query: within}); err != nil {
			t.Fatalf("attempt %d: a document within the limits was refused: %v", attempt, err)
		}
		if err := l.MutateOperationParameters(ctx, &graphql.RawParams{Query: over}); err == nil {
			t.Fatalf("attempt %d: 101 selections passed a limit of 100", attempt)
		}
		if err := l.MutateOperationParameters(ctx, &graphql.RawParams{Query: broken}); err != nil {
			t.Fatalf("attempt %d: a document that does not parse was refused here, not left to gqlgen: %v", attempt, err)
		}
	}
	if !remembered(within) {
		t.Error("the document within the limits is not remembered")
	}
	if remembered(over) || remembered(broken) {
		t.Error("a document over the limits, or one that does not parse, is remembered")
	}
	// What is remembered is the text that passed: a document that differs
	// by one character is checked afresh.
	if err := l.MutateOperationParameters(ctx, &graphql.RawParams{Query: over + " "}); err == nil {
		t.Error("a document over the limits passed once a similar one was seen")
	}
}

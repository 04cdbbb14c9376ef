package throttle

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(3, time.Minute)
	for i := 0; i < 3; i++ {
		if l.Blocked("a", t0) {
			t.Fatalf("blocked after %d failures, want 3 allowed", i)
		}
		l.Fail("a", t0)
	}
	if !l.Blocked("a", t0.Add(30*time.Second)) {
		t.Errorf("not blocked after 3 failures")
	}
	if l.Blocked("b", t0) {
		t.Errorf("key b blocked by key a's failures")
	}
	if l.Blocked("a", t0.Add(61*time.Second)) {
		t.Errorf("still blocked after the window passed")
	}
}

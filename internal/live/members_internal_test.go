package live

import (
	"fmt"
	"testing"

	"github.com/whisper-health/whisper/internal/pulid"
)

// TestMemberCacheEvictsLeastRecentlyReleased checks the bound on kept
// member sets: beyond max channels the least recently released go, down to
// three quarters of max, and the current release's channels stay.
func TestMemberCacheEvictsLeastRecentlyReleased(t *testing.T) {
	c := newMemberCache(8)
	id := func(i int) pulid.ID { return pulid.ID(fmt.Sprintf("ch%02d", i)) }
	for i := 0; i < 8; i++ {
		c.entries[id(i)] = &memberEntry{used: uint64(i + 1)}
	}
	c.evict()
	if len(c.entries) != 8 {
		t.Fatalf("%d entries kept at the bound, want 8", len(c.entries))
	}
	c.entries[id(8)] = &memberEntry{used: 9}
	c.evict()
	if len(c.entries) != 6 {
		t.Fatalf("%d entries kept after passing the bound, want 6", len(c.entries))
	}
	for i := 3; i <= 8; i++ {
		if c.entries[id(i)] == nil {
			t.Errorf("channel %d, among the newest six, was dropped", i)
		}
	}
	// One release bringing more channels than the bound keeps them all.
	for i := 10; i < 20; i++ {
		c.entries[id(i)] = &memberEntry{used: 10}
	}
	c.evict()
	for i := 10; i < 20; i++ {
		if c.entries[id(i)] == nil {
			t.Errorf("channel %d of the current release was dropped", i)
		}
	}
}

package live

import (
	"testing"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// TestBadgeMessageBeforeStartIsNotLost: a message the hub hands to a badge
// whose first figures are still being read (they may predate its commit)
// makes another event due once the state is set, read after it.
func TestBadgeMessageBeforeStartIsNotLost(t *testing.T) {
	s := &badgeSub{viewer: &viewer.Viewer{UserID: "us1"}, out: make(chan *Badge, 1)}
	s.message(&ent.Message{ChannelID: pulid.ID("ch1"), Seq: 7})
	if len(s.out) != 0 {
		t.Fatal("an event was offered before the first figures were read")
	}
	line := &badgeLine{last: 6}
	if !s.start(map[pulid.ID]*badgeLine{"ch1": line}, nil) {
		t.Fatal("the first figures did not ask for another event after a message that may predate them")
	}
	if s.start(map[pulid.ID]*badgeLine{}, nil) {
		t.Error("a second start asked again")
	}
	s.message(&ent.Message{ChannelID: pulid.ID("ch1"), Seq: 7})
	if len(s.out) != 1 {
		t.Error("a message after the start made no event due")
	}
	if line.last != 6 {
		t.Error("the state shares its lines with the figures already read")
	}
}

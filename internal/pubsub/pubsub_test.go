package pubsub

import (
	"encoding/json"
	"testing"

	"github.com/whisper-health/whisper/internal/pulid"
)

func TestChunkSplitsOversizedEvents(t *testing.T) {
	var users []pulid.ID
	for i := 0; i < 1005; i++ {
		users = append(users, pulid.New("us"))
	}
	events := []Event{
		{Kind: Message, Channel: pulid.New("ch"), Message: pulid.New("ms")},
		{Kind: ChannelChanged, Channel: pulid.New("ch"), Change: "MEMBERS_CHANGED", Users: users, Removed: users[:3]},
	}
	payloads := chunk(events)
	seen := map[pulid.ID]bool{}
	removed := 0
	for _, p := range payloads {
		if len(p) > 8000 {
			t.Fatalf("a payload of %d bytes exceeds NOTIFY's limit", len(p))
		}
		var got []Event
		if err := json.Unmarshal([]byte(p), &got); err != nil {
			t.Fatal(err)
		}
		for _, e := range got {
			for _, u := range e.Users {
				seen[u] = true
			}
			removed += len(e.Removed)
		}
	}
	if len(seen) != 1005 || removed != 3 {
		t.Errorf("after splitting: %d users and %d removed, want 1005 and 3", len(seen), removed)
	}
}

func TestMemoryBusSignalsGaps(t *testing.T) {
	b := NewMemory()
	s := b.Subscribe(2)
	defer s.Close()
	for i := 0; i < 5; i++ {
		b.Publish(nil, Event{Kind: Message})
	}
	<-s.C()
	<-s.C()
	b.Publish(nil, Event{Kind: Read})
	if e := <-s.C(); e.Kind != Resync {
		t.Errorf("after an overflow got %s, want Resync", e.Kind)
	}
}

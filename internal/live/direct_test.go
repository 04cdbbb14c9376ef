package live_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
)

// deliveries records, in the order they happen, the messages of a pulled
// stream written directly by the hub and those its consumer's Next
// returned.
type deliveries struct {
	mu     sync.Mutex
	bodies []string
	how    []string
	more   chan struct{}
}

func (d *deliveries) add(how string, m *ent.Message) {
	d.mu.Lock()
	d.bodies, d.how = append(d.bodies, m.Body), append(d.how, how)
	d.mu.Unlock()
	select {
	case d.more <- struct{}{}:
	default:
	}
}

// wait returns the first n deliveries, failing after 10 s.
func (d *deliveries) wait(t *testing.T, n int) (bodies, how []string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		d.mu.Lock()
		if len(d.bodies) >= n {
			bodies, how = slices.Clone(d.bodies[:n]), slices.Clone(d.how[:n])
			d.mu.Unlock()
			return bodies, how
		}
		got := slices.Clone(d.bodies)
		d.mu.Unlock()
		select {
		case <-d.more:
		case <-timeout:
			t.Fatalf("got %q after 10 s, want %d messages", got, n)
		}
	}
}

// waitFor waits until body was recorded, for at most 10 s.
func (d *deliveries) waitFor(t *testing.T, body string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		d.mu.Lock()
		ok := slices.Contains(d.bodies, body)
		d.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-d.more:
		case <-timeout:
			t.Errorf("%q was not released within 10 s", body)
			return
		}
	}
}

// TestDirectWritesDeliverWhatNextWould: a pulled stream whose live
// messages the hub may write directly (MessageStream.WriteDirectly)
// receives every message once, in order, whether the hub's writer or its
// consumer delivered it: a message the writer cannot write, and what
// follows it, reach the consumer instead, even when a later release was
// queued for the consumer while the writer held it; while the consumer
// waits, the writer delivers; once the stream's context ends, nothing is
// written.
func TestDirectWritesDeliverWhatNextWould(t *testing.T) {
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour})
	chen := f.as(demo.ChenEmail)
	ch := chenChannel(t, f)
	ctx, cancel := context.WithCancel(chen)
	defer cancel()
	stream, err := f.hub.PullMessages(ctx, &ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Another stream on the channel, without direct writes, tells when
	// the hub has released a message.
	observer, err := f.hub.PullMessages(ctx, &ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	released := &deliveries{more: make(chan struct{}, 1)}
	go func() {
		for {
			m, ok := observer.Next()
			if !ok {
				return
			}
			released.add("released", m)
		}
	}()
	d := &deliveries{more: make(chan struct{}, 1)}
	holding, letGo := make(chan string, 1), make(chan struct{})
	stream.WriteDirectly(func(m *ent.Message) bool {
		switch {
		case strings.HasPrefix(m.Body, "refused"):
			return false
		case strings.HasPrefix(m.Body, "held"):
			// The writer holds it until the test lets go, then refuses.
			holding <- m.Body
			<-letGo
			return false
		}
		d.add("direct", m)
		return true
	})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for {
			m, ok := stream.Next()
			if !ok {
				return
			}
			d.add("next", m)
		}
	}()
	var sent []string
	send := func(body string) {
		t.Helper()
		if _, err := f.msgr.Send(chen, messenger.SendInput{ChannelID: ch, Body: body}); err != nil {
			t.Fatalf("sending %q: %v", body, err)
		}
		sent = append(sent, body)
	}

	// One at a time: after the first, the consumer waits for each.
	for k := range 5 {
		send(fmt.Sprintf("one at a time %d", k))
		d.wait(t, len(sent))
	}
	// A burst, released in one or more batches, with refusals among them.
	for k := range 12 {
		if k%4 == 1 {
			send(fmt.Sprintf("refused %d", k))
		} else {
			send(fmt.Sprintf("burst %d", k))
		}
	}
	d.wait(t, len(sent))
	// While the writer holds a message, a later release is queued for the
	// consumer: the held message, refused, still goes first.
	held := false
	for attempt := 0; attempt < 5 && !held; attempt++ {
		send(fmt.Sprintf("held %d", attempt))
		select {
		case <-holding:
			held = true
		case <-time.After(2 * time.Second):
			d.wait(t, len(sent)) // the consumer had not parked yet
		}
	}
	if !held {
		t.Fatal("the writer never held a message")
	}
	send("queued meanwhile")
	released.waitFor(t, "queued meanwhile")
	// The fence is sent once the message before it was released, so it
	// is released after it: once the observer has the fence, the hub is
	// done with the message before it.
	send("fence")
	released.waitFor(t, "fence")
	close(letGo)

	got, how := d.wait(t, len(sent))
	if !slices.Equal(got, sent) {
		t.Fatalf("delivered %q, want %q", got, sent)
	}
	direct := 0
	for i, h := range how {
		switch {
		case (strings.HasPrefix(got[i], "refused") || strings.HasPrefix(got[i], "held")) && h != "next":
			t.Errorf("%q was written, though the writer refused it", got[i])
		case h == "direct":
			direct++
		}
	}
	if direct < 3 {
		t.Errorf("the hub wrote %d of %d messages (%q), want most of those it did not refuse", direct, len(how), how)
	}

	// Once the context ends, the stream ends and nothing is written; a
	// stream opened after it receives the next message, so the hub
	// released it.
	cancel()
	<-ended
	other, err := f.hub.PullMessages(chen, &ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	send("after the end")
	if got := bodies(t, pulled(other), 1); got[0] != "after the end" {
		t.Fatalf("the other stream got %q", got)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.bodies) != len(sent)-1 {
		t.Errorf("after its end the stream got %q", d.bodies[len(sent)-1:])
	}
}

package live_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/internal/demo"
	"github.com/whisper-health/whisper/internal/live"
	"github.com/whisper-health/whisper/internal/messenger"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/viewer"
)

// pulled runs Next in a goroutine of its own and passes what it returns
// on, closing the channel when Next returns false.
func pulled(s *live.MessageStream) <-chan *ent.Message {
	out := make(chan *ent.Message)
	go func() {
		defer close(out)
		for {
			m, ok := s.Next()
			if !ok {
				return
			}
			out <- m
		}
	}()
	return out
}

// bodies reads n messages from stream, failing after 10 s.
func bodies(t *testing.T, stream <-chan *ent.Message, n int) []string {
	t.Helper()
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case m, ok := <-stream:
			if !ok {
				t.Fatalf("the stream ended after %q, want %d messages", got, n)
			}
			got = append(got, m.Body)
		case <-timeout:
			t.Fatalf("got %q after 10 s, want %d messages", got, n)
		}
	}
	return got
}

// TestPulledStreamsDeliverAsChannelStreams: a stream its consumer pulls
// (what a shared messageAdded subscription uses) delivers exactly what the
// channel stream of Messages does — the replay from a cursor, then live
// messages, in order, once, for one channel and for all of them — and it
// ends when its context does.
func TestPulledStreamsDeliverAsChannelStreams(t *testing.T) {
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour})
	chen := f.as(demo.ChenEmail)
	ch := chenChannel(t, f)
	send := func(body string) *ent.Message {
		t.Helper()
		m, err := f.msgr.Send(chen, messenger.SendInput{ChannelID: ch, Body: body})
		if err != nil {
			t.Fatalf("sending %q: %v", body, err)
		}
		return m
	}
	first := send("A1")
	send("A2")
	send("A3")
	cur := messenger.CursorOf(first)

	ctx, cancel := context.WithCancel(chen)
	defer cancel()
	byChannel, err := f.hub.Messages(ctx, &ch, &cur)
	if err != nil {
		t.Fatal(err)
	}
	open := func(channelID *pulid.ID, after *messenger.Cursor) <-chan *ent.Message {
		t.Helper()
		s, err := f.hub.PullMessages(ctx, channelID, after)
		if err != nil {
			t.Fatal(err)
		}
		return pulled(s)
	}
	oneFromCursor, allFromCursor, allFromNow := open(&ch, &cur), open(nil, &cur), open(nil, nil)
	for i := 1; i <= 3; i++ {
		send(fmt.Sprintf("B%d", i))
	}
	want := []string{"A2", "A3", "B1", "B2", "B3"}
	for name, stream := range map[string]<-chan *ent.Message{
		"the channel stream": byChannel, "the pulled stream of the channel": oneFromCursor,
		"the pulled all-channels stream": allFromCursor,
	} {
		if got := bodies(t, stream, len(want)); !slices.Equal(got, want) {
			t.Errorf("%s from A1's cursor delivered %q, want %q", name, got, want)
		}
	}
	if got := bodies(t, allFromNow, 3); !slices.Equal(got, want[2:]) {
		t.Errorf("the pulled all-channels stream from now delivered %q, want %q", got, want[2:])
	}

	// Its context's end ends it: Next returns false.
	cancel()
	for _, stream := range []<-chan *ent.Message{oneFromCursor, allFromCursor, allFromNow} {
		select {
		case m, ok := <-stream:
			if ok {
				t.Fatalf("after its context ended the pulled stream delivered %q", m.Body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the pulled stream did not end with its context")
		}
	}
}

// TestPulledStreamEndsForASlowConsumer: a pulled stream whose consumer
// does not pull while more releases than its buffer arrive is ended with
// SLOW_CONSUMER, and what was queued is not delivered after it (the client
// resumes by cursor).
func TestPulledStreamEndsForASlowConsumer(t *testing.T) {
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour, Buffer: 2})
	chen := f.as(demo.ChenEmail)
	ch := chenChannel(t, f)
	ctx, cancel := context.WithCancel(chen)
	defer cancel()
	// A reader that keeps up tells when each message has been released
	// (or replayed to it), so that most are releases of their own.
	pace, err := f.hub.Messages(ctx, &ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	slow, err := f.hub.PullMessages(live.OnEnd(ctx, func(err error) { ended <- err }), &ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	// (A message the reader got by its replay may be released with the
	// next one, so a few more than three messages may be needed.)
	err = nil
	for i := 0; err == nil; i++ {
		if i == 20 {
			t.Fatal("the slow stream was not ended with 20 releases queued, buffer 2")
		}
		body := fmt.Sprintf("M%d", i)
		if _, err := f.msgr.Send(chen, messenger.SendInput{ChannelID: ch, Body: body}); err != nil {
			t.Fatal(err)
		}
		expect(t, pace, body)
		select {
		case err = <-ended:
		default:
		}
	}
	if !errors.Is(err, live.ErrSlowConsumer) {
		t.Fatalf("the slow stream ended with %v, want SLOW_CONSUMER", err)
	}
	if m, ok := slow.Next(); ok {
		t.Fatalf("after SLOW_CONSUMER the stream delivered %q", m.Body)
	}
}

// chenChannel opens Dr Chen's conversation with Dr Patel.
func chenChannel(t *testing.T, f *liveFixture) pulid.ID {
	t.Helper()
	patelID := viewer.FromContext(f.as(demo.PatelEmail)).UserID
	conv, err := f.msgr.Open(f.as(demo.ChenEmail), messenger.OpenInput{UserIDs: []pulid.ID{patelID}})
	if err != nil {
		t.Fatal(err)
	}
	return conv.ID
}

// TestAbandonedPulledStreamIsForgotten: a pulled stream whose context ends
// while its consumer no longer calls Next (gqlgen stops pulling a
// subscription whose context has ended) is forgotten by the hub at once: it
// is never fed again, nor reported as a slow consumer, which would end the
// rest of its socket.
func TestAbandonedPulledStreamIsForgotten(t *testing.T) {
	f := newLiveFixture(t, live.Config{PollInterval: time.Hour, Buffer: 2})
	chen := f.as(demo.ChenEmail)
	ch := chenChannel(t, f)
	pctx, stopPace := context.WithCancel(chen)
	defer stopPace()
	pace, err := f.hub.Messages(pctx, &ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	behind := make(chan struct{}, 10)
	ended := make(chan error, 10)
	sctx, cancel := context.WithCancel(live.OnFellBehind(live.OnEnd(chen, func(err error) { ended <- err }), func() { behind <- struct{}{} }))
	if _, err := f.hub.PullMessages(sctx, &ch, nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	// More releases than its buffer even if the reader's replay lets the
	// hub release two messages at once.
	for i := range 8 {
		body := fmt.Sprintf("M%d", i)
		if _, err := f.msgr.Send(chen, messenger.SendInput{ChannelID: ch, Body: body}); err != nil {
			t.Fatal(err)
		}
		expect(t, pace, body)
	}
	select {
	case <-behind:
		t.Fatal("a stream whose context had ended was fed and reported as fallen behind")
	case err := <-ended:
		t.Fatalf("a stream whose context had ended was ended again with %v", err)
	default:
	}
}

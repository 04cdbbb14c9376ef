//go:build linux

package graph

import (
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestASocketKeepsUpUntilItsClientStopsReading: the hub's writers write
// to a socket only while its client keeps up (see wsConn.writeDirect).
// Against a client that stops reading, keepsUp turns false after a few
// kilobytes, well before a write would have to wait.
func TestASocketKeepsUpUntilItsClientStopsReading(t *testing.T) {
	c, client, ctx := acceptedPair(t, &websocket.DialOptions{HTTPClient: SmallReceiveBuffers()})

	if !c.keepsUp(len(`""`) + 2000) {
		t.Fatal("a new socket does not keep up")
	}
	frame := []byte(`"` + strings.Repeat("x", 2000) + `"`)
	written := 0
	for c.keepsUp(len(frame)) {
		if written == 1000 {
			t.Fatalf("still keeping up after %d frames the client did not read", written)
		}
		// A write that had to wait for the client fails here.
		if err := c.writeRawWithin(frame, 2*time.Second); err != nil {
			t.Fatalf("frame %d: the write waited for the client: %v", written, err)
		}
		written++
	}
	if written == 0 {
		t.Fatal("no frame was written")
	}
	for i := range written {
		if _, b, err := client.Read(ctx); err != nil || len(b) != len(frame) {
			t.Fatalf("frame %d: read %d bytes, %v", i, len(b), err)
		}
	}
}

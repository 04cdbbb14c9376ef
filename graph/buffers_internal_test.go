package graph

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
)

// acceptedPair has a websocket client (dialled with opts) connect to a
// server that accepts it as the transport does; it returns both ends, and
// a context for the client's calls. Both are closed when the test ends.
func acceptedPair(t *testing.T, opts *websocket.DialOptions) (*coderConn, *websocket.Conn, context.Context) {
	t.Helper()
	accepted := make(chan *coderConn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := acceptCoder(websocket.AcceptOptions{}, w, r, transport.WebsocketAcceptOptions{})
		if err != nil {
			t.Error(err)
			close(accepted)
			return
		}
		accepted <- c
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	client, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.CloseNow() })
	c := <-accepted
	if c == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, client, ctx
}

// TestAnAcceptedSocketReadsThroughItsOwnBuffer: the websocket the
// transport accepts reads through socketBuffers' reader, not the HTTP
// server's.
func TestAnAcceptedSocketReadsThroughItsOwnBuffer(t *testing.T) {
	c, client, ctx := acceptedPair(t, nil)
	if c.br == nil {
		t.Fatal("the accepted socket has no read buffer to wait on")
	}
	if got := c.br.Size(); got != socketReadBuffer {
		t.Errorf("the socket reads through a %d-byte buffer, want %d", got, socketReadBuffer)
	}
	// It works: a message each way.
	if err := client.Write(ctx, websocket.MessageText, []byte(`"hello"`)); err != nil {
		t.Fatal(err)
	}
	if _, r, err := c.NextReader(); err != nil {
		t.Fatal(err)
	} else if b, _ := io.ReadAll(r); string(b) != `"hello"` {
		t.Errorf("read %q", b)
	}
	if err := c.writeRaw([]byte(`"` + strings.Repeat("x", 3*socketWriteBuffer) + `"`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := client.Read(ctx); err != nil || len(b) != 3*socketWriteBuffer+2 {
		t.Errorf("the client read %d bytes (%v), want %d", len(b), err, 3*socketWriteBuffer+2)
	}
}

// TestASocketKeepsSmallBuffers: a websocket reads and writes through
// buffers of its own (512 B and 2 KiB), not the HTTP server's 4 KiB each,
// and what the client sent right behind its upgrade request, already in
// the HTTP server's buffer, is read first, whatever its size: the reader's
// buffer grows to hold it (websocket.Accept takes the buffered bytes out
// and puts them in front of the connection, and the first read has to
// move them all back in; see coderConn.waitReadable).
func TestASocketKeepsSmallBuffers(t *testing.T) {
	for _, early := range []int{0, 100, socketReadBuffer, 3000, 4096} {
		server, client := net.Pipe()
		defer server.Close()
		sent := strings.Repeat("e", early)
		later := "after the upgrade"
		go func() {
			if early > 0 {
				_, _ = client.Write([]byte(sent))
			}
			_, _ = client.Write([]byte(later))
			client.Close()
		}()
		// The HTTP server's reader has read the early bytes.
		httpBuf := bufio.NewReadWriter(bufio.NewReaderSize(server, 4096), bufio.NewWriterSize(server, 4096))
		if early > 0 {
			if _, err := httpBuf.Reader.Peek(early); err != nil {
				t.Fatal(err)
			}
		}
		brw := socketBuffers(server, httpBuf)
		if got, want := brw.Reader.Size(), max(socketReadBuffer, early); got != want {
			t.Errorf("%d early bytes: the read buffer holds %d bytes, want %d", early, got, want)
		}
		if got := brw.Writer.Size(); got != socketWriteBuffer {
			t.Errorf("the write buffer holds %d bytes, want %d", got, socketWriteBuffer)
		}
		if got := brw.Reader.Buffered(); got != early {
			t.Errorf("%d early bytes: %d buffered", early, got)
		}
		// What websocket.Accept does with a hijacked reader.
		b, _ := brw.Reader.Peek(brw.Reader.Buffered())
		brw.Reader.Reset(io.MultiReader(bytes.NewReader(b), server))
		// The first read moves every early byte into the buffer.
		if _, err := brw.Reader.ReadByte(); err != nil {
			t.Fatal(err)
		}
		if got := brw.Reader.Buffered() + 1; got < early {
			t.Errorf("%d early bytes: the first read buffered %d of them", early, got)
		}
		_ = brw.Reader.UnreadByte()
		all, err := io.ReadAll(brw.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if string(all) != sent+later {
			t.Errorf("%d early bytes: read %d bytes (%q…), want the early bytes then the connection's", early, len(all), truncateTest(string(all), 40))
		}
	}
}

func truncateTest(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

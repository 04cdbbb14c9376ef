package graph_test

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/whisper-health/whisper/internal/demo"
)

// TestMessagesSentWithTheUpgradeAreRead: a client may send its first
// messages right behind its upgrade request, before the server's answer.
// Here connection_init and two subscriptions (about 2 KB, more than the
// socket's read buffer) go out in the same write as the upgrade, and both
// subscriptions answer.
func TestMessagesSentWithTheUpgradeAreRead(t *testing.T) {
	e := newEnv(t)
	token := e.login(demo.ChenEmail).AccessToken
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))

	var out strings.Builder
	fmt.Fprintf(&out, "GET /graphql HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n", addr)
	padding := "# " + strings.Repeat("a long operation ", 100) + "\n"
	for _, m := range []map[string]any{
		{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}},
		{"id": "1", "type": "subscribe", "payload": map[string]any{"query": padding + `subscription { unreadBadge { total } }`}},
		{"id": "2", "type": "subscribe", "payload": map[string]any{"query": `subscription { unreadBadge { total } }`}},
	} {
		b, _ := json.Marshal(m)
		out.Write(clientFrame(b))
	}
	if out.Len() < 2000 {
		t.Fatalf("the pipelined request is %d bytes, want at least 2000", out.Len())
	}
	if _, err := io.WriteString(conn, out.String()); err != nil {
		t.Fatal(err)
	}

	r := bufio.NewReader(conn)
	res, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("the upgrade answered %s", res.Status)
	}
	var types []string
	answered := map[string]bool{}
	for !answered["1"] || !answered["2"] {
		payload, err := serverFrame(r)
		if err != nil {
			t.Fatalf("after %v: %v (the messages sent with the upgrade were not all read)", types, err)
		}
		var m struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatalf("frame %q: %v", payload, err)
		}
		types = append(types, m.Type+" "+m.ID)
		switch m.Type {
		case "ping", "connection_ack":
		case "next":
			answered[m.ID] = true
		default:
			t.Fatalf("got %s", payload)
		}
	}
	if types[0] != "connection_ack " {
		t.Errorf("the messages were %v, want connection_ack first", types)
	}
}

// clientFrame is payload as a masked text frame, as a client sends it.
func clientFrame(payload []byte) []byte {
	f := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n < 1<<16:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

// serverFrame reads one unmasked, unfragmented frame and returns its
// payload.
func serverFrame(r *bufio.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	if h[0]&0x80 == 0 || h[1]&0x80 != 0 {
		return nil, fmt.Errorf("unexpected frame header %x", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return p, err
}

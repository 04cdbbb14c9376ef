//go:build linux

package graph

import (
	"net"
	"net/http"
	"syscall"
)

// SmallReceiveBuffers is an HTTP client whose connections get a 4 KiB
// receive buffer before they connect, so that a client that stops reading
// soon leaves what it is sent unacknowledged.
func SmallReceiveBuffers() *http.Client {
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) }); err != nil {
			return err
		}
		return serr
	}}
	return &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
}

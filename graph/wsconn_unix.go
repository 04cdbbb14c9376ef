//go:build unix

package graph

import "syscall"

// peekWait waits, in the runtime's network poller, until raw has a byte to
// read, an end of file or an error, and consumes nothing.
func peekWait(raw syscall.RawConn) {
	var b [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
}

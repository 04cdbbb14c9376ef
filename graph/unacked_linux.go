package graph

import (
	"syscall"
	"unsafe"
)

// tellsUnacknowledged: on Linux, unacknowledged can tell.
const tellsUnacknowledged = true

// unacknowledged returns how many bytes written to the TCP socket raw its
// peer has not acknowledged yet (SIOCOUTQ).
func unacknowledged(raw syscall.RawConn) (int, bool) {
	var n int32
	var errno syscall.Errno
	err := raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
	})
	if err != nil || errno != 0 {
		return 0, false
	}
	return int(n), true
}

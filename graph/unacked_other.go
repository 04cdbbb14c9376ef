//go:build !linux

package graph

import "syscall"

// tellsUnacknowledged: off Linux, how much of what was written to a socket
// is unacknowledged cannot be told, so nothing is written directly (see
// coderConn.keepsUp).
const tellsUnacknowledged = false

// unacknowledged reports that it cannot tell.
func unacknowledged(syscall.RawConn) (int, bool) { return 0, false }

//go:build !linux

package graph

import "syscall"

// unacknowledged reports that it cannot tell how much of what was written
// to raw is unacknowledged: direct writes are left out off Linux.
func unacknowledged(syscall.RawConn) (int, bool) { return 0, false }

//go:build !unix

package graph

import "syscall"

// peekWait returns at once where sockets cannot be peeked this way.
func peekWait(syscall.RawConn) {}

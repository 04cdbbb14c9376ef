//go:build linux

package main

import "syscall"

// childProcAttr has the kernel kill a child process when this one dies
// (its standard input closing ends it too, on every system).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

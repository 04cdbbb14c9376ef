//go:build !linux

package main

import "syscall"

// childProcAttr is nil here: a child process ends when its standard input
// closes.
func childProcAttr() *syscall.SysProcAttr { return nil }

//go:build !unix

package main

import "time"

// processCPU is the CPU time this process has used so far; it cannot be
// told here.
func processCPU() time.Duration { return 0 }

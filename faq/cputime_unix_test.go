//go:build unix

package faq

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used so far, user and system.
// Benchmarks report it next to wall-clock latencies because the machine
// they run on may be shared: waiting for a CPU lengthens the latencies but
// not the CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package csrfbench_test

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time this process has used so far, user and
// system, on every thread (the garbage collector's workers included).
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports, beside ns/op (wall-clock time), the process's CPU time
// per operation as "cpu-ns/op". On a machine shared with other work, the
// wall clock also counts the time this process waited for a core, which
// hits the libraries unevenly; CPU time does not, and it still counts the
// garbage collection a library's allocations cause.
type cpuMeter struct {
	tb    *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuMeter { return cpuMeter{b, processCPU(b)} }

func (m cpuMeter) stop() {
	if n := m.tb.N; n > 0 {
		m.tb.ReportMetric(float64(processCPU(m.tb)-m.start)/float64(n), "cpu-ns/op")
	}
}

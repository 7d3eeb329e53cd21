package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/forgeproof/forgeproof/bench/internal/proc"
)

// machineUse is where the machine's CPU went during a measured window,
// besides the server under test: the shared upstream, the load generator
// (this process) and the cores' idle and stolen time. It says whether a
// server's rate was bound by CPU (no idle time) or by waiting.
type machineUse struct {
	// Upstream and Loader are user+system CPU time.
	Upstream, Loader time.Duration
	// Idle and Steal are summed over all cores (/proc/stat), as is Total,
	// the wall time of the window times the number of cores.
	Idle, Steal, Total time.Duration
}

func (m machineUse) minus(o machineUse) machineUse {
	return machineUse{
		Upstream: m.Upstream - o.Upstream,
		Loader:   m.Loader - o.Loader,
		Idle:     m.Idle - o.Idle,
		Steal:    m.Steal - o.Steal,
		Total:    m.Total - o.Total,
	}
}

// String gives the figures per request of n, and idle time as a share.
func (m machineUse) String(n int64) string {
	if n == 0 || m.Total == 0 {
		return "machine use unknown"
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	return fmt.Sprintf("upstream %.1f µs/req, loader %.1f µs/req, idle %.1f%%, steal %.1f%%",
		per(m.Upstream), per(m.Loader), 100*float64(m.Idle)/float64(m.Total), 100*float64(m.Steal)/float64(m.Total))
}

// readMachineUse reads the counters now; zero where they cannot be read
// (off Linux).
func readMachineUse(up *proc.Process) machineUse {
	var m machineUse
	m.Upstream = up.CPUTime()
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		m.Loader = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return m
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return m
	}
	// user nice system idle iowait irq softirq steal, in USER_HZ ticks.
	var total int64
	ticks := make([]int64, 8)
	for i := range ticks {
		ticks[i], _ = strconv.ParseInt(f[i+1], 10, 64)
		total += ticks[i]
	}
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / 100 }
	m.Idle = tick(ticks[3] + ticks[4])
	m.Steal = tick(ticks[7])
	m.Total = tick(total)
	return m
}

package load

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Options shape a run. The zero value of a field picks its default.
type Options struct {
	// Conns is the number of concurrent connections (and workers); if
	// zero, 16.
	Conns int
	// Warmup runs the load without measuring it, so caches, pools and
	// the server's heap reach their steady state; if zero, none.
	Warmup time.Duration
	// Duration is the measured window; if zero, 5s.
	Duration time.Duration
	// Window, if set, is called with true when the measured window opens
	// and with false when it closes (from another goroutine), so a caller
	// can sample what the server spent in exactly that window: CPU time,
	// memory. The run returns only after both calls.
	Window func(open bool)
}

func (o Options) withDefaults() Options {
	if o.Conns <= 0 {
		o.Conns = 16
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Warmup < 0 {
		o.Warmup = 0
	}
	return o
}

// Result is what one run measured.
type Result struct {
	// Mode names the run: "keepalive", "full-handshake",
	// "resumed-handshake" or "latency".
	Mode string
	// Elapsed is the measured window.
	Elapsed time.Duration
	// OK counts requests answered with 200 inside the window.
	OK int64
	// Errors counts requests that failed inside the window: dial, TLS,
	// I/O, or a status other than 200. FirstError describes the first.
	Errors     int64
	FirstError string
	// Resumed counts, in the handshake modes, the connections of the
	// window whose TLS session was resumed.
	Resumed int64
	// Rate is the request rate a latency run asked for, per second.
	Rate float64
	// Latency holds the percentiles of a latency run.
	Latency Percentiles
	// Unfinished counts latency-run requests still waiting or in flight
	// when the run gave up on them; each is counted in Latency with the
	// time it had waited so far, a lower bound.
	Unfinished int64
}

// PerSecond is the rate of successful requests in the window.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// ResumedFraction is Resumed over the connections of the window.
func (r Result) ResumedFraction() float64 {
	if n := r.OK + r.Errors; n > 0 {
		return float64(r.Resumed) / float64(n)
	}
	return 0
}

func (r Result) String() string {
	s := fmt.Sprintf("%s: %.0f/s (%d ok, %d errors in %v)", r.Mode, r.PerSecond(), r.OK, r.Errors, r.Elapsed.Round(time.Millisecond))
	switch r.Mode {
	case "full-handshake", "resumed-handshake":
		s += fmt.Sprintf(", %.0f%% resumed", 100*r.ResumedFraction())
	case "latency":
		s += fmt.Sprintf(", at %.0f/s: %v", r.Rate, r.Latency)
		if r.Unfinished > 0 {
			s += fmt.Sprintf(", %d unfinished", r.Unfinished)
		}
	}
	if r.FirstError != "" {
		s += ", first error: " + r.FirstError
	}
	return s
}

// Percentiles summarise a latency distribution.
type Percentiles struct {
	N                   int
	P50, P99, P999, Max time.Duration
}

func (p Percentiles) String() string {
	return fmt.Sprintf("p50 %v p99 %v p99.9 %v max %v (n=%d)", p.P50, p.P99, p.P999, p.Max, p.N)
}

// Summarise computes nearest-rank percentiles of samples, which it sorts
// in place.
func Summarise(samples []time.Duration) Percentiles {
	if len(samples) == 0 {
		return Percentiles{}
	}
	slices.Sort(samples)
	return Percentiles{
		N:    len(samples),
		P50:  rank(samples, 0.50),
		P99:  rank(samples, 0.99),
		P999: rank(samples, 0.999),
		Max:  samples[len(samples)-1],
	}
}

// rank is the nearest-rank percentile p of sorted samples: the smallest
// value with at least p of the samples at or below it.
func rank(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// tally collects the counts of the workers of one run.
type tally struct {
	mu         sync.Mutex
	ok, errs   int64
	resumed    int64
	firstError string
}

func (t *tally) add(ok, errs, resumed int64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ok += ok
	t.errs += errs
	t.resumed += resumed
	if t.firstError == "" && err != nil {
		t.firstError = err.Error()
	}
}

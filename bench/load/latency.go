package load

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Latency sends rate requests per second, on a fixed schedule, over a pool
// of opts.Conns keep-alive connections, and reports the latency
// percentiles of the requests scheduled inside the measured window.
//
// The load is open loop: the schedule does not wait for the server. Each
// request is timed from the moment the schedule says it should go out,
// not from when a connection was free to send it, so time spent queued
// behind a slow answer counts (the correction for coordinated omission).
// When the window ends, requests still queued get a grace period of half
// the window (at least a second); any left after it are counted as
// Unfinished, with the time they had waited as a lower bound.
func Latency(ctx context.Context, t Target, rate float64, opts Options) (Result, error) {
	if err := t.check(); err != nil {
		return Result{}, err
	}
	if !(rate > 0) {
		return Result{}, errors.New("load: latency rate must be positive")
	}
	opts = opts.withDefaults()
	req := t.request()
	grace := max(time.Second, opts.Duration/2)
	interval := time.Duration(float64(time.Second) / rate)
	n := int((opts.Warmup + opts.Duration) / interval)
	if n < 1 {
		return Result{}, errors.New("load: latency rate too low for the duration")
	}

	// Connections are opened before the clock starts: the handshakes are
	// not part of the latency being measured.
	conns := make([]*conn, opts.Conns)
	for i := range conns {
		c, err := dial(ctx, t, t.TLS)
		if err != nil {
			for _, c := range conns[:i] {
				c.close()
			}
			return Result{}, err
		}
		conns[i] = c
	}

	start := time.Now().Add(10 * time.Millisecond)
	from, to := start.Add(opts.Warmup), start.Add(opts.Warmup+opts.Duration)
	stop := to.Add(grace)
	ctx, cancel := context.WithDeadline(ctx, stop)
	defer cancel()
	for _, c := range conns {
		_ = c.tls.NetConn().SetDeadline(stop.Add(ioGrace))
	}
	win := openWindow(opts.Window, from, to)
	defer win.wait()

	// The schedule is known in advance: slot i is due at start+i*interval.
	// Workers take the next slot from the queue, wait for its time, send.
	queue := make(chan time.Time, n)
	for i := range n {
		queue <- start.Add(time.Duration(i) * interval)
	}
	close(queue)

	var tl tally
	var mu sync.Mutex
	var samples []time.Duration
	var unfinished int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			var ok, errs int64
			var first error
			local := make([]time.Duration, 0, n/len(conns)+1)
			var late int64
			defer func() {
				if c != nil {
					c.close()
				}
				tl.add(ok, errs, 0, first)
				mu.Lock()
				samples = append(samples, local...)
				unfinished += late
				mu.Unlock()
			}()
			for due := range queue {
				measured := !due.Before(from)
				sleepUntil(ctx, due) // returns at once past the grace period
				if ctx.Err() != nil {
					// Past the grace period: what is left never ran.
					if measured {
						late++
						local = append(local, stop.Sub(due))
					}
					continue
				}
				var err error
				if c == nil {
					c, err = dial(ctx, t, t.TLS)
				}
				keep := false
				if err == nil {
					keep, err = c.roundTrip(req)
				}
				done := time.Now()
				if c != nil && !keep {
					c.close()
					c = nil
				}
				if !measured {
					continue
				}
				if err != nil {
					errs++
					first = firstOf(first, err)
					continue
				}
				ok++
				local = append(local, done.Sub(due))
			}
		})
	}
	wg.Wait()
	return Result{
		Mode: "latency", Elapsed: to.Sub(from), Rate: rate,
		OK: tl.ok, Errors: tl.errs, FirstError: tl.firstError,
		Latency: Summarise(samples), Unfinished: unfinished,
	}, nil
}

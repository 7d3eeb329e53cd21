package load

import (
	"context"
	"sync"
	"time"
)

// KeepAlive measures requests per second over opts.Conns long-lived
// connections, each sending its next request as soon as the previous
// answer is in (closed loop): the server's throughput at saturation, TLS
// handshakes excluded. A connection the server closes is reopened.
func KeepAlive(ctx context.Context, t Target, opts Options) (Result, error) {
	if err := t.check(); err != nil {
		return Result{}, err
	}
	opts = opts.withDefaults()
	req := t.request()
	start := time.Now()
	from, to := start.Add(opts.Warmup), start.Add(opts.Warmup+opts.Duration)
	ctx, cancel := context.WithDeadline(ctx, to)
	defer cancel()
	win := openWindow(opts.Window, from, to)
	defer win.wait()

	var tl tally
	var wg sync.WaitGroup
	for range opts.Conns {
		wg.Go(func() {
			var ok, errs int64
			var first error
			var c *conn
			defer func() {
				if c != nil {
					c.close()
				}
				tl.add(ok, errs, 0, first)
			}()
			for ctx.Err() == nil {
				if c == nil {
					var err error
					if c, err = dial(ctx, t, t.TLS); err != nil {
						if ctx.Err() == nil && inWindow(from, to) {
							errs++
							first = firstOf(first, err)
						}
						sleepUntil(ctx, time.Now().Add(10*time.Millisecond))
						continue
					}
				}
				keep, err := c.roundTrip(req)
				if inWindow(from, to) {
					if err != nil {
						errs++
						first = firstOf(first, err)
					} else {
						ok++
					}
				}
				if !keep {
					c.close()
					c = nil
				}
			}
		})
	}
	wg.Wait()
	return Result{Mode: "keepalive", Elapsed: to.Sub(from), OK: tl.ok, Errors: tl.errs, FirstError: tl.firstError}, nil
}

// inWindow reports whether now lies in [from, to).
func inWindow(from, to time.Time) bool {
	now := time.Now()
	return !now.Before(from) && now.Before(to)
}

func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

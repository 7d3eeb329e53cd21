package load

import (
	"context"
	"sync"
	"time"
)

// closedLoop is the frame of the closed-loop modes, KeepAlive and
// Handshakes: after opts.Warmup it measures a window [from, to) of
// opts.Duration, calling opts.Window at its edges, while opts.Conns
// workers run until to. Each worker gets a context that ends at to, the
// bytes of one request to t, and the window; it returns what it counted
// inside the window and its first error there. closedLoop returns the
// sum as a Result with Mode mode.
func closedLoop(ctx context.Context, t Target, opts Options, mode string,
	worker func(ctx context.Context, req []byte, from, to time.Time) (ok, errs, resumed int64, first error),
) (Result, error) {
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
			tl.add(worker(ctx, req, from, to))
		})
	}
	wg.Wait()
	return Result{Mode: mode, Elapsed: to.Sub(from), OK: tl.ok, Errors: tl.errs, Resumed: tl.resumed, FirstError: tl.firstError}, nil
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

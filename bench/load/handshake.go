package load

import (
	"context"
	"crypto/tls"
	"sync"
	"time"
)

// Handshakes measures TLS handshakes per second: each worker opens a new
// connection, sends one request, reads the answer and closes, in a closed
// loop. With resume false no session is ever resumed (full handshakes: the
// server signs, verifies the client certificate chain and its signature);
// with resume true each worker keeps the session ticket of its previous
// connection and offers it (TLS 1.3 PSK with a fresh key exchange; no
// certificates). Result.Resumed says how many connections really resumed.
func Handshakes(ctx context.Context, t Target, opts Options, resume bool) (Result, error) {
	if err := t.check(); err != nil {
		return Result{}, err
	}
	opts = opts.withDefaults()
	mode := "full-handshake"
	if resume {
		mode = "resumed-handshake"
	}
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
			cfg := t.TLS.Clone()
			if resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			} else {
				cfg.ClientSessionCache = nil
				cfg.SessionTicketsDisabled = true
			}
			var ok, errs, resumed int64
			var first error
			defer func() { tl.add(ok, errs, resumed, first) }()
			for ctx.Err() == nil {
				c, err := dial(ctx, t, cfg)
				if err == nil {
					_, err = c.roundTrip(req)
					if c.tls.ConnectionState().DidResume && inWindow(from, to) {
						resumed++
					}
					c.close()
				}
				if !inWindow(from, to) {
					continue
				}
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					errs++
					first = firstOf(first, err)
					continue
				}
				ok++
			}
		})
	}
	wg.Wait()
	return Result{Mode: mode, Elapsed: to.Sub(from), OK: tl.ok, Errors: tl.errs, Resumed: tl.resumed, FirstError: tl.firstError}, nil
}

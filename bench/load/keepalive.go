package load

import (
	"context"
	"time"
)

// KeepAlive measures requests per second over opts.Conns long-lived
// connections, each sending its next request as soon as the previous
// answer is in (closed loop): the server's throughput at saturation, TLS
// handshakes excluded. A connection the server closes is reopened.
func KeepAlive(ctx context.Context, t Target, opts Options) (Result, error) {
	return closedLoop(ctx, t, opts, "keepalive", func(ctx context.Context, req []byte, from, to time.Time) (ok, errs, _ int64, first error) {
		var c *conn
		defer func() {
			if c != nil {
				c.close()
			}
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
		return ok, errs, 0, first
	})
}

package load

import (
	"context"
	"crypto/tls"
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
	mode := "full-handshake"
	if resume {
		mode = "resumed-handshake"
	}
	return closedLoop(ctx, t, opts, mode, func(ctx context.Context, req []byte, from, to time.Time) (ok, errs, resumed int64, first error) {
		cfg := t.TLS.Clone()
		if resume {
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		} else {
			cfg.ClientSessionCache = nil
			cfg.SessionTicketsDisabled = true
		}
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
		return ok, errs, resumed, first
	})
}

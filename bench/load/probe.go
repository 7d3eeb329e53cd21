package load

import (
	"context"
	"time"
)

// Probe sends one request to t over a new connection and returns nil when
// it was answered with 200. It is how a harness waits for a server to come
// up, and checks that a server refuses a client without a certificate.
func Probe(ctx context.Context, t Target) error {
	if err := t.check(); err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	c, err := dial(ctx, t, t.TLS)
	if err != nil {
		return err
	}
	defer c.close()
	_, err = c.roundTrip(t.request())
	return err
}

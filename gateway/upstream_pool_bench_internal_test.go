package gateway

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkHostPoolGetPut is the keep-alive hot path of the upstream
// pool: an idle connection taken (get, with its idle peek) and given
// back (put), on a real loopback socket.
func BenchmarkHostPoolGetPut(b *testing.B) {
	ln := holdingListener(b)
	tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: 4}, &http.Transport{}, nil)
	hp := tr.host(ln.Addr().String())
	pc, err := tr.dialAddr(context.Background(), hp.addr)
	if err != nil {
		b.Fatal(err)
	}
	hp.put(pc)
	b.ReportAllocs()
	for b.Loop() {
		pc := hp.get(time.Time{}, false)
		if pc == nil {
			b.Fatal("no idle connection")
		}
		hp.put(pc)
	}
}

// dialAddr is dial with a slot of addr's pool taken first, as roundTrip
// takes one.
func (t *upstreamTransport) dialAddr(ctx context.Context, addr string) (*upConn, error) {
	hp := t.host(addr)
	if err := hp.acquire(ctx); err != nil {
		return nil, err
	}
	return t.dial(ctx, hp)
}

// holdingListener is a loopback listener that accepts every connection
// and holds it open, reading nothing, until the test ends.
func holdingListener(tb testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return ln
}

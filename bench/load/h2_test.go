package load_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/forgeproof/forgeproof/bench/load"
	"github.com/forgeproof/forgeproof/pki"
)

// TestKeepAliveH2: the HTTP/2 mode sends its requests as streams of a few
// connections (Conns ÷ streams per connection), over HTTP/2; a server
// without HTTP/2 fails before the run, and a server that ends
// connections gracefully (GOAWAY after a number of requests, as nginx
// does) costs reconnects, not errors.
func TestKeepAliveH2(t *testing.T) {
	f := newFixture(t)
	opts := load.Options{Conns: 8, Warmup: short.Warmup, Duration: short.Duration}

	var h1 atomic.Int64
	s := startServer(t, f.ca, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			h1.Add(1)
		}
		ok(w, r)
	})
	res, err := load.KeepAliveH2(context.Background(), load.Target{Addr: s.addr, TLS: f.client}, opts, 4)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK == 0 || res.Errors != 0 || h1.Load() != 0 {
		t.Errorf("got %v, %d HTTP/1.1 requests; want successes over HTTP/2 only", res, h1.Load())
	}
	if got := s.conns.Load(); got != 2 {
		t.Errorf("server connections: got %d, want 2 (8 streams, 4 a connection)", got)
	}

	t.Run("server without HTTP/2", func(t *testing.T) {
		cert, err := f.ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		cfg := cert.ServerTLSConfig(f.ca)
		cfg.NextProtos = []string{"http/1.1"}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: http.HandlerFunc(ok), ErrorLog: quietLog()}
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
		if _, err := load.KeepAliveH2(context.Background(), load.Target{Addr: ln.Addr().String(), TLS: f.client}, opts, 4); err == nil {
			t.Error("no error from a server that does not speak HTTP/2")
		}
	})

	t.Run("GOAWAY every 50 requests", func(t *testing.T) {
		var n atomic.Int64
		s := startServer(t, f.ca, nil, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%50 == 0 {
				w.Header().Set("Connection", "close") // net/http's server: GOAWAY after this answer
			}
			ok(w, r)
		})
		res, err := load.KeepAliveH2(context.Background(), load.Target{Addr: s.addr, TLS: f.client}, opts, 8)
		if err != nil {
			t.Fatal(err)
		}
		if res.OK < 100 || res.Errors != 0 || s.conns.Load() < 2 {
			t.Errorf("got %v over %d connections, want over 100 successes, no errors, reconnects", res, s.conns.Load())
		}
	})
}

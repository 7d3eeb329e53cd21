package gateway_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// BenchmarkProxy compares requests through the gateway with requests
// through a bare httputil.ReverseProxy that also requires and verifies a
// client certificate, both over keep-alive mTLS (TLS 1.3, ECDSA P-256) to
// the same loopback upstream, in the same run. The ratio of their ns/op is
// the gateway's cost: routing, authorization, CSRF checks, header hygiene,
// identity forwarding, metrics and the access log (discarded here).
//
//	go test -run '^$' -bench BenchmarkProxy -benchtime 3s ./gateway
func BenchmarkProxy(b *testing.B) {
	w, gw, bareURL := benchSetup(b)
	for _, bc := range []struct {
		name, base string
	}{
		{"bare-reverseproxy", bareURL},
		{"gateway", gw.base},
	} {
		for _, method := range []string{"GET", "POST"} {
			b.Run(bc.name+"/"+method, func(b *testing.B) {
				c := gw.client(w.web)
				c.Transport.(*http.Transport).MaxIdleConnsPerHost = 128
				url := bc.base + "/api/items?quiet"
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := benchRequest(c, method, url); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		}
	}
}

// BenchmarkProxyPaired sends one request through the bare proxy and one
// through the gateway in turn, on one keep-alive connection each, and
// reports the ratio of their total times: both see the same machine load
// at the same moments, so the ratio holds on a busy machine where
// separate runs do not.
//
//	go test -run '^$' -bench BenchmarkProxyPaired -benchtime 5000x ./gateway
func BenchmarkProxyPaired(b *testing.B) {
	w, gw, bareURL := benchSetup(b)
	for _, method := range []string{"GET", "POST"} {
		b.Run(method, func(b *testing.B) {
			bare, gate := gw.client(w.web), gw.client(w.web)
			var tBare, tGate time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := benchRequest(bare, method, bareURL+"/api/items?quiet"); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := benchRequest(gate, method, gw.base+"/api/items?quiet"); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				tBare += t1.Sub(t0)
				tGate += t2.Sub(t1)
			}
			b.ReportMetric(float64(tBare.Microseconds())/float64(b.N), "bare-µs/req")
			b.ReportMetric(float64(tGate.Microseconds())/float64(b.N), "gateway-µs/req")
			b.ReportMetric(float64(tGate)/float64(tBare), "gateway/bare")
		})
	}
}

func benchRequest(c *http.Client, method, url string) error {
	req, _ := http.NewRequest(method, url, strings.NewReader("amount=1"))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// benchSetup starts the gateway and, beside it, a bare reverse proxy that
// requires and verifies client certificates, both in front of the same
// upstream.
func benchSetup(b *testing.B) (*world, *running, string) {
	w := newWorld(b)
	gw := w.start(w.config())

	up, _ := url.Parse(w.upstream.URL)
	bare := httptest.NewUnstartedServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(up) },
	})
	srv := pkitest.ServerWith(b, w.ca, serverOptions())
	bare.TLS = &tls.Config{
		Certificates: []tls.Certificate{srv.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    w.ca.Pool(),
		MinVersion:   tls.VersionTLS13,
	}
	bare.StartTLS()
	b.Cleanup(bare.Close)

	return w, gw, bare.URL
}

// BenchmarkProxyPaths compares the direct path (direct.go) with
// httputil.ReverseProxy through the embedded handler (no TLS, no client:
// the proxy's own cost and the upstream's stand out) with a browser-like
// GET to the public route: allocations per request on each path, and
// ("paired") the ratio of their times with one request on each in turn,
// so that both see the same machine load.
//
//	go test -run '^$' -bench BenchmarkProxyPaths -benchmem ./gateway
func BenchmarkProxyPaths(b *testing.B) {
	w := newWorld(b)
	ctx, cancel := context.WithCancel(context.Background()) // the direct path wants one that can end
	defer cancel()
	handler := func(direct bool) http.Handler {
		g, err := gateway.New(w.config(), gateway.Options{})
		if err != nil {
			b.Fatal(err)
		}
		gateway.SetDirectProxy(g, direct)
		return g.Handler()
	}
	rp, direct := handler(false), handler(true)
	serve := func(b *testing.B, h http.Handler) {
		r := httptest.NewRequestWithContext(ctx, "GET", "https://localhost/public/items?quiet", nil)
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header.Set("User-Agent", "Mozilla/5.0")
		r.Header.Set("Accept", "text/html,application/xhtml+xml")
		r.Header.Set("Accept-Encoding", "gzip, deflate, br")
		r.Header.Set("Accept-Language", "en-US,en;q=0.9")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("Sec-Fetch-Mode", "navigate")
		r.Header.Set("Connection", "keep-alive")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
	b.Run("reverseproxy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, rp)
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			serve(b, direct)
		}
	})
	b.Run("paired", func(b *testing.B) {
		var tRP, tDirect time.Duration
		for b.Loop() {
			t0 := time.Now()
			serve(b, rp)
			t1 := time.Now()
			serve(b, direct)
			tRP += t1.Sub(t0)
			tDirect += time.Since(t1)
		}
		b.ReportMetric(float64(tRP.Nanoseconds())/float64(b.N), "reverseproxy-ns/req")
		b.ReportMetric(float64(tDirect.Nanoseconds())/float64(b.N), "direct-ns/req")
		b.ReportMetric(float64(tDirect)/float64(tRP), "direct/reverseproxy")
	})
}

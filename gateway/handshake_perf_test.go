package gateway_test

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkProxyNewConnection is BenchmarkProxy and BenchmarkProxyPaired
// with a new mTLS connection (a full TLS 1.3 handshake, no resumption) for
// every GET: what the gateway adds to a client's first request, beyond the
// handshake itself, against the bare ReverseProxy. The paired run
// alternates the two request by request and reports the ratio of their
// times (client, gateway and upstream CPU together); the others report
// allocations per request.
//
//	go test -run '^$' -bench BenchmarkProxyNewConnection -benchmem -benchtime 2000x ./gateway
func BenchmarkProxyNewConnection(b *testing.B) {
	w, gw, bareURL := benchSetup(b)
	newClient := func() *http.Client {
		c := gw.client(w.web)
		c.Transport.(*http.Transport).DisableKeepAlives = true
		return c
	}
	url := map[string]string{"bare-reverseproxy": bareURL, "gateway": gw.base}
	b.Run("paired", func(b *testing.B) {
		bare, gate := newClient(), newClient()
		var tBare, tGate time.Duration
		for b.Loop() {
			t0 := time.Now()
			if err := benchRequest(bare, "GET", url["bare-reverseproxy"]+"/api/items?quiet"); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if err := benchRequest(gate, "GET", url["gateway"]+"/api/items?quiet"); err != nil {
				b.Fatal(err)
			}
			tBare += t1.Sub(t0)
			tGate += time.Since(t1)
		}
		b.ReportMetric(float64(tBare.Microseconds())/float64(b.N), "bare-µs/req")
		b.ReportMetric(float64(tGate.Microseconds())/float64(b.N), "gateway-µs/req")
		b.ReportMetric(float64(tGate)/float64(tBare), "gateway/bare")
	})
	for _, name := range []string{"bare-reverseproxy", "gateway"} {
		b.Run(name, func(b *testing.B) {
			c := newClient()
			b.ReportAllocs()
			for b.Loop() {
				if err := benchRequest(c, "GET", url[name]+"/api/items?quiet"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

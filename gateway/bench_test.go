package gateway_test

import (
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

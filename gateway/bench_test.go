package gateway_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

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

	for _, bc := range []struct {
		name, base string
	}{
		{"bare-reverseproxy", bare.URL},
		{"gateway", gw.base},
	} {
		for _, method := range []string{"GET", "POST"} {
			b.Run(bc.name+"/"+method, func(b *testing.B) {
				c := gw.client(w.web)
				c.Transport.(*http.Transport).MaxIdleConnsPerHost = 128
				url := bc.base + "/api/items"
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req, _ := http.NewRequest(method, url, strings.NewReader("amount=1"))
						req.Header.Set("Sec-Fetch-Site", "same-origin")
						resp, err := c.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Errorf("status %d", resp.StatusCode)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
			})
		}
	}
}

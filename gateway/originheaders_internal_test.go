package gateway

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// trustedOriginRun returns a function that builds the upstream request of
// a trusted proxy's request with header, as serveDirect does, once
// serveHTTP read its forwarding headers (readForwarded).
func trustedOriginRun(t testing.TB, header http.Header) (run func(), out *http.Request) {
	f := newUpstreamHeaderFixture(t, forwarded.RFC9440)
	x := &exchange{route: f.rt, conn: &connState{}}
	u, _ := url.Parse("/api/x")
	in := (&http.Request{Method: "GET", URL: u, Host: "app.example", Header: header, RemoteAddr: "192.0.2.1:1234", TLS: f.cs}).WithContext(&exchangeContext{Context: context.Background(), x: x})
	if reason, _ := f.c.readForwarded(in, x); reason != "" {
		t.Fatal(reason)
	}
	out = new(http.Request)
	uc := *u
	pr := &httputil.ProxyRequest{In: in, Out: out}
	return func() {
		*out = *in
		uc = *u
		out.URL = &uc
		var d dropped
		out.Header = f.c.outHeader(in.Header, f.c.addedRoom(in, true), false, true, &d, nil)
		f.c.rewriteFiltered(pr, f.rt, true, d, false)
	}, out
}

// TestOriginHeadersAllocs: comparing a trusted proxy's scheme, port and
// host headers with the origin checked (withoutOtherOrigins) costs no
// allocation, whether they agree or are dropped: a request with one costs
// what a request with an ordinary header in its place does.
func TestOriginHeadersAllocs(t *testing.T) {
	base := http.Header{"User-Agent": {"bench"}, "X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}}
	with := func(k, v string) http.Header { h := base.Clone(); h[k] = []string{v}; return h }
	// The baseline has as many headers: one more may grow the map.
	run, _ := trustedOriginRun(t, with("X-Request-Id", "1"))
	want := testing.AllocsPerRun(100, run)
	for _, h := range []http.Header{with("X-Forwarded-Ssl", "on"), with("X-Forwarded-Ssl", "off"), with("X-Forwarded-Port", "443, 8443"), with("X-Host", "app.example:443")} {
		run, out := trustedOriginRun(t, h)
		if n := testing.AllocsPerRun(100, run); n > want {
			t.Errorf("%v: %v allocations per request, %v with X-Request-Id instead", h, n, want)
		}
		if _, ok := out.Header["X-Forwarded-Ssl"]; ok && h["X-Forwarded-Ssl"][0] == "off" {
			t.Errorf("X-Forwarded-Ssl: off went on with https checked")
		}
	}
}

func BenchmarkTrustedOrigin(b *testing.B) {
	base := http.Header{"User-Agent": {"bench"}, "X-Forwarded-For": {"10.0.0.1"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}}
	with := func(k, v string) http.Header { h := base.Clone(); h[k] = []string{v}; return h }
	for _, c := range []struct {
		name string
		h    http.Header
	}{{"none", with("X-Request-Id", "1")}, {"agreeing", with("X-Forwarded-Ssl", "on")}, {"disagreeing", with("X-Forwarded-Ssl", "off")}} {
		b.Run(c.name, func(b *testing.B) {
			run, _ := trustedOriginRun(b, c.h)
			b.ReportAllocs()
			for b.Loop() {
				run()
			}
		})
	}
}

package gateway_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestTrailerSetCookie: on a route with cookie settings, a Set-Cookie the
// upstream sends in its trailer goes out nowhere (browsers do not act on
// trailer fields, so only other clients would get it, unhardened), while
// the final answer's own Set-Cookie is hardened and the upstream's other
// trailer fields (X-Sum, Grpc-Status) are relayed. From a chunked
// HTTP/1.1 upstream on both proxy paths and from an HTTP/2 upstream,
// declared in Trailer or not, to HTTP/1.1 and HTTP/2 clients. The twin
// (negative control): the route without cookie settings relays the
// trailer's Set-Cookie, which shows the client would see it.
func TestTrailerSetCookie(t *testing.T) {
	// Declared: Set-Cookie and X-Sum are announced and sent, so that the
	// proxy copies the trailer into the header it announced.
	const declared = "HTTP/1.1 200 OK\r\nSet-Cookie: session=final; Path=/\r\nTrailer: Set-Cookie, X-Sum\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"2\r\nok\r\n0\r\nSet-Cookie: session=trailer; Path=/\r\nX-Sum: 5\r\nGrpc-Status: 0\r\n\r\n"
	// Undeclared: only X-Sum is announced; the proxy relays what it did
	// not announce under http.TrailerPrefix.
	const undeclared = "HTTP/1.1 200 OK\r\nSet-Cookie: session=final; Path=/\r\nTrailer: X-Sum\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"2\r\nok\r\n0\r\nSet-Cookie: session=trailer; Path=/\r\nX-Sum: 5\r\nGrpc-Status: 0\r\n\r\n"
	raw := newRawUpstream(t, func(r *http.Request) string {
		if r.URL.Query().Has("undeclared") {
			return undeclared
		}
		return declared
	})
	w := newWorld(t)
	h2up := startH2Upstream(t, w, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Set-Cookie", "session=final; Path=/")
		rw.Header().Set("Content-Type", "text/plain")
		if r.URL.Query().Has("undeclared") {
			rw.Header().Set("Trailer", "X-Sum")
		} else {
			rw.Header().Set("Trailer", "Set-Cookie, X-Sum")
		}
		io.WriteString(rw, "ok")
		// Flushed: otherwise Go's HTTP/2 server sends a Content-Length,
		// and an HTTP/1.1 client of the gateway would get the body
		// unchunked, with no trailer at all.
		rw.(http.Flusher).Flush()
		if r.URL.Query().Has("undeclared") {
			rw.Header().Set(http.TrailerPrefix+"Set-Cookie", "session=trailer; Path=/")
		} else {
			rw.Header().Set("Set-Cookie", "session=trailer; Path=/")
		}
		rw.Header().Set("X-Sum", "5")
		rw.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	}))

	cookies := gateway.Cookies{Secure: true, SameSite: gateway.SameSiteLax, HostPrefix: "session"}
	allow := gateway.Allow{AnyVerified: true}
	cfg := w.config()
	cfg.Routes = append([]gateway.Route{
		{Name: "hardened", PathPrefix: "/hardened", Upstream: raw.URL, Allow: allow, Cookies: cookies},
		{Name: "plain", PathPrefix: "/plain", Upstream: raw.URL, Allow: allow},
		{Name: "hardened-h2", PathPrefix: "/h2hardened", Upstream: h2up.URL, UpstreamCAFile: w.path("ca.pem"), Allow: allow, Cookies: cookies},
		{Name: "plain-h2", PathPrefix: "/h2plain", Upstream: h2up.URL, UpstreamCAFile: w.path("ca.pem"), Allow: allow},
	}, cfg.Routes...)
	gw := w.start(cfg)
	clients := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"HTTP/1.1", h1Conn(t, gw, "localhost", w.web)},
		{"HTTP/2", h2Conn(t, gw, "localhost", w.web)},
	}
	const hardenedFinal = "__Host-session=final; Path=/; Secure; SameSite=Lax"
	for _, tc := range []struct {
		name       string
		path       string
		direct     bool
		wantHeader string
		// wantTrailer is the trailer's Set-Cookie the client must see,
		// "" for none.
		wantTrailer string
	}{
		{"hardened, h1 upstream, direct", "/hardened/x", true, hardenedFinal, ""},
		{"hardened, h1 upstream, ReverseProxy", "/hardened/x", false, hardenedFinal, ""},
		{"hardened, h2 upstream", "/h2hardened/x", false, hardenedFinal, ""},
		{"negative control: plain, h1 upstream, direct", "/plain/x", true, "session=final; Path=/", "session=trailer; Path=/"},
		{"negative control: plain, h1 upstream, ReverseProxy", "/plain/x", false, "session=final; Path=/", "session=trailer; Path=/"},
		{"negative control: plain, h2 upstream", "/h2plain/x", false, "session=final; Path=/", "session=trailer; Path=/"},
	} {
		for _, query := range []string{"", "?undeclared"} {
			for _, c := range clients {
				t.Run(tc.name+query+", "+c.name, func(t *testing.T) {
					gateway.SetDirectProxy(gw.g, tc.direct)
					req, _ := http.NewRequestWithContext(t.Context(), "GET", "https://localhost"+tc.path+query, nil)
					req.Header.Set("Te", "trailers")
					resp, err := c.rt.RoundTrip(req)
					if err != nil {
						t.Fatal(err)
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || string(b) != "ok" {
						t.Fatalf("body %q, %v; want the upstream's", b, err)
					}
					if got := resp.Header["Set-Cookie"]; !slices.Equal(got, []string{tc.wantHeader}) {
						t.Errorf("header Set-Cookie %q, want %q", got, tc.wantHeader)
					}
					got := resp.Trailer["Set-Cookie"]
					if tc.wantTrailer == "" && len(got) > 0 {
						t.Errorf("trailer Set-Cookie %q, want none", got)
					}
					if tc.wantTrailer != "" && !slices.Contains(got, tc.wantTrailer) {
						t.Errorf("trailer Set-Cookie %q, want %q among them", got, tc.wantTrailer)
					}
					if got := resp.Trailer.Get("X-Sum"); got != "5" {
						t.Errorf("trailer X-Sum %q, want 5 (trailer %v)", got, resp.Trailer)
					}
					if got := resp.Trailer.Get("Grpc-Status"); got != "0" {
						t.Errorf("trailer Grpc-Status %q, want 0 (trailer %v)", got, resp.Trailer)
					}
				})
			}
		}
	}
}

// startH2Upstream starts an https upstream that speaks HTTP/2, with a
// certificate for 127.0.0.1 from w's CA (which the gateway's upstream
// connections trust).
func startH2Upstream(t *testing.T, w *world, h http.Handler) *httptest.Server {
	t.Helper()
	up := httptest.NewUnstartedServer(h)
	cert := pkitest.ServerWith(t, w.ca, pki.ServerOptions{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	up.TLS = &tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate()}}
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	return up
}

package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"reflect"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// upstreamHeaderFixture builds the upstream request's header as
// serveDirect does (outHeader, rewriteFiltered, the User-Agent), for a
// request on the connection cf.
type upstreamHeaderFixture struct {
	c  *compiled
	rt *route
	id *mtls.Identity
	cs *tls.ConnectionState
}

func (f *upstreamHeaderFixture) build(t testing.TB, cf *connState, header http.Header, token string, trusted bool) (in, out *http.Request, room int) {
	x := &exchange{route: f.rt, identity: f.id, hasIdentity: f.id != nil, csrfToken: token, conn: cf}
	ctx := &exchangeContext{Context: context.Background(), x: x}
	u, _ := url.Parse("/api/x?a=1")
	in = (&http.Request{Method: "GET", URL: u, Host: "app.example", Header: header, RemoteAddr: "192.0.2.1:1234", TLS: f.cs}).WithContext(ctx)
	out = new(http.Request)
	*out = *in
	uc := *in.URL
	out.URL = &uc
	room = f.c.addedRoom(in, trusted)
	var d dropped
	out.Header = f.c.outHeader(in.Header, room, false, trusted, &d, nil)
	f.c.rewriteFiltered(&httputil.ProxyRequest{In: in, Out: out}, f.rt, trusted, d, false)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "")
	}
	return in, out, room
}

func newUpstreamHeaderFixture(t testing.TB, format forwarded.Format) *upstreamHeaderFixture {
	ca := pkitest.CA(t)
	leaf := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}).Cert
	id := mtls.NewIdentity(leaf)
	up, _ := url.Parse("http://127.0.0.1:8080")
	return &upstreamHeaderFixture{
		c:  &compiled{forwarded: newForwardedCache(maxSharedForwarded), forwardFormat: format, proxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
		rt: &route{name: "api", upstream: up},
		id: &id,
		cs: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}},
	}
}

// TestUpstreamHeaderRoom: the room outHeader makes for the headers the
// gateway adds (addedRoom) is never less than what it adds, for every
// identity format, with and without a CSRF token, a User-Agent, a
// trusted proxy's forwarding headers, on a connection's first request
// and on a later one; and a request with a few headers fits a small map.
// (Too little room would only cost the map's growth: this keeps the
// saving real.) The header built on a later request, from the
// connection's cached values, is the header built on its first.
func TestUpstreamHeaderRoom(t *testing.T) {
	headers := []struct {
		name   string
		header http.Header
	}{
		{"a User-Agent", http.Header{"User-Agent": {"bench"}}},
		{"no header", http.Header{}},
		{"trailers", http.Header{"User-Agent": {"curl"}, "Accept": {"*/*"}, "Te": {"trailers"}}},
		{"a trusted proxy's", http.Header{"User-Agent": {"x"}, "X-Forwarded-For": {"10.0.0.1"}, "Forwarded": {"for=10.0.0.1"}, "X-Forwarded-Host": {"a"}, "X-Forwarded-Proto": {"https"}}},
		{"a browser's", http.Header{"Accept": {"text/html"}, "Accept-Encoding": {"gzip"}, "Accept-Language": {"en"}, "User-Agent": {"Mozilla/5.0"},
			"Cookie": {"a=b"}, "Sec-Fetch-Site": {"same-origin"}, "Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"}}},
	}
	for _, format := range []forwarded.Format{forwarded.RFC9440, forwarded.XFCC, forwarded.Both} {
		f := newUpstreamHeaderFixture(t, format)
		for _, h := range headers {
			for _, token := range []string{"", "masked-token"} {
				for _, trusted := range []bool{false, true} {
					cf := &connState{}
					var first http.Header
					for i := range 2 {
						_, out, room := f.build(t, cf, h.header, token, trusted)
						if n, most := len(out.Header), len(h.header)+room; n > most {
							t.Errorf("%v, %s, token %q, trusted %v, request %d: %d headers, room for %d", format, h.name, token, trusted, i, n, most)
						}
						if i == 0 {
							first = out.Header
						} else if !reflect.DeepEqual(out.Header, first) {
							t.Errorf("%v, %s, token %q, trusted %v: later request got %v, first %v", format, h.name, token, trusted, out.Header, first)
						}
					}
				}
			}
		}
	}
	f := newUpstreamHeaderFixture(t, forwarded.RFC9440)
	cf := &connState{}
	for i := range 2 {
		in, _, room := f.build(t, cf, http.Header{"User-Agent": {"bench"}}, "", false)
		if n := len(in.Header) + room; n > 8 {
			t.Errorf("request %d with a User-Agent: room for %d headers, want at most 8 (one map group)", i, n)
		}
	}
}

// TestUpstreamHeaderAllocs: on a keep-alive connection's later requests,
// the upstream request's header costs its map alone (two allocations: the
// map and its one group of 8), the identity and X-Forwarded-* values
// coming from the connection's cache.
func TestUpstreamHeaderAllocs(t *testing.T) {
	f := newUpstreamHeaderFixture(t, forwarded.RFC9440)
	cf := &connState{}
	header := http.Header{"User-Agent": {"bench"}}
	f.build(t, cf, header, "", false) // the connection's first request
	x := &exchange{route: f.rt, identity: f.id, hasIdentity: true, conn: cf}
	u, _ := url.Parse("/api/x")
	in := (&http.Request{Method: "GET", URL: u, Host: "app.example", Header: header, RemoteAddr: "192.0.2.1:1234", TLS: f.cs}).WithContext(&exchangeContext{Context: context.Background(), x: x})
	out := new(http.Request)
	uc := *u
	pr := &httputil.ProxyRequest{In: in, Out: out}
	n := testing.AllocsPerRun(100, func() {
		*out = *in
		uc = *u
		out.URL = &uc
		var d dropped
		out.Header = f.c.outHeader(in.Header, f.c.addedRoom(in, false), false, false, &d, nil)
		f.c.rewriteFiltered(pr, f.rt, false, d, false)
	})
	if n > 2 {
		t.Errorf("got %v allocations per request, want 2", n)
	}
	for name, v := range out.Header {
		if cap(v) != len(v) {
			t.Errorf("%s has room to append in place (len %d, cap %d): an append would write into a shared value", name, len(v), cap(v))
		}
	}
}

package gateway_test

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"github.com/forgeproof/forgeproof/gateway"
)

// schemeGet is get with :scheme set to scheme.
func schemeGet(scheme, host, path string) []string {
	return []string{":method", "GET", ":scheme", scheme, ":authority", host, ":path", path, "accept", "application/json"}
}

// TestHTTP2SchemeHTTP: an HTTP/2 request on the gateway's TLS listener
// whose :scheme is http is its connection's like any other. Go's HTTP/2
// server leaves r.TLS nil for it, but net/http's ALPN hand-off
// (initALPNRequest) sets it from the connection before the gateway's
// handler runs, which cannot see :scheme at all (r.URL.Scheme is empty).
// Were r.TLS nil, the request would be read as one without a
// certificate: 403 identity-missing on /api, served without Client-Cert
// on /public, its connection not re-checked. So this test pins, against a
// change in Go: the same answer and upstream headers (identity,
// Client-Cert, X-Forwarded-Proto: https) as its twin with :scheme https,
// on an identity route and on one that serves clients without a
// certificate; and after a CRL reload revokes the certificate, 403
// revoked for both (the re-check). Any other :scheme is reset by Go's
// server (PROTOCOL_ERROR) and reaches nothing.
func TestHTTP2SchemeHTTP(t *testing.T) {
	t.Parallel()
	w, cfg := h2World(t)
	cfg.Listeners[0].TLS.CRLFiles = []string{w.crlNumbered("crl.pem", 1)}
	gw := w.start(cfg)
	h := dialH2Raw(t, gw, "localhost", w.web)
	id := uint32(1)
	do := func(scheme, path string) h2Answer {
		t.Helper()
		h.request(id, schemeGet(scheme, "localhost", path)...)
		a, err := h.answer(id)
		if err != nil {
			t.Fatalf(":scheme %s %s: %v", scheme, path, err)
		}
		id += 2
		return a
	}
	for _, path := range []string{"/api/x", "/public/x"} {
		var seen [2]seenRequest
		for i, scheme := range []string{"https", "http"} {
			a := do(scheme, path)
			if a.status != http.StatusOK {
				t.Fatalf(":scheme %s %s: got %+v, want 200", scheme, path, a)
			}
			seen[i] = mustJSON(t, a.body)
			if got := seen[i].Header[gateway.HeaderClientIdentity]; !slices.Equal(got, []string{"spiffe://test.example/web"}) {
				t.Errorf(":scheme %s %s: identity %q, want the connection's", scheme, path, got)
			}
			if got := seen[i].Header["Client-Cert"]; len(got) != 1 {
				t.Errorf(":scheme %s %s: Client-Cert %q, want one", scheme, path, got)
			}
			if got := seen[i].Header["X-Forwarded-Proto"]; !slices.Equal(got, []string{"https"}) {
				t.Errorf(":scheme %s %s: X-Forwarded-Proto %q, want [https]", scheme, path, got)
			}
			delete(seen[i].Header, "X-Forwarded-For") // same peer, but to be sure
		}
		a, _ := json.Marshal(seen[0].Header)
		b, _ := json.Marshal(seen[1].Header)
		if string(a) != string(b) {
			t.Errorf("%s: the upstream got\n%s\nfor :scheme https and\n%s\nfor :scheme http", path, a, b)
		}
	}
	before := w.upstream.count()
	for _, scheme := range []string{"ftp", "HTTPS", ""} {
		if a := do(scheme, "/public/x"); a.reset != http2.ErrCodeProtocol {
			t.Errorf(":scheme %q: got %+v, want RST_STREAM PROTOCOL_ERROR", scheme, a)
		}
	}
	if got := w.upstream.count() - before; got != 0 {
		t.Errorf("reset requests: %d reached the upstream, want none", got)
	}

	// Revoked: refused with the re-check's reason whatever the :scheme.
	// The refusal closes its connection, so the twin has its own, opened
	// before the reload (a new handshake would be refused).
	twin := dialH2Raw(t, gw, "localhost", w.web)
	w.crlNumbered("crl.pem", 2, w.web)
	if err := gw.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		scheme string
		h      *h2Raw
	}{{"http", h}, {"https", twin}} {
		c.h.request(101, schemeGet(c.scheme, "localhost", "/public/x")...)
		a, err := c.h.answer(101)
		if err != nil && strings.HasPrefix(err.Error(), "GOAWAY NO_ERROR") {
			// Connection: close on HTTP/2 is a graceful GOAWAY, sent
			// before the answer or between its HEADERS and DATA: read on
			// to the stream's end, keeping a status already read.
			var rest h2Answer
			rest, err = c.h.answer(101)
			rest.status = cmp.Or(rest.status, a.status)
			a = rest
		}
		if err != nil || a.status != http.StatusForbidden || a.reason != "revoked" {
			t.Errorf(":scheme %s on a revoked connection: got %+v %v, want 403 revoked", c.scheme, a, err)
		}
	}
	if got := w.upstream.count() - before; got != 0 {
		t.Errorf("revoked: %d requests reached the upstream, want none", got)
	}
}

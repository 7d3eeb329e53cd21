package gateway_test

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// Handler behind an embedder's server that hands it field names not in
// canonical form (here a middleware that lower-cases them, as a server
// not built on net/http may): a cross-site Origin is still refused and
// an Upgrade is still stripped, while the same-origin twin and a plain
// GET reach the upstream. Negative control: with the names left as
// given, both pass every check and reach the upstream.
func TestHandlerNonCanonicalNames(t *testing.T) {
	t.Parallel()
	w, g, _, u, _ := normalizeWorld(t)
	lower := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		h := make(http.Header, len(r.Header))
		for k, v := range r.Header {
			h[strings.ToLower(k)] = v
		}
		r.Header = h
		g.Handler().ServeHTTP(rw, r)
	})
	gw := serveEmbedded(t, w, lower, false)
	c := gw.client(w.web)
	self := gw.base // https://127.0.0.1:PORT, the requests' own origin
	upgrade := http.Header{"Connection": {"Upgrade, HTTP2-Settings"}, "Upgrade": {"h2c"}, "Http2-Settings": {"AAMAAABkAAQAAP__"}}

	type result struct {
		status int
		body   string
		heads  []string
	}
	send := func(method string, header http.Header) result {
		t.Helper()
		status, body := do(t, c, method, gw.base+"/x", header, "")
		return result{status, body, u.heads()}
	}
	upstreamHas := func(r result, field string) bool {
		return len(r.heads) == 1 && strings.Contains(strings.ToLower(r.heads[0]), "\r\n"+field+":")
	}

	if r := send("POST", http.Header{"Origin": {"https://evil.example"}}); r.status != http.StatusForbidden || len(r.heads) != 0 {
		t.Errorf("cross-site POST, names lower-cased: %d %q, upstream %q; want 403 and nothing upstream", r.status, r.body, r.heads)
	}
	if r := send("POST", http.Header{"Origin": {self}}); r.status != http.StatusOK || len(r.heads) != 1 {
		t.Errorf("same-origin POST, names lower-cased: %d %q, upstream %q; want 200", r.status, r.body, r.heads)
	}
	if r := send("GET", upgrade); r.status != http.StatusOK || upstreamHas(r, "upgrade") || upstreamHas(r, "http2-settings") {
		t.Errorf("GET with Upgrade: h2c, names lower-cased: %d %q, upstream %q; want 200 without the upgrade fields", r.status, r.body, r.heads)
	}
	if r := send("GET", nil); r.status != http.StatusOK || !upstreamHas(r, "client-cert") {
		t.Errorf("plain GET: %d %q, upstream %q; want 200 with the identity", r.status, r.body, r.heads)
	}

	// Negative control: the names as given pass the checks unseen.
	gateway.SetCanonicalNames(g, false)
	if r := send("POST", http.Header{"Origin": {"https://evil.example"}}); r.status != http.StatusOK || !upstreamHas(r, "origin") {
		t.Errorf("check off, cross-site POST: %d %q, upstream %q; want the bypass (200, Origin upstream)", r.status, r.body, r.heads)
	}
	if r := send("GET", upgrade); r.status != http.StatusOK || !upstreamHas(r, "upgrade") {
		t.Errorf("check off, GET with Upgrade: %d %q, upstream %q; want the bypass (Upgrade upstream)", r.status, r.body, r.heads)
	}
}

// Names that differ only in case are merged under the canonical one, in
// the names' byte order: a request with "Origin" and "origin" carries
// two Origins, which the CSRF check refuses. Negative control: with the
// names left as given, the second one passes unseen.
func TestHandlerMergedNames(t *testing.T) {
	t.Parallel()
	w, g, _, u, _ := normalizeWorld(t)
	dup := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if v := r.Header["X-Dup-Origin"]; v != nil {
			r.Header["origin"] = v
			delete(r.Header, "X-Dup-Origin")
		}
		g.Handler().ServeHTTP(rw, r)
	})
	gw := serveEmbedded(t, w, dup, false)
	c := gw.client(w.web)
	status, body := do(t, c, "POST", gw.base+"/x", http.Header{"Origin": {gw.base}, "X-Dup-Origin": {"https://evil.example"}}, "")
	if heads := u.heads(); status != http.StatusForbidden || !strings.Contains(body, "Origin") || len(heads) != 0 {
		t.Errorf("Origin and origin: %d %q, upstream %q; want 403 (Origin repeated) and nothing upstream", status, body, heads)
	}
	// Twin: the same-origin Origin alone passes.
	status, body = do(t, c, "POST", gw.base+"/x", http.Header{"Origin": {gw.base}}, "")
	if heads := u.heads(); status != http.StatusOK || len(heads) != 1 {
		t.Errorf("Origin alone: %d %q, upstream %q; want 200", status, body, heads)
	}
	// Negative control: left unmerged, the cross-site origin rides past
	// the check behind the same-origin Origin.
	gateway.SetCanonicalNames(g, false)
	status, body = do(t, c, "POST", gw.base+"/x", http.Header{"Origin": {gw.base}, "X-Dup-Origin": {"https://evil.example"}}, "")
	if heads := u.heads(); status != http.StatusOK || len(heads) != 1 || !strings.Contains(heads[0], "https://evil.example") {
		t.Errorf("check off, Origin and origin: %d %q, upstream %q; want the bypass (200, the cross-site origin upstream)", status, body, heads)
	}
}

// serveEmbedded serves h, the gateway's Handler behind an embedder's
// server, over TLS (HTTP/2 too when http2), asking for client
// certificates and verifying them against w's CA, until the test ends.
func serveEmbedded(t *testing.T, w *world, h http.Handler, http2 bool) *running {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = http2
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pkitest.ServerWith(t, w.ca, serverOptions()).TLSCertificate()},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    w.ca.Pool(),
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &running{w: w, base: srv.URL}
}

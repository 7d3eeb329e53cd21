package gateway_test

import (
	"crypto/x509"
	"net/http"
	"slices"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestDecideOriginHeadersFromTrustedProxy (review finding): serve drops a
// trusted proxy's scheme, port and host headers that disagree with the
// origin checked (TestOriginHeadersFromTrustedProxy), but Decide kept
// them, as any trusted proxy's forwarding header: behind nginx or Envoy
// the upstream read X-Forwarded-Ssl: off or X-Host: evil.example where
// the gateway checked https://localhost. Now Envoy is told to remove
// them, and nginx, which cannot, has the request refused
// (header-unremovable). Twins: agreeing values pass and stay; the
// negative control (forwarded-origin check off) passes the disagreeing
// ones.
func TestDecideOriginHeadersFromTrustedProxy(t *testing.T) {
	w := newWorld(t)
	xf := http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"localhost"}}
	with := func(h http.Header, name, value string) http.Header {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h[name] = []string{value}
		return h
	}
	tests := []struct {
		name    string
		header  http.Header
		removed string // the header that disagrees, "" none
		scheme  string
	}{
		{"X-Forwarded-Ssl off, checked https", with(xf, "X-Forwarded-Ssl", "off"), "X-Forwarded-Ssl", ""},
		{"twin: X-Forwarded-Ssl on", with(xf, "X-Forwarded-Ssl", "on"), "", ""},
		{"X-Host evil.example", with(xf, "X-Host", "evil.example"), "X-Host", ""},
		{"twin: X-Host localhost:443", with(xf, "X-Host", "localhost:443"), "", ""},
		{"Forwarded proto=http: X-Forwarded-Scheme https", with(http.Header{"Forwarded": {"proto=http;host=localhost"}}, "X-Forwarded-Scheme", "https"), "X-Forwarded-Scheme", ""},
		{"twin: Forwarded proto=http: X-Forwarded-Scheme http", with(http.Header{"Forwarded": {"proto=http;host=localhost"}}, "X-Forwarded-Scheme", "http"), "", ""},
		{"no forwarding headers, the request's https: X-Forwarded-Port 80", with(nil, "X-Forwarded-Port", "80"), "X-Forwarded-Port", ""},
		{"twin: no forwarding headers: X-Forwarded-Port 443", with(nil, "X-Forwarded-Port", "443"), "", ""},
		{"no forwarding headers, the request's http: X-Forwarded-Port 443", with(nil, "X-Forwarded-Port", "443"), "X-Forwarded-Port", "http"},
		{"twin: the request's http: X-Forwarded-Port 80", with(nil, "X-Forwarded-Port", "80"), "", "http"},
	}
	for _, proxy := range []gateway.Proxy{gateway.ProxyNginx, gateway.ProxyEnvoy} {
		cfg := w.authzConfig("")
		cfg.Authz.Proxy = proxy
		cfg.TrustedProxies = []string{"192.0.2.0/24"}
		dec, err := gateway.New(cfg, gateway.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, check := range []bool{true, false} {
			gateway.SetForwardedOriginCheck(dec, check)
			for _, tc := range tests {
				d := dec.Decide(&gateway.Attributes{Method: "GET", URI: "/public/x", Host: "localhost", Scheme: tc.scheme, RemoteAddr: "192.0.2.1:1234",
					Header: tc.header, Chain: []*x509.Certificate{w.web.Cert}})
				disagrees := tc.removed != "" && check
				if disagrees && proxy != gateway.ProxyEnvoy {
					if d.Allowed || d.Status != http.StatusBadRequest || d.Reason != gateway.ReasonHeaderUnremovable {
						t.Errorf("%s, check %v, %s: got %d %q (allowed %v), want 400 %s", proxy, check, tc.name, d.Status, d.Reason, d.Allowed, gateway.ReasonHeaderUnremovable)
					}
					continue
				}
				if !d.Allowed {
					t.Errorf("%s, check %v, %s: got %d %q (%v), want allowed", proxy, check, tc.name, d.Status, d.Reason, d.Cause)
					continue
				}
				for name := range tc.header {
					if removed := slices.Contains(d.Remove, name); removed != (disagrees && name == tc.removed) && name != "Forwarded" {
						t.Errorf("%s, check %v, %s: %s removed %v (Remove %v)", proxy, check, tc.name, name, removed, d.Remove)
					}
				}
			}
		}
	}
}

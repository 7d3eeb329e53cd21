package gateway_test

import (
	"crypto/x509"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestIdentityUnforwardable: a verified identity that XFCC cannot carry
// so that every reader splits it the same (a URI SAN with a backslash
// before a quote) is refused 403 identity-unforwardable, on an identity
// route and a public one alike, and never reaches the upstream: forwarded
// without its identity headers, the upstream would take it for an
// anonymous client. Twin: a plain URI SAN is forwarded. Negative
// control: with rfc9440, which carries the certificate's DER and no
// text, the same certificate is forwarded.
func TestIdentityUnforwardable(t *testing.T) {
	t.Parallel()
	const hostile, plain = `https://client.example/?q=a\"b`, `https://client.example/?q=ab`
	for _, tt := range []struct {
		name, uri, path string
		format          forwarded.Format
		refused         bool
	}{
		{"xfcc, backslash before a quote", hostile, "/nocsrf/x", forwarded.XFCC, true},
		{"xfcc, backslash before a quote, public route", hostile, "/public/x", forwarded.XFCC, true},
		{"twin: xfcc, a plain URI", plain, "/nocsrf/x", forwarded.XFCC, false},
		{"control: rfc9440", hostile, "/nocsrf/x", forwarded.RFC9440, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			w := newWorld(t)
			cfg := w.config()
			cfg.IdentityForwarding = &tt.format
			gw := w.start(cfg)
			cert := pkitest.Client(t, w.ca, pki.ClientOptions{CommonName: "client", URIs: []*url.URL{u}})
			status, body := do(t, gw.client(cert), "GET", gw.base+tt.path, nil, "")
			if tt.refused {
				if status != http.StatusForbidden || !strings.Contains(body, string(gateway.ReasonIdentityUnforwardable)) {
					t.Fatalf("got %d %s, want 403 %s", status, body, gateway.ReasonIdentityUnforwardable)
				}
				if n := w.upstream.count(); n != 0 {
					t.Errorf("the upstream saw %d requests, want none", n)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("got %d %s, want 200", status, body)
			}
			seen := mustJSON(t, body).Header
			if len(seen["Forgeproof-Client-Identity"]) != 1 || len(seen["X-Forwarded-Client-Cert"])+len(seen["Client-Cert"]) != 1 {
				t.Errorf("the upstream's identity headers: %v, want them set", seen)
			}
		})
	}
}

// TestDecideIdentityUnforwardable: Gateway.Decide (forgeproof authz)
// refuses the same identity serve refuses (TestIdentityUnforwardable)
// instead of answering allowed with no identity headers to set; the
// plain URI SAN is allowed with its XFCC.
func TestDecideIdentityUnforwardable(t *testing.T) {
	w := newWorld(t)
	cfg := w.authzConfig("")
	cfg.IdentityForwarding = new(forwarded.XFCC)
	dec, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		uri     string
		refused bool
	}{
		{`https://client.example/?q=a\"b`, true},
		{`https://client.example/?q=ab`, false},
	} {
		u, err := url.Parse(tt.uri)
		if err != nil {
			t.Fatal(err)
		}
		cert := pkitest.Client(t, w.ca, pki.ClientOptions{CommonName: "client", URIs: []*url.URL{u}})
		d := dec.Decide(&gateway.Attributes{Method: "GET", URI: "/nocsrf/x", Host: "localhost", Header: http.Header{}, Chain: []*x509.Certificate{cert.Cert}})
		switch {
		case tt.refused && (d.Allowed || d.Status != http.StatusForbidden || d.Reason != gateway.ReasonIdentityUnforwardable):
			t.Errorf("%s: got allowed %v, %d %q, want 403 %s", tt.uri, d.Allowed, d.Status, d.Reason, gateway.ReasonIdentityUnforwardable)
		case !tt.refused && (!d.Allowed || d.Set.Get("X-Forwarded-Client-Cert") == ""):
			t.Errorf("%s: got allowed %v, %d %q, set %v, want allowed with XFCC", tt.uri, d.Allowed, d.Status, d.Reason, d.Set)
		}
	}
}

package forwarded_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// TrustedPeers built without ParseTrustedPeers (netip.MustParsePrefix in
// Go code) may hold a prefix that contains every peer: such a prefix
// trusts no one, so a client's own Client-Cert header is stripped, not
// believed. Its twin, a prefix that names the forwarder, is trusted; a
// client outside it that connects directly with the header is not.
func TestTrustedPeersEveryPeerTrustsNone(t *testing.T) {
	c := certs(t)
	header := forwarded.FormatClientCert(c.client.Cert)
	tests := []struct {
		name    string
		prefix  netip.Prefix
		remote  string
		trusted bool
	}{
		{"0.0.0.0/0 trusts no one", netip.MustParsePrefix("0.0.0.0/0"), "192.0.2.10:4000", false},
		{"::/0 trusts no one", netip.MustParsePrefix("::/0"), "[2001:db8::1]:4000", false},
		{"::ffff:0.0.0.0/96 (every IPv4 peer) trusts no one", netip.MustParsePrefix("::ffff:0.0.0.0/96"), "192.0.2.10:4000", false},
		{"the zero Prefix trusts no one", netip.Prefix{}, "192.0.2.10:4000", false},
		{"the forwarder's /24 trusts it", netip.MustParsePrefix("192.0.2.0/24"), "192.0.2.10:4000", true},
		{"the forwarder's /24: a client outside it sending the header directly is not trusted", netip.MustParsePrefix("192.0.2.0/24"), "198.51.100.7:4000", false},
		{"::ffff:192.0.2.0/120 trusts 192.0.2.10", netip.MustParsePrefix("::ffff:192.0.2.0/120"), "192.0.2.10:4000", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &forwarded.Trust{TrustedPeers: []netip.Prefix{tt.prefix}}
			r := httptest.NewRequest("GET", "https://svc.example/", nil)
			r.RemoteAddr = tt.remote
			r.Header.Set(forwarded.HeaderClientCert, header)
			if got := f.Trusted(r); got != tt.trusted {
				t.Fatalf("Trusted: got %v, want %v", got, tt.trusted)
			}
			var gotID mtls.Identity
			var gotHeader string
			f.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				gotID, _ = mtls.IdentityFromContext(r.Context())
				gotHeader = r.Header.Get(forwarded.HeaderClientCert)
			})).ServeHTTP(httptest.NewRecorder(), r)
			if believed := gotID.Forwarded && gotID.SPIFFEID.String() == clientID; believed != tt.trusted {
				t.Errorf("forwarded identity believed: got %v (%+v), want %v", believed, gotID.SPIFFEID, tt.trusted)
			}
			if (gotHeader != "") != tt.trusted {
				t.Errorf("Client-Cert reaching the handler: got %q, want it only from a trusted forwarder", gotHeader)
			}
		})
	}
}

package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestEmbeddedDNSSANNotHostName: a client certificate whose DNS SAN is
// no host name ("a,By=x;URI=spiffe://…/admin") is bad-certificate on the
// gateway's own listeners (mtls), so an upstream that splits
// X-Forwarded-Client-Cert on ',' and ';' never reads a URI the CA did not
// grant. Gateway.Handler behind a crypto/tls listener of one's own takes
// the identity crypto/tls verified: it must not forward that name either.
// Twin: a host-name DNS SAN reaches the upstream in the XFCC.
func TestEmbeddedDNSSANNotHostName(t *testing.T) {
	t.Parallel()
	const smuggled = "a,By=x;URI=spiffe://test.example/admin"
	for _, tt := range []struct {
		name, dns string
		forwarded bool
	}{
		{"DNS SAN with XFCC delimiters", smuggled, false},
		{"twin: a host name", "web-1.example.com", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			cfg := w.config()
			cfg.IdentityForwarding = new(forwarded.XFCC)
			gw := w.start(cfg)
			embedded, srv := startEmbedded(t, w, gw.g.Handler())
			defer srv.Close()
			cert := pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: "spiffe://test.example/web", DNSNames: []string{tt.dns}})
			status, body := do(t, embedded.client(cert), "GET", embedded.base+"/api/x", nil, "")
			if status != http.StatusOK {
				if !tt.forwarded {
					return // refused: as the gateway's own listeners do
				}
				t.Fatalf("got %d %s", status, body)
			}
			xfcc := strings.Join(mustJSON(t, body).Header["X-Forwarded-Client-Cert"], ",")
			if got := strings.Contains(xfcc, tt.dns); got != tt.forwarded {
				t.Errorf("the upstream's X-Forwarded-Client-Cert %q holds %q: %v, want %v", xfcc, tt.dns, got, tt.forwarded)
			}
		})
	}
}

package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
)

// TestIdentityPerKeepAliveConnection: the identity is computed once per
// connection and reused for its later requests; interleaved keep-alive
// connections with different certificates each keep their own, and a
// connection without a certificate stays anonymous. The forwarded
// Client-Cert, cached per connection too, is the connection's own
// certificate on every request, never a client-sent one.
func TestIdentityPerKeepAliveConnection(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	clients := []struct {
		name string
		cert *pki.Cert
		path string
		want string
	}{
		{"web", w.web, "/api/x", "spiffe://test.example/web"},
		{"admin", w.admin, "/admin/x", "spiffe://test.example/admin"},
		{"anonymous", nil, "/public/x", ""},
	}
	// One raw connection per client, so that "the same connection" is
	// certain: an http.Client may dial anew when its previous connection
	// is not back in its idle pool yet, which under -race and load it
	// once was not.
	conns := make([]*rawClient, len(clients))
	for i, c := range clients {
		conns[i] = gw.dialRaw(t, c.cert)
	}
	for round := range 3 {
		for i, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				conns[i].t = t
				conns[i].send("GET " + c.path + " HTTP/1.1\r\nHost: localhost\r\nClient-Cert: :c3Bvb2Y=:\r\n\r\n") // spoofed
				resp, body := conns[i].read()
				if resp.StatusCode != 200 {
					t.Fatalf("round %d: got status %d %s, want 200", round, resp.StatusCode, body)
				}
				if resp.Close {
					t.Errorf("round %d: the gateway closes the connection, want it kept alive", round)
				}
				seen := mustJSON(t, body)
				if got := http.Header(seen.Header).Get(gateway.HeaderClientIdentity); got != c.want {
					t.Errorf("round %d: upstream got identity %q, want %q", round, got, c.want)
				}
				wantCert := ""
				if c.cert != nil {
					wantCert = forwarded.FormatClientCert(c.cert.Cert)
				}
				if got := strings.Join(seen.Header["Client-Cert"], ","); got != wantCert {
					t.Errorf("round %d: upstream got Client-Cert %q, want %q", round, got, wantCert)
				}
			})
		}
	}
}

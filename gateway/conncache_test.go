package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptrace"
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
	cs := make([]*http.Client, len(clients))
	for i, c := range clients {
		cs[i] = gw.client(c.cert)
	}
	for round := range 3 {
		for i, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				reused := false
				req, _ := http.NewRequest("GET", gw.base+c.path, nil)
				req.Header.Set("Client-Cert", ":c3Bvb2Y=:") // spoofed
				req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
					GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
				}))
				resp, err := cs[i].Do(req)
				if err != nil {
					t.Fatal(err)
				}
				seen := readSeen(t, resp)
				if resp.StatusCode != 200 {
					t.Fatalf("got status %d, want 200", resp.StatusCode)
				}
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
				if round > 0 && !reused {
					t.Errorf("round %d: got a new connection, want the keep-alive one", round)
				}
			})
		}
	}
}

func readSeen(t *testing.T, resp *http.Response) seenRequest {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mustJSON(t, string(b))
}

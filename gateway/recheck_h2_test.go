package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestRecheckRevokedByReloadHTTP2: the re-check of open connections holds
// on HTTP/2 too, where a browser keeps one connection for every request
// to the host: after a CRL revoking the client is reloaded, its next
// request on the open connection is refused 403 revoked; another
// client's open HTTP/2 connection keeps being served (the twin); with the
// re-check off the revoked client is served (the negative control).
func TestRecheckRevokedByReloadHTTP2(t *testing.T) {
	for _, recheck := range []bool{true, false} {
		name := "recheck"
		if !recheck {
			name = "negative control: recheck off"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			cfg := w.config()
			cfg.Listeners[0].TLS.CRLFiles = []string{w.crlNumbered("crl.pem", 1)}
			gw := w.start(cfg)
			gateway.SetRecheck(gw.g, recheck)
			h2 := func(c *http.Client) *http.Client {
				c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
				return c
			}
			web, admin := h2(gw.client(w.web)), h2(gw.client(w.admin))
			// On HTTP/2 the authority must match the SNI name (else 421).
			base := strings.Replace(gw.base, "127.0.0.1", "localhost", 1)
			for who, c := range map[string]*http.Client{"web": web, "admin": admin} {
				resp, err := c.Get(base + "/api/x")
				if err != nil {
					t.Fatalf("%s before the reload: %v", who, err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
					t.Fatalf("%s before the reload: got %d over %s, want 200 over HTTP/2", who, resp.StatusCode, resp.Proto)
				}
			}

			w.crlNumbered("crl.pem", 2, w.web)
			if err := gw.g.Reload(cfg); err != nil {
				t.Fatal(err)
			}
			a := send(t, web, base+"/api/x")
			switch {
			case !recheck:
				if a.err != nil || a.status != http.StatusOK || !a.reused {
					t.Errorf("revoked web, recheck off: got status %d, reused %v, error %v; want 200 on the open connection", a.status, a.reused, a.err)
				}
				return
			case a.err != nil || a.status != http.StatusForbidden || a.reason != "revoked" || !a.reused:
				t.Errorf("revoked web: got status %d, reason %q, reused %v, error %v; want 403 revoked on the open connection", a.status, a.reason, a.reused, a.err)
			}
			if a := send(t, web, base+"/api/x"); a.status == http.StatusOK {
				t.Errorf("revoked web, next request: got 200 (reused %v), want refused", a.reused)
			}
			if a := send(t, admin, base+"/api/x"); a.err != nil || a.status != http.StatusOK || !a.reused {
				t.Errorf("admin: got status %d, reused %v, error %v; want 200 on the open connection", a.status, a.reused, a.err)
			}
		})
	}
}

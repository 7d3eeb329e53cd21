package gateway_test

import (
	"crypto/x509/pkix"
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestCommonNameAmbiguous (redteam finding): a subject with two common
// names (CN=admin, then CN=web) means "web" to Go, which keeps the last,
// and "admin" to OpenSSL-based upstreams, Java and most others, which
// read the first from the Client-Cert the gateway forwards. A route that
// allows common name "web" let such a certificate through, and the
// upstream believed it was "admin". A certificate whose subject has more
// than one common name (in separate RDNs or one multi-valued RDN) is now
// refused by a common-names allow list (403 common-name-denied); the twin
// with one CN=web passes. (The negative control is the allowed twin's
// request with the two-CN certificate on a route that allows any
// verified certificate: it reaches the upstream, whose reading is then
// its own business.)
func TestCommonNameAmbiguous(t *testing.T) {
	cn := pkitest.CommonName
	tests := []struct {
		name, path string
		subject    pkix.RDNSequence
		want       int
	}{
		{"two CN RDNs", "/cn/x", pkix.RDNSequence{{cn("admin")}, {cn("web")}}, 403},
		{"one multi-valued RDN", "/cn/x", pkix.RDNSequence{{cn("admin"), cn("web")}}, 403},
		{"the same CN twice", "/cn/x", pkix.RDNSequence{{cn("web")}, {cn("web")}}, 403},
		{"one CN", "/cn/x", pkix.RDNSequence{{cn("web")}}, 200},
		{"two CNs on an any-verified route", "/nocsrf/x", pkix.RDNSequence{{cn("admin")}, {cn("web")}}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw, u := rawWorldWith(t, respondOK, func(cfg *gateway.Config) {
				cfg.Routes = append(cfg.Routes, gateway.Route{Name: "cn", PathPrefix: "/cn", Allow: gateway.Allow{CommonNames: []string{"web"}}})
			})
			c := gw.dialRaw(t, pkitest.ClientWithSubject(t, w.ca, tt.subject))
			c.send("GET " + tt.path + " HTTP/1.1\r\nHost: localhost\r\n\r\n")
			resp, body := c.read()
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want == 403 && !strings.Contains(body, "common-name-denied") {
				t.Errorf("got %s, want reason common-name-denied", body)
			}
			c.Close()
			got := received(u.wait())
			if reached := got != ""; reached != (tt.want == http.StatusOK) {
				t.Errorf("upstream got %q, want the request: %v", got, tt.want == http.StatusOK)
			}
		})
	}
}

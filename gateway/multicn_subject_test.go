package gateway_test

import (
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestCommonNamesForwarded: the subject the gateway forwards
// (Forgeproof-Client-Identity, and the XFCC Subject) printed only the
// last of several common names, so a certificate with CN=admin then
// CN=web reached an any-verified route's upstream as "CN=web", the same
// string as the certificate with CN=web alone, while the Client-Cert
// beside it says "admin" to OpenSSL and Java. Every common name is now
// forwarded; the twin with one CN is forwarded as before.
func TestCommonNamesForwarded(t *testing.T) {
	cn := pkitest.CommonName
	tests := []struct {
		name    string
		subject pkix.RDNSequence
		want    string
	}{
		{"one CN", pkix.RDNSequence{{cn("web")}}, "CN=web"},
		{"admin then web", pkix.RDNSequence{{cn("admin")}, {cn("web")}}, "CN=web,CN=admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw, u := rawWorldWith(t, respondOK, func(cfg *gateway.Config) {
				both := forwarded.Both
				cfg.IdentityForwarding = &both
			})
			c := gw.dialRaw(t, pkitest.ClientWithSubject(t, w.ca, tt.subject))
			c.send("GET /nocsrf/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
			resp, body := c.read()
			if resp.StatusCode != 200 {
				t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
			}
			c.Close()
			got := received(u.wait())
			if !strings.Contains(got, "\r\nForgeproof-Client-Identity: "+tt.want+"\r\n") {
				t.Errorf("upstream got %q, want Forgeproof-Client-Identity: %s", got, tt.want)
			}
			if !strings.Contains(got, "\r\nX-Forwarded-Client-Cert: ") || !strings.Contains(got, `;Subject="`+tt.want+`"`) {
				t.Errorf("upstream got %q, want XFCC with Subject=%q", got, tt.want)
			}
		})
	}
}

package mtls_test

import (
	"crypto/x509"
	"net/url"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// TestSPIFFEIDOnlyFromLeafSVIDs: X509-SVID §5.2 says a validator MUST
// check that the certificate is a leaf (basic constraints cA false, no
// keyCertSign or cRLSign) and that its SPIFFE ID has a non-root path.
// A signing certificate (a CA: SPIRE's intermediates carry
// spiffe://<trust domain>) presented as a client certificate chains to a
// client CA, so it is verified; it must not be given a SPIFFE ID, or
// AuthorizeTrustDomain and AuthorizeSPIFFEID accept a CA as a workload.
// The twin (a leaf with a path) keeps its ID.
func TestSPIFFEIDOnlyFromLeafSVIDs(t *testing.T) {
	root := rawCA(t, "root", nil)
	s := verifyOnly(t, root)
	inTD, _ := mtls.AuthorizeTrustDomain("example.org")
	admin, _ := mtls.AuthorizeSPIFFEID("spiffe://example.org/admin")
	issue := func(id string, mod func(*x509.Certificate)) *x509.Certificate {
		return rawClient(t, root, func(c *x509.Certificate) {
			c.URIs = []*url.URL{mustURL(t, id)}
			if mod != nil {
				mod(c)
			}
		}).Cert
	}
	ca := func(c *x509.Certificate) {
		c.IsCA, c.BasicConstraintsValid = true, true
		c.KeyUsage |= x509.KeyUsageCertSign
	}
	tests := []struct {
		name      string
		cert      *x509.Certificate
		authz     mtls.Authorizer
		wantID    bool
		wantAllow bool
	}{
		{"leaf with path (twin)", issue("spiffe://example.org/admin", nil), admin, true, true},
		{"leaf with path, trust domain (twin)", issue("spiffe://example.org/admin", nil), inTD, true, true},
		{"CA certificate as client", issue("spiffe://example.org/admin", ca), admin, false, false},
		{"CA certificate with a trust domain ID", issue("spiffe://example.org", ca), inTD, false, false},
		{"keyCertSign without cA", issue("spiffe://example.org/admin", func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCertSign }), admin, false, false},
		{"cRLSign", issue("spiffe://example.org/admin", func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCRLSign }), admin, false, false},
		{"leaf with root ID (no path)", issue("spiffe://example.org", nil), inTD, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.VerifyChain([]*x509.Certificate{tt.cert})
			if err != nil {
				t.Fatalf("VerifyChain: %v (the chain itself is valid X.509)", err)
			}
			if got := !id.SPIFFEID.IsZero(); got != tt.wantID {
				t.Errorf("SPIFFE ID %q: set = %v, want %v", id.SPIFFEID, got, tt.wantID)
			}
			err = tt.authz(id)
			if (err == nil) != tt.wantAllow {
				t.Errorf("authorizer: %v, want allowed = %v", err, tt.wantAllow)
			}
			if err != nil && mtls.ReasonOf(err) == "" {
				t.Errorf("refusal without a reason code")
			}
		})
	}
}

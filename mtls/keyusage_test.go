package mtls_test

import (
	"crypto/x509"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// TestClientKeyUsage: a client certificate whose key usage extension does
// not allow digitalSignature may not sign a TLS handshake (RFC 5280
// §4.2.1.3); Go's x509 checks only extended key usages, so the server
// does: wrong-key-usage. Twins: no key usage extension at all, and
// digitalSignature with or without other bits, are accepted.
func TestClientKeyUsage(t *testing.T) {
	root := rawCA(t, "root", nil)
	s := verifyOnly(t, root)
	for _, tt := range []struct {
		name string
		ku   x509.KeyUsage
		want mtls.Reason // "" = accepted
	}{
		{"no key usage extension", 0, ""},
		{"digitalSignature", x509.KeyUsageDigitalSignature, ""},
		{"digitalSignature and keyEncipherment", x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ""},
		{"keyEncipherment only", x509.KeyUsageKeyEncipherment, mtls.ReasonWrongKeyUsage},
		{"keyAgreement only", x509.KeyUsageKeyAgreement, mtls.ReasonWrongKeyUsage},
		{"contentCommitment only", x509.KeyUsageContentCommitment, mtls.ReasonWrongKeyUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leaf := rawClient(t, root, func(c *x509.Certificate) { c.KeyUsage = tt.ku }).Cert
			_, err := s.VerifyChain([]*x509.Certificate{leaf})
			if got := mtls.ReasonOf(err); got != tt.want {
				t.Errorf("reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

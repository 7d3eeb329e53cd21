package mtls_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// TestClientKeyUsage: a client certificate whose key usage extension does
// not allow digitalSignature may not sign a TLS handshake (RFC 5280
// §4.2.1.3); Go's x509 checks only extended key usages, so the server
// does: wrong-key-usage. Twins: no key usage extension at all, and
// digitalSignature with or without other bits, are accepted.
//
// A key usage extension with no bit set is refused too: RFC 5280
// §4.2.1.3 says at least one bit must be set, OpenSSL refuses it
// ("invalid or inconsistent certificate extension"), and Go's x509
// reads it as KeyUsage 0, like no extension at all. Twin: no extension.
func TestClientKeyUsage(t *testing.T) {
	root := rawCA(t, "root", nil)
	s := verifyOnly(t, root)
	// A BIT STRING with no bits: 03 01 00.
	empty, err := asn1.Marshal(asn1.BitString{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		ku    x509.KeyUsage
		extra []pkix.Extension
		want  mtls.Reason // "" = accepted
	}{
		{"no key usage extension", 0, nil, ""},
		{"digitalSignature", x509.KeyUsageDigitalSignature, nil, ""},
		{"digitalSignature and keyEncipherment", x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, nil, ""},
		{"keyEncipherment only", x509.KeyUsageKeyEncipherment, nil, mtls.ReasonWrongKeyUsage},
		{"keyAgreement only", x509.KeyUsageKeyAgreement, nil, mtls.ReasonWrongKeyUsage},
		{"contentCommitment only", x509.KeyUsageContentCommitment, nil, mtls.ReasonWrongKeyUsage},
		{"key usage extension with no bit set", 0, []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: empty}}, mtls.ReasonWrongKeyUsage},
		{"non-critical key usage extension with no bit set", 0, []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Value: empty}}, mtls.ReasonWrongKeyUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leaf := rawClient(t, root, func(c *x509.Certificate) { c.KeyUsage, c.ExtraExtensions = tt.ku, tt.extra }).Cert
			_, err := s.VerifyChain([]*x509.Certificate{leaf})
			if got := mtls.ReasonOf(err); got != tt.want {
				t.Errorf("reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

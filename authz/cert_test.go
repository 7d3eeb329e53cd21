package authz_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestParseCertificatesDamagedBlock: a certificate header whose first
// PEM block is damaged is refused; pem.Decode would skip it and the next
// certificate, the client's issuer, would be read as the client's. The
// twin without the damaged block reads both certificates.
func TestParseCertificatesDamagedBlock(t *testing.T) {
	ca := pkitest.CA(t)
	leaf := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	chain := string(pki.EncodeCertsPEM(leaf.Cert, ca.Cert))
	if got, err := authz.ParseCertificates(url.QueryEscape(chain)); err != nil || len(got) != 2 || got[0].Subject.CommonName != "alice" {
		t.Fatalf("twin: got %d certificates, %v; want alice's and her CA's", len(got), err)
	}
	damaged := "-----BEGIN CERTIFICATE-----\n" + string(pki.EncodeCertsPEM(ca.Cert))
	_, err := authz.ParseCertificates(url.QueryEscape(damaged))
	if err == nil || !strings.Contains(err.Error(), "certificate 1 does not parse as PEM") {
		t.Fatalf("a damaged first block: got %v, want it refused", err)
	}
}

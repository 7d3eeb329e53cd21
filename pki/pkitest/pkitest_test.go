package pkitest_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestClientWithSubject: the subject is kept as given, two common names
// and all, and the certificate verifies as a client certificate from ca.
func TestClientWithSubject(t *testing.T) {
	ca := pkitest.CA(t)
	subject := pkix.RDNSequence{{pkitest.CommonName("admin")}, {pkitest.CommonName("web")}}
	c := pkitest.ClientWithSubject(t, ca, subject)
	want, err := asn1.Marshal(subject)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.Cert.RawSubject, want) {
		t.Errorf("got subject %q, want %q", c.Cert.Subject, subject)
	}
	if got := c.Cert.Subject.Names; len(got) != 2 || got[0].Value != "admin" || got[1].Value != "web" || !got[1].Type.Equal(asn1.ObjectIdentifier{2, 5, 4, 3}) {
		t.Errorf("got subject attributes %v, want CN=admin, CN=web", got)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("got %v, want a client certificate that verifies", err)
	}
}

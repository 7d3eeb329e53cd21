package mtls

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// FuzzSNI checks the selection against crypto/x509 for any server name a
// client may send: it never panics, and whenever one of the certificates
// is valid for the name (x509.Certificate.VerifyHostname), the one picked
// is valid for it too. Seeded from the cases of TestSNISelectsCertificate.
func FuzzSNI(f *testing.F) {
	ca := pkitest.CA(f)
	var certs []tls.Certificate
	for _, names := range [][]string{{"default.test"}, {"a.test"}, {"b.test", "B2.test"}, {"*.wild.test", "wild.test"}, {"*.x.wild.test"}} {
		certs = append(certs, pkitest.ServerWith(f, ca, pki.ServerOptions{DNSNames: names}).TLSCertificate())
	}
	var kps []KeyPair
	for i := range certs {
		kps = append(kps, KeyPair{Certificate: &certs[i]})
	}
	set, errs := loadCertificates(&ServerConfig{Certificates: kps}, time.Now(), func(string, []byte) {})
	if errs != nil {
		f.Fatal(errs)
	}
	for _, s := range []string{"", "a.test", "A.TEST", "a.test.", "b2.test", "x.wild.test", "y.x.wild.test", "x.y.wild.test", "wild.test", "unknown.test", ".", "..", "*.wild.test", "a..test", ".wild.test"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := set.forName(name)
		if got == nil {
			t.Fatalf("forName(%q): got nil, want a certificate", name)
		}
		if got != set.all[0] && got.Leaf.VerifyHostname(name) != nil {
			t.Fatalf("forName(%q): got %v, not valid for the name, want the default", name, got.Leaf.DNSNames)
		}
		for _, c := range set.all {
			if c.Leaf.VerifyHostname(name) == nil && got.Leaf.VerifyHostname(name) != nil {
				t.Fatalf("forName(%q): got %v, want %v, which is valid for the name", name, got.Leaf.DNSNames, c.Leaf.DNSNames)
			}
		}
	})
}

package mtls_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// TestCRLSignerWithoutCRLSign: a CRL whose signature verifies under a
// client CA's key, but whose CA certificate's key usage lacks cRLSign
// (RFC 5280 §4.2.1.3; OpenSSL: "key usage does not include CRL
// signing"), is refused at load saying so, not as "not signed by any
// client CA", which sends the operator looking for a missing CA. The
// same CRL of a CA with cRLSign loads (twin).
func TestCRLSignerWithoutCRLSign(t *testing.T) {
	t.Parallel()
	for _, usage := range []x509.KeyUsage{x509.KeyUsageCertSign, x509.KeyUsageCertSign | x509.KeyUsageCRLSign} {
		ca := mint(t, &x509.Certificate{
			Subject: pkix.Name{CommonName: "CRLSign CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: usage,
		}, nil)
		// x509.CreateRevocationList insists on cRLSign: sign with a copy
		// that claims it (same name, same key).
		claim := *ca.Cert
		claim.KeyUsage |= x509.KeyUsageCRLSign
		now := time.Now()
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}, &claim, ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		_, err = mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: []mtls.Source{{Data: pki.EncodeCertsPEM(ca.Cert)}}, CRLs: crlData(der)})
		if usage&x509.KeyUsageCRLSign != 0 {
			if err != nil {
				t.Errorf("with cRLSign (twin): %v, want loaded", err)
			}
			continue
		}
		const want = `crl CRLs[0]: signed by the key of client CA "CN=CRLSign CA", whose key usage does not include cRLSign`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without cRLSign: got %v, want …%s…", err, want)
		}
	}
}

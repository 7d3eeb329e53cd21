package mtls_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// TestUnhandledCriticalExtensionNamed: crypto/x509 refuses a chain with a
// critical extension it cannot process, saying only "x509: unhandled
// critical extension". The refusal names the certificate (its role and
// subject) and the extension (its OID, and its name when well known, with
// the name constraint form x509 cannot check); the reason stays
// bad-certificate. The same chains with the extension non-critical are
// accepted (twins).
func TestUnhandledCriticalExtensionNamed(t *testing.T) {
	t.Parallel()
	private := func(critical bool) pkix.Extension {
		return pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, 1}, Critical: critical, Value: []byte{5, 0}}
	}
	ca := func(name string, parent *rawCert, ext pkix.Extension) *rawCert {
		return mint(t, &x509.Certificate{
			Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, ExtraExtensions: []pkix.Extension{ext},
		}, parent)
	}
	for _, critical := range []bool{true, false} {
		root := rawCA(t, "UCE root", nil)
		s := verifyOnly(t, root)
		extRoot := ca("UCE odd root", nil, private(critical))
		sOdd := verifyOnly(t, extRoot)
		inter := ca("UCE inter", root, private(critical))
		dirInter := ca("UCE dir inter", root, dirNameConstraint(t, critical, pkix.Name{Organization: []string{"Acme"}}))
		for _, tt := range []struct {
			name  string
			s     *mtls.Server
			chain []*x509.Certificate
			want  string // with critical; "" = accepted even then
		}{
			{"leaf", s, []*x509.Certificate{rawClient(t, root, func(c *x509.Certificate) { c.ExtraExtensions = []pkix.Extension{private(critical)} }).Cert},
				`client certificate "CN=client" has a critical extension x509 cannot process, 1.3.6.1.4.1.55555.1, so the chain is refused`},
			{"intermediate", s, []*x509.Certificate{rawClient(t, inter, nil).Cert, inter.Cert},
				`intermediate "CN=UCE inter" has a critical extension x509 cannot process, 1.3.6.1.4.1.55555.1, so the chain is refused`},
			{"client CA", sOdd, []*x509.Certificate{rawClient(t, extRoot, nil).Cert},
				`client CA "CN=UCE odd root" has a critical extension x509 cannot process, 1.3.6.1.4.1.55555.1, so the chain is refused`},
		} {
			_, err := tt.s.VerifyChain(tt.chain)
			switch {
			case !critical && err != nil:
				t.Errorf("%s, non-critical (twin): %v, want accepted", tt.name, err)
			case critical && (mtls.ReasonOf(err) != mtls.ReasonBadCertificate || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("%s: got %v (%q), want %s: …%s…", tt.name, err, mtls.ReasonOf(err), mtls.ReasonBadCertificate, tt.want)
			}
		}
		// A directoryName constraint is refused critical or not
		// (TestDirectoryNameConstraintNotIgnored); critical, x509 refuses
		// it first, and the message says which extension and form.
		_, err := s.VerifyChain([]*x509.Certificate{rawClient(t, dirInter, nil).Cert, dirInter.Cert})
		want := `intermediate "CN=UCE dir inter" has a critical extension x509 cannot process, 2.5.29.30 (name constraints holding a directoryName constraint)`
		if !critical {
			want = `intermediate "CN=UCE dir inter": its name constraints hold a directoryName constraint`
		}
		if mtls.ReasonOf(err) != mtls.ReasonBadCertificate || !strings.Contains(err.Error(), want) {
			t.Errorf("directoryName, critical=%v: got %v, want %s: …%s…", critical, err, mtls.ReasonBadCertificate, want)
		}
	}
}

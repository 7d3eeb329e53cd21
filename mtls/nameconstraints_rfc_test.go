package mtls_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/url"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// Name constraints that crypto/x509 reads more loosely than RFC 5280 and
// OpenSSL (nginx, HAProxy), which refuse these chains.

// TestURINameConstraintIsAHost: RFC 5280 §4.2.1.10 says a URI constraint
// without a leading period "specifies a host": permitted "prod.example"
// allows spiffe://prod.example/…, not spiffe://evil.prod.example/…
// (".prod.example" is the form that allows subdomains). crypto/x509 reads
// it as a DNS constraint, subdomains included, so an intermediate limited
// to one SPIFFE trust domain could issue IDs of every trust domain below
// it, which AuthorizeTrustDomain and AuthorizeSPIFFEID would then allow.
// OpenSSL refuses: "permitted subtree violation".
func TestURINameConstraintIsAHost(t *testing.T) {
	t.Parallel()
	root := rawCA(t, "NC root", nil)
	inter := mint(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "NC partner CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:            x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		PermittedURIDomains: []string{"prod.example", ".sub.example"},
	}, root)
	s := verifyOnly(t, root)
	for _, tt := range []struct {
		uri  string
		want mtls.Reason
	}{
		{"spiffe://prod.example/web", ""},                               // the host itself (twin)
		{"spiffe://PROD.example/web", ""},                               // hosts ignore case (x509 agrees)
		{"spiffe://a.sub.example/web", ""},                              // ".sub.example": its subdomains (twin)
		{"spiffe://evil.prod.example/admin", mtls.ReasonBadCertificate}, // not the host
		{"spiffe://sub.example/web", mtls.ReasonBadCertificate},         // x509 refuses too
	} {
		leaf := rawClient(t, inter, func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, tt.uri)} })
		if got := verifyReason(t, s, leaf.Cert, inter.Cert); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.uri, got, tt.want)
		}
	}
}

// dirNameConstraint is a name constraints extension permitting one
// directoryName subtree, which crypto/x509 cannot build.
func dirNameConstraint(t testing.TB, critical bool, permitted pkix.Name) pkix.Extension {
	t.Helper()
	rdns, err := asn1.Marshal(permitted.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(class, tag int, b []byte) []byte {
		out, err := asn1.Marshal(asn1.RawValue{Class: class, Tag: tag, IsCompound: true, Bytes: b})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// NameConstraints{permittedSubtrees [0] {GeneralSubtree{base: directoryName [4] Name}}}
	v := wrap(asn1.ClassUniversal, asn1.TagSequence, wrap(asn1.ClassContextSpecific, 0,
		wrap(asn1.ClassUniversal, asn1.TagSequence, wrap(asn1.ClassContextSpecific, 4, rdns))))
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 30}, Critical: critical, Value: v}
}

// TestDirectoryNameConstraintNotIgnored: a CA whose name constraints
// permit only the subtree O=Acme, OU=Partner may not issue OU=Admins
// (RFC 5280 §4.2.1.10; OpenSSL: "permitted subtree violation").
// crypto/x509 does not check directoryName constraints: it refuses a
// chain whose critical name constraints hold one (unhandled critical
// extension) but ignores them in a non-critical extension, so
// AuthorizeOrganizationalUnit("Admins") would allow the partner's
// certificate. Refused like the critical one; a non-critical
// extension with DNS constraints only is still accepted.
func TestDirectoryNameConstraintNotIgnored(t *testing.T) {
	t.Parallel()
	root := rawCA(t, "NC root", nil)
	s := verifyOnly(t, root)
	partner := pkix.Name{Organization: []string{"Acme"}, OrganizationalUnit: []string{"Partner"}}
	for _, critical := range []bool{false, true} {
		inter := mint(t, &x509.Certificate{
			Subject: pkix.Name{CommonName: "NC partner CA"}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage:        x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			ExtraExtensions: []pkix.Extension{dirNameConstraint(t, critical, partner)},
		}, root)
		leaf := rawClient(t, inter, func(c *x509.Certificate) {
			c.Subject = pkix.Name{Organization: []string{"Acme"}, OrganizationalUnit: []string{"Admins"}, CommonName: "mallory"}
		})
		if got := verifyReason(t, s, leaf.Cert, inter.Cert); got != mtls.ReasonBadCertificate {
			t.Errorf("critical=%v: got %q, want %q", critical, got, mtls.ReasonBadCertificate)
		}
	}
	t.Run("twin: non-critical DNS constraints only", func(t *testing.T) {
		inter := mint(t, &x509.Certificate{
			Subject: pkix.Name{CommonName: "NC partner CA"}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage:            x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			PermittedDNSDomains: []string{"example.com"},
		}, root)
		leaf := rawClient(t, inter, func(c *x509.Certificate) { c.DNSNames = []string{"a.example.com"} })
		if got := verifyReason(t, s, leaf.Cert, inter.Cert); got != "" {
			t.Errorf("got %q, want accepted", got)
		}
	})
}

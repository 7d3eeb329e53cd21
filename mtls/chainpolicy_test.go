package mtls_test

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// TestChainPolicy: chains that x509.Verify accepts and OpenSSL refuses
// (openssl verify -purpose sslclient, and nginx's ssl_verify_client on,
// OpenSSL 3.0) are refused, each beside an accepted twin. The peers'
// words are quoted per case.
func TestChainPolicy(t *testing.T) {
	t.Parallel()
	root := rawCA(t, "root", nil)
	s := verifyOnly(t, root)
	emptyKU, err := asn1.Marshal(asn1.BitString{})
	if err != nil {
		t.Fatal(err)
	}
	ca := func(name string, mod func(*x509.Certificate)) *rawCert {
		tmpl := &x509.Certificate{
			Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		mod(tmpl)
		return mint(t, tmpl, root)
	}
	withCN := func(cn string) func(*x509.Certificate) {
		return func(c *x509.Certificate) { c.Subject.CommonName = cn }
	}
	withEmail := func(addr string) func(*x509.Certificate) {
		return func(c *x509.Certificate) {
			c.Subject.ExtraNames = []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: addr}}
		}
	}
	withDNS := func(name string) func(*x509.Certificate) {
		return func(c *x509.Certificate) { c.DNSNames = []string{name} }
	}
	anyEKU := ca("any EKU", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} })
	clientEKU := ca("clientAuth EKU", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} })
	emptyKUCA := ca("empty key usage", func(c *x509.Certificate) {
		c.KeyUsage = 0
		c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: emptyKU}}
	})
	plain := ca("plain", func(*x509.Certificate) {})
	dnsNC := ca("dns constrained", func(c *x509.Certificate) {
		c.PermittedDNSDomains, c.ExcludedDNSDomains = []string{"example.com"}, []string{"bad.example.com"}
	})
	emailNC := ca("email constrained", func(c *x509.Certificate) { c.PermittedEmailAddresses = []string{"example.com"} })

	for _, tt := range []struct {
		name  string
		inter *rawCert // nil: the leaf is issued by root
		leaf  func(*x509.Certificate)
		rsa   int // an RSA leaf key of this size, instead of P-256
		want  mtls.Reason
	}{
		// "error 26 at 0 depth lookup: unsuitable certificate purpose"
		{name: "leaf with anyExtendedKeyUsage only", leaf: func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }, want: mtls.ReasonWrongKeyUsage},
		{name: "leaf with anyExtendedKeyUsage and clientAuth", leaf: func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny, x509.ExtKeyUsageClientAuth}
		}},
		{name: "leaf without extended key usage", leaf: func(c *x509.Certificate) { c.ExtKeyUsage = nil }},
		// "error 26 at 1 depth lookup: unsuitable certificate purpose"
		{name: "intermediate with anyExtendedKeyUsage only", inter: anyEKU, want: mtls.ReasonWrongKeyUsage},
		{name: "intermediate with clientAuth", inter: clientEKU},
		{name: "intermediate without extended key usage", inter: plain},
		// "unable to verify the first certificate" (OpenSSL marks the
		// certificate invalid: X509V3_R_INVALID_CERTIFICATE).
		{name: "intermediate with a key usage extension with no bit set", inter: emptyKUCA, want: mtls.ReasonWrongKeyUsage},
		// x509 calls it an unknown authority; nginx: "(68:CA signature
		// digest algorithm too weak)". Twin: every other case.
		{name: "leaf signed with SHA-1", leaf: func(c *x509.Certificate) { c.SignatureAlgorithm = x509.ECDSAWithSHA1 }, want: mtls.ReasonBadCertificate},
		// nginx: "(66:EE certificate key too weak)".
		{name: "RSA 1024 leaf", rsa: 1024, want: mtls.ReasonBadCertificate},
		{name: "RSA 2048 leaf", rsa: 2048},
		// "error 47 at 0 depth lookup: permitted subtree violation": the
		// common name is checked when there is no DNS SAN.
		{name: "CN outside DNS constraints, no DNS SAN", inter: dnsNC, leaf: withCN("admin.evil.org"), want: mtls.ReasonBadCertificate},
		{name: "CN in excluded DNS subtree, no DNS SAN", inter: dnsNC, leaf: withCN("x.bad.example.com"), want: mtls.ReasonBadCertificate},
		{name: "CN inside DNS constraints, no DNS SAN", inter: dnsNC, leaf: withCN("web.example.com")},
		{name: "CN not a host name", inter: dnsNC, leaf: withCN("Alice Smith")},
		{name: "CN outside DNS constraints beside a DNS SAN", inter: dnsNC, leaf: func(c *x509.Certificate) {
			c.Subject.CommonName, c.DNSNames = "admin.evil.org", []string{"web.example.com"}
		}},
		// "error 53 at 0 depth lookup: unsupported or invalid name syntax"
		{name: "subject emailAddress outside email constraints", inter: emailNC, leaf: withEmail("a@evil.com"), want: mtls.ReasonBadCertificate},
		{name: "subject emailAddress inside email constraints", inter: emailNC, leaf: withEmail("a@example.com")},
		// x509 takes any ASCII in a DNS SAN; OpenSSL and nginx too, but
		// an upstream splitting a forwarded XFCC on ',' and ';' would
		// read "URI=spiffe://td/admin" here.
		{name: "DNS SAN with XFCC delimiters", leaf: withDNS("a,By=x;URI=spiffe://td/admin;DNS=b"), want: mtls.ReasonBadCertificate},
		{name: "DNS SAN with a quote", leaf: withDNS(`a"b.example.com`), want: mtls.ReasonBadCertificate},
		{name: "DNS SAN with a space", leaf: withDNS("a b.example.com"), want: mtls.ReasonBadCertificate},
		{name: "DNS SAN, empty", leaf: withDNS(""), want: mtls.ReasonBadCertificate},
		{name: "DNS SAN, a host name", leaf: withDNS("web-1.example.com")},
		{name: "DNS SAN, an internal name with '_' and a trailing dot", leaf: withDNS("svc_a.internal.")},
		{name: "DNS SAN, a wildcard", leaf: withDNS("*.example.com")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			issuer := root
			if tt.inter != nil {
				issuer = tt.inter
			}
			tmpl := &x509.Certificate{
				Subject:     pkix.Name{CommonName: "client"},
				KeyUsage:    x509.KeyUsageDigitalSignature,
				ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			}
			if tt.leaf != nil {
				tt.leaf(tmpl)
			}
			var leaf *x509.Certificate
			if tt.rsa != 0 {
				leaf = rsaCert(t, tmpl, issuer, tt.rsa)
			} else {
				leaf = mint(t, tmpl, issuer).Cert
			}
			chain := []*x509.Certificate{leaf}
			if tt.inter != nil {
				chain = append(chain, tt.inter.Cert)
			}
			_, err := s.VerifyChain(chain)
			if got := mtls.ReasonOf(err); got != tt.want {
				t.Errorf("got reason %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

// rsaCert issues tmpl with an RSA key of bits, signed by issuer, or by
// its own key when issuer is nil.
func rsaCert(t *testing.T, tmpl *x509.Certificate, issuer *rawCert, bits int) *x509.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return mintKey(t, tmpl, issuer, key).Cert
}

// TestShortRSAClientCA: a client CA with an RSA key under 2048 bits
// loaded, and then every handshake through it was refused
// bad-certificate (checkChainPolicy checks the anchor too). It is refused
// at load now, with the CA's name and the fix. The twin: 2048 bits load.
func TestShortRSAClientCA(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		bits    int
		wantErr string
	}{
		{1024, `mtls: ClientCAs[0]: data: client CA "CN=short RSA CA" has a 1024-bit RSA key, fewer than 2048, so every client certificate it issued would be refused (bad-certificate), as OpenSSL (nginx, HAProxy) refuses it: reissue the CA with an RSA key of at least 2048 bits, or ECDSA`},
		{2048, ""},
	} {
		t.Run(fmt.Sprint(tt.bits), func(t *testing.T) {
			t.Parallel()
			ca := rsaCert(t, &x509.Certificate{
				Subject: pkix.Name{CommonName: "short RSA CA"}, IsCA: true, BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			}, nil, tt.bits)
			_, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(ca)})
			if got := fmt.Sprint(err); tt.wantErr == "" && err != nil || tt.wantErr != "" && got != tt.wantErr {
				t.Errorf("got %v, want %s", err, cmp.Or(tt.wantErr, "nil"))
			}
			if tt.wantErr != "" && mtls.ReasonOf(err) != mtls.ReasonInvalidConfig {
				t.Errorf("got reason %q, want %q", mtls.ReasonOf(err), mtls.ReasonInvalidConfig)
			}
		})
	}
}

// TestIdentityFromTLSChainPolicy: a connection crypto/tls verified
// itself (a server of one's own, Gateway.Handler behind it) gives no
// identity for a chain a Server's handshake refuses and crypto/tls
// accepts; the twin, a plain client certificate, gives one.
func TestIdentityFromTLSChainPolicy(t *testing.T) {
	t.Parallel()
	root := rawCA(t, "root", nil)
	client := func(mod func(*x509.Certificate)) *x509.Certificate {
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{CommonName: "client"},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if mod != nil {
			mod(tmpl)
		}
		return mint(t, tmpl, root).Cert
	}
	rsaTmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "client"}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	for _, tt := range []struct {
		name string
		leaf *x509.Certificate
		want bool
	}{
		{"a plain client certificate", client(nil), true},
		{"anyExtendedKeyUsage only", client(func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }), false},
		{"a DNS SAN that is no host name", client(func(c *x509.Certificate) { c.DNSNames = []string{"a,By=x;URI=spiffe://td/admin"} }), false},
		{"RSA 1024", rsaCert(t, rsaTmpl, root, 1024), false},
	} {
		cs := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tt.leaf}, VerifiedChains: [][]*x509.Certificate{{tt.leaf, root.Cert}}}
		if _, got := mtls.IdentityFromTLS(cs); got != tt.want {
			t.Errorf("%s: identity %v, want %v", tt.name, got, tt.want)
		}
	}
}

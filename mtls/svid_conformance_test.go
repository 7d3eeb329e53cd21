package mtls_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net/url"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// anyTrustDomain is an x509bundle.Source that gives the same authorities
// for every trust domain: a Server's ClientCAs, which are one pool.
type anyTrustDomain []*x509.Certificate

func (a anyTrustDomain) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	return x509bundle.FromX509Authorities(td, a), nil
}

// TestSVIDConformance is a differential of the SPIFFE IDs mtls reads
// against go-spiffe's x509svid.Verify and the X509-SVID and SPIFFE-ID
// specifications. Every certificate chains to the client CA; its URI
// SANs are written byte for byte (rawSAN), not through url.URL, which
// would lowercase the scheme and drop an empty fragment. Each refused
// case follows its accepted twin.
//
// mtls must never give a SPIFFE ID to a certificate go-spiffe refuses as
// an SVID (authorizing it as one is an authorization confusion: two URI
// SANs read as the first); it may be stricter (a key usage without
// digitalSignature, an extended key usage without clientAuth, an ID
// without a path, an empty fragment). A certificate without an ID is
// denied by AuthorizeSPIFFEID and AuthorizeTrustDomain (the gateway's
// allow.spiffe-ids and allow.trust-domains) with a reason code and a
// detail that says why.
func TestSVIDConformance(t *testing.T) {
	root := rawCA(t, "root", nil)
	s := verifyOnly(t, root)
	const w = "spiffe://example.org/w"
	ku := func(u x509.KeyUsage) func(*x509.Certificate) { return func(c *x509.Certificate) { c.KeyUsage = u } }
	long := strings.Repeat("a", 250) + ".example.org" // 262 bytes: longer than SPIFFE-ID §2.3's 255
	longPath := "spiffe://example.org/" + strings.Repeat("p", 2100)
	tests := []struct {
		name   string
		uris   []string                // the leaf's URI SANs, as spelled
		mod    func(*x509.Certificate) // on the leaf
		inter  []string                // an intermediate with these URI SANs; nil: none
		spiffe bool                    // go-spiffe's x509svid.Verify accepts
		want   string                  // mtls's SPIFFE ID; "" none
		reason mtls.Reason             // refused by the handshake's checks
		why    string                  // in the authorizers' denial
	}{
		{name: "one SPIFFE ID (twin)", uris: []string{w}, spiffe: true, want: w},
		{name: "two SPIFFE IDs", uris: []string{w, "spiffe://example.org/admin"}, why: "2 URI SANs"},
		{name: "the same SPIFFE ID twice", uris: []string{w, w}, why: "2 URI SANs"},
		{name: "SPIFFE ID and https URI", uris: []string{w, "https://example.org/x"}, why: "2 URI SANs"},
		{name: "https URI and SPIFFE ID", uris: []string{"https://example.org/x", w}, why: "2 URI SANs"},
		{name: "https URI only", uris: []string{"https://example.org/w"}, why: "not a spiffe: URI"},
		{name: "no URI SAN", why: "no URI SAN"},

		{name: "leaf, digitalSignature (twin)", uris: []string{w}, mod: ku(x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment), spiffe: true, want: w},
		{name: "cA true", uris: []string{w}, mod: func(c *x509.Certificate) { c.IsCA, c.BasicConstraintsValid = true, true }, why: "is a CA"},
		{name: "keyCertSign", uris: []string{w}, mod: ku(x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign), why: "keyCertSign"},
		{name: "cRLSign", uris: []string{w}, mod: ku(x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign), why: "cRLSign"},
		{name: "keyEncipherment only", uris: []string{w}, mod: ku(x509.KeyUsageKeyEncipherment), spiffe: true, reason: mtls.ReasonWrongKeyUsage},
		{name: "no key usage extension", uris: []string{w}, mod: ku(0), spiffe: true, want: w},
		{name: "extended key usage serverAuth only", uris: []string{w}, mod: func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }, spiffe: true, reason: mtls.ReasonWrongKeyUsage},

		{name: "upper-case scheme (twin: case-insensitive)", uris: []string{"SPIFFE://example.org/w"}, spiffe: true, want: w},
		{name: "upper-case trust domain", uris: []string{"spiffe://EXAMPLE.org/w"}, why: "not a valid SPIFFE ID"},
		{name: "upper-case path (twin: case-sensitive)", uris: []string{"spiffe://example.org/W"}, spiffe: true, want: "spiffe://example.org/W"},
		{name: "percent-encoded path", uris: []string{"spiffe://example.org/%77"}, why: "not a valid SPIFFE ID"},
		{name: "percent-encoded slash", uris: []string{"spiffe://example.org/a%2Fw"}, why: "not a valid SPIFFE ID"},
		{name: "character outside the path set", uris: []string{"spiffe://example.org/w~x"}, why: "not a valid SPIFFE ID"},
		{name: "trailing slash", uris: []string{"spiffe://example.org/w/"}, why: "not a valid SPIFFE ID"},
		{name: "empty segment", uris: []string{"spiffe://example.org/a//w"}, why: "not a valid SPIFFE ID"},
		{name: "'.' segment", uris: []string{"spiffe://example.org/./w"}, why: "not a valid SPIFFE ID"},
		{name: "'..' segment", uris: []string{"spiffe://example.org/x/../w"}, why: "not a valid SPIFFE ID"},
		{name: "no path", uris: []string{"spiffe://example.org"}, spiffe: true, why: "has no path"},
		{name: "root path", uris: []string{"spiffe://example.org/"}, why: "not a valid SPIFFE ID"},
		{name: "port", uris: []string{"spiffe://example.org:8443/w"}, why: "not a valid SPIFFE ID"},
		{name: "userinfo", uris: []string{"spiffe://u@example.org/w"}, why: "not a valid SPIFFE ID"},
		{name: "query", uris: []string{"spiffe://example.org/w?x=1"}, why: "not a valid SPIFFE ID"},
		{name: "empty query", uris: []string{"spiffe://example.org/w?"}, why: "not a valid SPIFFE ID"},
		{name: "fragment", uris: []string{"spiffe://example.org/w#f"}, why: "not a valid SPIFFE ID"},
		// x509 parses it as spiffe://example.org/w: go-spiffe reads that.
		{name: "empty fragment", uris: []string{"spiffe://example.org/w#"}, spiffe: true, why: "spelled"},
		{name: "opaque spiffe: URI", uris: []string{"spiffe:example.org/w"}, why: "not a valid SPIFFE ID"},
		{name: "empty trust domain", uris: []string{"spiffe:///w"}, why: "not a valid SPIFFE ID"},
		{name: "IPv4 trust domain (valid characters)", uris: []string{"spiffe://10.0.0.1/w"}, spiffe: true, want: "spiffe://10.0.0.1/w"},
		{name: "IPv6 trust domain", uris: []string{"spiffe://[::1]/w"}, why: "not a valid SPIFFE ID"},
		// SPIFFE-ID §2.3: implementations MUST support up to 255 and 2048
		// bytes; longer is neither required nor forbidden. The ID is read
		// exactly, so accepting it confuses nobody.
		{name: "trust domain of 262 bytes", uris: []string{"spiffe://" + long + "/w"}, spiffe: true, want: "spiffe://" + long + "/w"},
		{name: "ID of 2121 bytes", uris: []string{longPath}, spiffe: true, want: longPath},

		// X509-SVID §3.2: a signing certificate's SPIFFE ID "MUST NOT have
		// a path component, and SHOULD reside in the trust domain" of its
		// leaves; §5.2 asks no check of validators, and go-spiffe makes
		// none. Which CA may issue which trust domain: see
		// TestSVIDTrustDomainAuthority.
		{name: "intermediate of the trust domain (twin)", uris: []string{w}, inter: []string{"spiffe://example.org"}, spiffe: true, want: w},
		{name: "intermediate of another trust domain", uris: []string{w}, inter: []string{"spiffe://other.org"}, spiffe: true, want: w},
		{name: "intermediate with a path", uris: []string{w}, inter: []string{"spiffe://example.org/ca"}, spiffe: true, want: w},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, chain := root, []*x509.Certificate(nil)
			if tt.inter != nil {
				parent = mint(t, &x509.Certificate{
					Subject: pkix.Name{CommonName: "intermediate"}, IsCA: true, BasicConstraintsValid: true,
					KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, ExtraExtensions: []pkix.Extension{rawSAN(t, 6, tt.inter...)},
				}, root)
			}
			leaf := rawClient(t, parent, func(c *x509.Certificate) {
				if tt.uris != nil {
					c.ExtraExtensions = []pkix.Extension{rawSAN(t, 6, tt.uris...)}
				}
				if tt.mod != nil {
					tt.mod(c)
				}
			}).Cert
			chain = append(chain, leaf)
			if tt.inter != nil {
				chain = append(chain, parent.Cert)
			}

			_, _, gsErr := x509svid.Verify(chain, anyTrustDomain{root.Cert})
			if (gsErr == nil) != tt.spiffe {
				t.Errorf("go-spiffe: %v, want accepted = %v (the table's go-spiffe column is stale)", gsErr, tt.spiffe)
			}

			id, err := s.VerifyChain(chain)
			if tt.reason != "" {
				if mtls.ReasonOf(err) != tt.reason {
					t.Fatalf("VerifyChain: %v, want %s", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("VerifyChain: %v", err)
			}
			if got := id.SPIFFEID.String(); got != tt.want {
				t.Errorf("SPIFFE ID %q, want %q", got, tt.want)
			}
			if gsErr != nil && !id.SPIFFEID.IsZero() {
				t.Errorf("SPIFFE ID %q for a certificate go-spiffe refuses as an SVID (%v)", id.SPIFFEID, gsErr)
			}

			// What an operator would allow: the ID, or w when there is none.
			allowID, allowTD := tt.want, "example.org"
			if allowID == "" {
				allowID = w
			} else {
				allowTD = id.SPIFFEID.TrustDomain().Name()
			}
			byID, err := mtls.AuthorizeSPIFFEID(allowID, "spiffe://example.org/*")
			if err != nil {
				t.Fatal(err)
			}
			byTD, err := mtls.AuthorizeTrustDomain(allowTD)
			if err != nil {
				t.Fatal(err)
			}
			for _, az := range []struct {
				name   string
				a      mtls.Authorizer
				reason mtls.Reason
			}{{"AuthorizeSPIFFEID", byID, mtls.ReasonSPIFFEIDDenied}, {"AuthorizeTrustDomain", byTD, mtls.ReasonTrustDomainDenied}} {
				err := az.a(id)
				if tt.want != "" {
					if err != nil {
						t.Errorf("%s: %v, want allowed", az.name, err)
					}
					continue
				}
				if mtls.ReasonOf(err) != az.reason {
					t.Errorf("%s: %v, want %s", az.name, err, az.reason)
				} else if msg := err.Error(); !strings.Contains(msg, tt.why) || !strings.Contains(msg, `"CN=client"`) {
					t.Errorf("%s: %q does not name the certificate and say %q", az.name, msg, tt.why)
				}
			}
		})
	}
}

// TestSVIDTrustDomainAuthority: SPIFFE-ID §3 says an SVID is valid if
// an authority of its ID's trust domain signed it; go-spiffe's Verify
// takes a bundle per trust domain and refuses spiffe://example.org/admin
// signed by partner.org's CA. A Server's ClientCAs are one pool: every
// client CA may issue every SPIFFE ID, as it may every DNS name (as
// documented on ServerConfig.ClientCAs). The way to bind a CA to its
// trust domain is a URI name constraint, which the Server enforces
// (RFC 5280's reading, checkNameConstraintsRFC): partner.org's CA,
// constrained to partner.org, issues spiffe://partner.org/x (the twin)
// but not spiffe://example.org/admin.
func TestSVIDTrustDomainAuthority(t *testing.T) {
	own := rawCA(t, "example.org CA", nil)
	partner := rawCA(t, "partner.org CA", nil)
	constrained := mint(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "partner.org CA, constrained"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, PermittedURIDomains: []string{"partner.org"},
	}, nil)
	s, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: []mtls.Source{{Data: pki.EncodeCertsPEM(own.Cert, partner.Cert, constrained.Cert)}}})
	if err != nil {
		t.Fatal(err)
	}
	bundles := x509bundle.NewSet(
		x509bundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString("example.org"), []*x509.Certificate{own.Cert}),
		x509bundle.FromX509Authorities(spiffeid.RequireTrustDomainFromString("partner.org"), []*x509.Certificate{partner.Cert, constrained.Cert}),
	)
	admin, _ := mtls.AuthorizeSPIFFEID("spiffe://example.org/admin")
	issue := func(ca *rawCert, id string) *x509.Certificate {
		return rawClient(t, ca, func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, id)} }).Cert
	}

	// The twin: the own CA's admin.
	cert := issue(own, "spiffe://example.org/admin")
	if _, _, err := x509svid.Verify([]*x509.Certificate{cert}, bundles); err != nil {
		t.Fatalf("go-spiffe: %v", err)
	}
	if id, err := s.VerifyChain([]*x509.Certificate{cert}); err != nil || admin(id) != nil {
		t.Fatalf("own CA's admin: %v, %v", err, admin(id))
	}

	// partner.org's unconstrained CA: go-spiffe refuses, the Server's one
	// pool accepts (documented; TestTrustDomainCAs binds the CAs).
	cert = issue(partner, "spiffe://example.org/admin")
	if _, _, err := x509svid.Verify([]*x509.Certificate{cert}, bundles); err == nil {
		t.Errorf("go-spiffe accepted example.org's admin from partner.org's CA")
	}
	if id, err := s.VerifyChain([]*x509.Certificate{cert}); err != nil || admin(id) != nil {
		t.Errorf("unconstrained partner CA: %v, %v (ClientCAs is one pool: if this changed, update the docs)", err, admin(id))
	}

	// Constrained: its own trust domain only.
	if _, err := s.VerifyChain([]*x509.Certificate{issue(constrained, "spiffe://partner.org/x")}); err != nil {
		t.Errorf("constrained partner CA, partner.org ID: %v", err)
	}
	_, err = s.VerifyChain([]*x509.Certificate{issue(constrained, "spiffe://example.org/admin")})
	if mtls.ReasonOf(err) != mtls.ReasonBadCertificate {
		t.Errorf("constrained partner CA, example.org ID: %v, want %s", err, mtls.ReasonBadCertificate)
	}
}

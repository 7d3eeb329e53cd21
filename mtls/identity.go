package mtls

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/url"
	"time"

	"github.com/forgeproof/forgeproof/internal/urisan"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Identity is what a verified client certificate says about its holder.
//
// Certificate is nil when a forwarder passed only some fields (Envoy's
// x-forwarded-client-cert can carry a hash, subject and SANs without the
// certificate); the other fields are then those the forwarder gave.
type Identity struct {
	// SPIFFEID is set when the certificate is an X509-SVID leaf: exactly
	// one URI SAN, a valid SPIFFE ID with a path, on a certificate that is
	// not a CA (no cA basic constraint, neither keyCertSign nor cRLSign),
	// as the X509-SVID specification (§5.2) requires of a validator;
	// otherwise it is the zero ID (check IsZero).
	SPIFFEID spiffeid.ID
	// SPIFFEOnly is set when the certificate was issued through a client
	// CA bound to a trust domain (Source.TrustDomain). Such a CA vouches
	// for the SPIFFE ID alone, so DNSNames, EmailAddresses, CommonName,
	// Organization and OrganizationalUnit are left empty, and the
	// authorizers of those names deny the identity: a partner's CA
	// cannot make its workload "CN=admin". Subject, Issuer and
	// Certificate still show the whole certificate, for logs: do not
	// authorize on them.
	SPIFFEOnly bool

	// URIs, DNSNames and EmailAddresses are the certificate's subject
	// alternative names, as crypto/x509 parsed them.
	URIs           []*url.URL
	DNSNames       []string
	EmailAddresses []string

	// CommonName, Organization and OrganizationalUnit are the subject's
	// (for a subject with several common names, the last: see
	// AuthorizeCommonName).
	CommonName         string
	Organization       []string
	OrganizationalUnit []string
	// Subject and Issuer are the RFC 2253 string forms of the names
	// (pkix.Name.String). A name with more than one common name or
	// serial number is printed from its encoding with every one of them
	// (pkix.Name keeps only the last), so that it never reads the same
	// as the name with that last one alone.
	Subject string
	Issuer  string

	// SerialNumber, NotBefore and NotAfter are the certificate's.
	SerialNumber *big.Int
	NotBefore    time.Time
	NotAfter     time.Time

	// SPKISHA256 is the SHA-256 of the certificate's DER-encoded
	// SubjectPublicKeyInfo: stable across re-issues with the same key, the
	// value to pin or to bind CSRF tokens to. Zero when unknown.
	SPKISHA256 [32]byte
	// CertSHA256 is the SHA-256 of the whole DER certificate (the value
	// Envoy forwards as Hash). Zero when unknown.
	CertSHA256 [32]byte

	// Forwarded is set when a trusted forwarder (a proxy in front of this
	// service) vouched for the certificate in a request header
	// (mtls/forwarded); otherwise it was presented and verified on this
	// TLS connection.
	Forwarded bool
	// Certificate is the leaf certificate itself; see the type's doc for
	// when it is nil.
	Certificate *x509.Certificate
}

// isZero reports whether id identifies nobody: the zero Identity, which
// authorizers refuse with ReasonNoIdentity.
func (id Identity) isZero() bool {
	return id.Certificate == nil && id.CertSHA256 == [32]byte{} && id.Subject == "" && len(id.URIs) == 0 && len(id.DNSNames) == 0
}

// NewIdentity extracts the Identity of a certificate. It does not verify
// the certificate: call it on a leaf that has been verified already.
func NewIdentity(cert *x509.Certificate) Identity {
	return newIdentity(cert, sha256.Sum256(cert.Raw), namesOf(cert))
}

// newIdentity is NewIdentity with the certificate's hash and names
// computed already (Server.Check takes the names from a cache).
func newIdentity(cert *x509.Certificate, certSHA256 [32]byte, n certNames) Identity {
	return Identity{
		SPIFFEID:           leafSPIFFEID(cert),
		URIs:               cert.URIs,
		DNSNames:           cert.DNSNames,
		EmailAddresses:     cert.EmailAddresses,
		CommonName:         cert.Subject.CommonName,
		Organization:       cert.Subject.Organization,
		OrganizationalUnit: cert.Subject.OrganizationalUnit,
		Subject:            n.subject,
		Issuer:             n.issuer,
		SerialNumber:       cert.SerialNumber,
		NotBefore:          cert.NotBefore,
		NotAfter:           cert.NotAfter,
		SPKISHA256:         n.spki,
		CertSHA256:         certSHA256,
		Certificate:        cert,
	}
}

// String names the identity for logs: the SPIFFE ID when there is one,
// else the subject.
func (id Identity) String() string {
	if !id.SPIFFEID.IsZero() {
		return id.SPIFFEID.String()
	}
	return id.Subject
}

type identityKey struct{}

// ContextWithIdentity returns a copy of ctx that carries id. The zero
// Identity hides any identity stored in ctx before: a
// forwarded-identity middleware stores it when a trusted forwarder, whose
// connection identity is not the client's, forwards none.
func ContextWithIdentity(ctx context.Context, id Identity) context.Context {
	if id.isZero() {
		if _, ok := IdentityFromContext(ctx); !ok {
			return ctx
		}
		return context.WithValue(ctx, identityKey{}, nil)
	}
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFromContext returns the Identity that the middleware of this
// package (or mtls/forwarded) stored in ctx, and whether there was one.
func IdentityFromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// spiffeIDOf returns the SPIFFE ID of the only URI SAN, if it is one
// with a path (the rule of NewIdentity, and of identities built from
// forwarded fields). A SPIFFE X509-SVID has exactly one URI SAN; a
// certificate with more than one is not an SVID, whatever its URIs say.
// An ID without a path (spiffe://prod.example) names a trust domain or
// its signing authority, never a workload (X509-SVID §3.1, §5.2).
func spiffeIDOf(uris []*url.URL) spiffeid.ID {
	if len(uris) == 1 && uris[0].Scheme == "spiffe" {
		if id, err := spiffeid.FromURI(uris[0]); err == nil && id.Path() != "" {
			return id
		}
	}
	return spiffeid.ID{}
}

// leafSPIFFEID is spiffeIDOf(cert.URIs) for a leaf certificate, and the
// zero ID for a signing certificate: X509-SVID §5.2 says a validator must
// refuse an SVID with the cA flag, keyCertSign or cRLSign, which may
// chain to a client CA (an intermediate presented as a client
// certificate) but "MUST NOT be used for authentication".
//
// The ID must also be spelled in the certificate as it reads, but for
// the scheme's case (SPIFFE-ID §2.4: the scheme is case-insensitive):
// crypto/x509 parses a URI SAN with url.Parse, which drops an empty
// fragment, so spiffe://td/x# would read as spiffe://td/x, though
// SPIFFE-ID §2 forbids a fragment component, and an upstream reading the
// forwarded certificate's bytes sees no such ID. Such a certificate has
// no SPIFFE ID.
func leafSPIFFEID(cert *x509.Certificate) spiffeid.ID {
	if cert.IsCA || cert.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 {
		return spiffeid.ID{}
	}
	id := spiffeIDOf(cert.URIs)
	if id.IsZero() {
		return id // no SAN walk for a certificate without an ID
	}
	if _, _, found := urisan.Respelled(cert); found {
		return spiffeid.ID{}
	}
	return id
}

// noSPIFFEID says why id has no SPIFFE ID, naming the certificate, for
// the denials of AuthorizeSPIFFEID and AuthorizeTrustDomain: the rules
// of leafSPIFFEID and spiffeIDOf, in their order. It runs only when a
// request is refused, never on a handshake.
func noSPIFFEID(id Identity) string {
	what := "certificate"
	if id.Subject != "" {
		what = fmt.Sprintf("certificate %q", id.Subject)
	}
	why := func(format string, args ...any) string {
		return what + " has no SPIFFE ID: " + fmt.Sprintf(format, args...)
	}
	if c := id.Certificate; c != nil {
		switch {
		case c.IsCA:
			return why("it is a CA (basic constraints cA), and a signing certificate is not a workload (X509-SVID §5.2)")
		case c.KeyUsage&x509.KeyUsageCertSign != 0:
			return why("its key usage includes keyCertSign, which a leaf SVID must not have (X509-SVID §5.2)")
		case c.KeyUsage&x509.KeyUsageCRLSign != 0:
			return why("its key usage includes cRLSign, which a leaf SVID must not have (X509-SVID §5.2)")
		}
	}
	switch u := id.URIs; {
	case len(u) == 0:
		return why("it has no URI SAN")
	case len(u) > 1:
		s := make([]string, len(u))
		for i, x := range u {
			s[i] = x.String()
		}
		return why("it has %d URI SANs %q, and an X509-SVID has exactly one (X509-SVID §2): which would be the client's?", len(u), s)
	case u[0].Scheme != "spiffe":
		return why("its URI SAN %q is not a spiffe: URI", u[0].String())
	}
	sid, err := spiffeid.FromURI(id.URIs[0])
	switch {
	case err != nil:
		return why("its URI SAN %q is not a valid SPIFFE ID: %v", id.URIs[0].String(), err)
	case sid.Path() == "":
		return why("its URI SAN %q has no path: it names a trust domain, not a workload (X509-SVID §3.1)", id.URIs[0].String())
	}
	if id.Certificate != nil {
		if raw, parsed, found := urisan.Respelled(id.Certificate); found {
			return why("its URI SAN is spelled %q in the certificate, which crypto/x509 reads as %q", raw, parsed)
		}
	}
	return what + " has no SPIFFE ID"
}

// IdentityFromTLS returns the identity of the client certificate on a
// connection that crypto/tls verified itself (VerifiedChains: ClientAuth
// VerifyClientCertIfGiven or RequireAndVerifyClientCert, without a
// Server). A Server verifies in VerifyConnection instead, which leaves
// VerifiedChains empty: use Server.Check or Server.Handler for its
// connections. An unverified certificate gives none, and so does one
// that a Server's handshake would refuse where crypto/tls does not (the
// checks OpenSSL makes and x509 does not: a key usage with no bit,
// anyExtendedKeyUsage without clientAuth, an RSA key under 2048 bits, a
// subject outside the chain's name constraints, a DNS SAN that is no
// host name, which an upstream splitting a forwarded XFCC on ',' and ';'
// would misread).
func IdentityFromTLS(cs *tls.ConnectionState) (Identity, bool) {
	if cs == nil || len(cs.PeerCertificates) == 0 || len(cs.VerifiedChains) == 0 {
		return Identity{}, false
	}
	if checkChainPolicy(cs.VerifiedChains[0]) != nil {
		return Identity{}, false
	}
	return NewIdentity(cs.PeerCertificates[0]), true
}

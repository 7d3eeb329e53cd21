package mtls

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
)

// AuthorizeAnyVerified allows every identity that was verified (on this
// connection or by a trusted forwarder) and denies the zero Identity.
func AuthorizeAnyVerified() Authorizer {
	return func(id Identity) error {
		if id.isZero() {
			return errNoIdentity()
		}
		return nil
	}
}

// AuthorizeSPIFFEID allows identities whose SPIFFE ID matches one of the
// patterns (exact, or with "*" path segments, each
// standing for exactly one non-empty segment: spiffe://td/ns/*/sa/web
// does not match spiffe://td/ns/a/b/sa/web). An identity without a
// SPIFFE ID is denied; a certificate has none when it has more than one
// URI SAN, or when its URI is not a valid SPIFFE ID (an upper-case trust
// domain, percent-encoding, "." or ".." or empty segments, a trailing
// slash, a query, fragment, user or port): such spellings never match.
// The denial says why a certificate has no SPIFFE ID. A pattern without
// a path ("spiffe://prod.example") is an error: no workload has that ID
// (use AuthorizeTrustDomain). Any client CA may issue any SPIFFE ID: see
// ServerConfig.ClientCAs for binding a CA to its trust domain.
func AuthorizeSPIFFEID(patterns ...string) (Authorizer, error) {
	exact := map[string]bool{}
	var wild []spiffeIDPattern
	for _, s := range patterns {
		p, err := parseSPIFFEIDPattern(s)
		if err != nil {
			return nil, err
		}
		if slices.Contains(p.segments, "*") {
			wild = append(wild, p)
		} else {
			exact[p.String()] = true
		}
	}
	return func(id Identity) error {
		if id.isZero() {
			return errNoIdentity()
		}
		if id.SPIFFEID.IsZero() {
			return &Error{Reason: ReasonSPIFFEIDDenied, Detail: noSPIFFEID(id)}
		}
		if exact[id.SPIFFEID.String()] {
			return nil
		}
		for _, p := range wild {
			if p.Match(id.SPIFFEID) {
				return nil
			}
		}
		return deny(ReasonSPIFFEIDDenied, "SPIFFE ID %q is not allowed", id.SPIFFEID.String())
	}, nil
}

// AuthorizeTrustDomain allows identities whose SPIFFE ID belongs to one
// of the trust domains ("prod.example" or "spiffe://prod.example"). A
// SPIFFE ID with a path is an error, not its trust domain. An identity
// without a SPIFFE ID (see AuthorizeSPIFFEID) is denied, saying why. The
// trust domain is the one the certificate names, whichever client CA
// issued it (see ServerConfig.ClientCAs).
func AuthorizeTrustDomain(domains ...string) (Authorizer, error) {
	allowed := map[string]bool{}
	for _, d := range domains {
		td, err := parseTrustDomain(d, "use AuthorizeSPIFFEID")
		if err != nil {
			return nil, configError("%v", err)
		}
		allowed[td] = true
	}
	return func(id Identity) error {
		if id.isZero() {
			return errNoIdentity()
		}
		if id.SPIFFEID.IsZero() {
			return &Error{Reason: ReasonTrustDomainDenied, Detail: noSPIFFEID(id)}
		}
		if allowed[id.SPIFFEID.TrustDomain().Name()] {
			return nil
		}
		return deny(ReasonTrustDomainDenied, "trust domain %q is not allowed", id.SPIFFEID.TrustDomain().Name())
	}, nil
}

// spiffeOnlyDenial is why the name authorizers deny an identity with
// Identity.SPIFFEOnly.
const spiffeOnlyDenial = "the certificate was issued through a client CA bound to a trust domain, which vouches for its SPIFFE ID only"

// AuthorizeDNSName allows identities with at least one DNS SAN matching
// one of the patterns (exact, or "*." followed by one label),
// ignoring ASCII case. A SAN that is not a plain host name matches no
// pattern: a wildcard SAN ("*.example.com" in a client certificate
// allows neither api.example.com nor the pattern *.example.com), one
// with a trailing dot or an empty label, an empty one. Names are
// compared as written, so a pattern for an internationalised name is its
// A-label (xn--…); a Unicode pattern is an error. An identity with
// SPIFFEOnly (from a CA bound to a trust domain) is denied.
func AuthorizeDNSName(patterns ...string) (Authorizer, error) {
	ps := make([]dnsPattern, 0, len(patterns))
	for _, s := range patterns {
		p, err := parseDNSPattern(s)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return func(id Identity) error {
		if id.isZero() {
			return errNoIdentity()
		}
		if id.SPIFFEOnly {
			return deny(ReasonDNSNameDenied, "%s", spiffeOnlyDenial)
		}
		for _, name := range id.DNSNames {
			for _, p := range ps {
				if p.Match(name) {
					return nil
				}
			}
		}
		return deny(ReasonDNSNameDenied, "no allowed DNS name in %q", id.DNSNames)
	}, nil
}

// AuthorizeCommonName allows identities whose subject common name is one
// of names, compared exactly as crypto/x509 decoded it, whatever ASN.1
// string type carried it (UTF8String, PrintableString, BMPString, …): case
// matters, and nothing is trimmed, folded or normalised, so "Admin",
// "admin " and a Cyrillic "аdmin" are other names. A certificate whose subject
// has more than one common name is refused: Go reads the last, OpenSSL,
// Java and most upstreams that parse the forwarded certificate the first,
// so the name allowed here would not be the one they believe. An identity
// with SPIFFEOnly (from a CA bound to a trust domain) is denied.
func AuthorizeCommonName(names ...string) Authorizer {
	allowed := setOf(names)
	return func(id Identity) error {
		if id.isZero() {
			return errNoIdentity()
		}
		if id.SPIFFEOnly {
			return deny(ReasonCommonNameDenied, "%s", spiffeOnlyDenial)
		}
		if n := commonNames(id.Certificate); n > 1 {
			return deny(ReasonCommonNameDenied, "the subject has %d common names: which one is the client's depends on who reads it", n)
		}
		if id.CommonName != "" && allowed[id.CommonName] {
			return nil
		}
		return deny(ReasonCommonNameDenied, "common name %q is not allowed", id.CommonName)
	}
}

// AuthorizeOrganizationalUnit allows identities with at least one subject
// OU in units, compared exactly. An identity with SPIFFEOnly (from a CA
// bound to a trust domain) is denied.
func AuthorizeOrganizationalUnit(units ...string) Authorizer {
	allowed := setOf(units)
	return func(id Identity) error {
		if id.isZero() {
			return errNoIdentity()
		}
		if id.SPIFFEOnly {
			return deny(ReasonOrganizationalUnitDenied, "%s", spiffeOnlyDenial)
		}
		for _, ou := range id.OrganizationalUnit {
			if ou != "" && allowed[ou] {
				return nil
			}
		}
		return deny(ReasonOrganizationalUnitDenied, "no allowed organizational unit in %q", id.OrganizationalUnit)
	}
}

// AuthorizeSPKI allows identities whose public key is pinned: each pin is
// the SHA-256 of the DER SubjectPublicKeyInfo, in hexadecimal (colons
// allowed) or standard base64 with its padding, optionally prefixed
// "sha256/" or "sha256:" (URL-safe or unpadded base64 is an error).
// fmt.Sprintf("%x", id.SPKISHA256) prints the value to pin. The pin is
// compared with the client's own certificate's key only: a pin of its
// CA's or an intermediate's key allows nobody.
func AuthorizeSPKI(pins ...string) (Authorizer, error) {
	allowed := map[[32]byte]bool{}
	for _, s := range pins {
		pin, err := parseSPKIPin(s)
		if err != nil {
			return nil, err
		}
		allowed[pin] = true
	}
	return func(id Identity) error {
		if id.isZero() {
			return errNoIdentity()
		}
		if id.SPKISHA256 != ([32]byte{}) && allowed[id.SPKISHA256] {
			return nil
		}
		return deny(ReasonSPKIDenied, "public key %x is not pinned", id.SPKISHA256)
	}, nil
}

// parseSPKIPin parses an SPKI SHA-256 pin (see AuthorizeSPKI).
func parseSPKIPin(s string) ([32]byte, error) {
	var pin [32]byte
	v := s
	if rest, ok := strings.CutPrefix(v, "sha256/"); ok {
		v = rest
	} else if rest, ok := strings.CutPrefix(v, "sha256:"); ok {
		v = rest
	}
	var b []byte
	var err error
	if h := strings.ReplaceAll(v, ":", ""); len(h) == 64 {
		b, err = hex.DecodeString(h)
	} else {
		b, err = base64.StdEncoding.DecodeString(v)
	}
	if err != nil || len(b) != 32 {
		return pin, configError("invalid SPKI pin %q: want a SHA-256 in hex or base64", s)
	}
	copy(pin[:], b)
	return pin, nil
}

// AuthorizeAnyOf allows an identity that at least one of as allows. With
// no authorizers it denies everything. When all deny with the same reason
// code, the denial carries it; otherwise ReasonIdentityDenied.
func AuthorizeAnyOf(as ...Authorizer) Authorizer {
	as = slices.Clone(as)
	return func(id Identity) error {
		if len(as) == 0 {
			return &Error{Reason: ReasonIdentityDenied, Detail: "empty any-of (deny by default)"}
		}
		var first error
		var reason Reason
		for _, a := range as {
			err := authorize(a, id)
			if err == nil {
				return nil
			}
			r := ReasonOf(err)
			if first == nil {
				first, reason = err, r
			} else if r != reason {
				reason = ReasonIdentityDenied
			}
		}
		if reason == ReasonOf(first) {
			return first
		}
		return &Error{Reason: reason, Detail: "no alternative allowed it; first: " + first.Error()}
	}
}

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// commonNames counts the common name attributes in cert's subject, in
// every RDN (multi-valued ones included); 0 when cert is nil.
func commonNames(cert *x509.Certificate) int {
	if cert == nil {
		return 0
	}
	n := 0
	for _, atv := range cert.Subject.Names {
		if atv.Type.Equal(oidCommonName) {
			n++
		}
	}
	return n
}

// oidCommonName is the X.520 commonName attribute type (2.5.4.3).
var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

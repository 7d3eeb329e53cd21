package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"

	"github.com/forgeproof/forgeproof/internal/boundedmap"
)

// certNames are the parts of a certificate's Identity that cost the most
// to compute: the RFC 2253 strings of its subject and issuer (about 30
// allocations together) and the hash of its public key.
type certNames struct {
	subject, issuer string
	spki            [32]byte
}

func namesOf(cert *x509.Certificate) certNames {
	return certNames{
		subject: nameString(cert.Subject, cert.RawSubject),
		issuer:  nameString(cert.Issuer, cert.RawIssuer),
		spki:    sha256.Sum256(cert.RawSubjectPublicKeyInfo),
	}
}

// nameString is the RFC 2253 string of a certificate's name: n.String(),
// except when n has more than one common name or serial number
// attribute. pkix.Name keeps only the last of each, and its String
// prints that one alone, so that a subject CN=admin, CN=web read "CN=web",
// hiding the name OpenSSL and Java read (the first) from the
// Forgeproof-Client-Identity and XFCC Subject headers and the logs, and
// reading the same as a subject with CN=web alone. Such a name is
// printed from its encoding (raw) instead, every attribute in its RDN,
// last RDN first as RFC 2253 asks, with the values crypto/x509 decoded.
func nameString(n pkix.Name, raw []byte) string {
	if !hasRepeatedSingleValued(n) {
		return n.String()
	}
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) != 0 {
		return n.String()
	}
	// n.Names holds every attribute, in the order of the encoding.
	i := 0
	for _, rdn := range seq {
		for j := range rdn {
			if i >= len(n.Names) || !rdn[j].Type.Equal(n.Names[i].Type) {
				return n.String()
			}
			rdn[j].Value = n.Names[i].Value
			i++
		}
	}
	if i != len(n.Names) {
		return n.String()
	}
	return seq.String()
}

// hasRepeatedSingleValued reports whether n has more than one common
// name or more than one serial number attribute, the two that pkix.Name
// keeps one of.
func hasRepeatedSingleValued(n pkix.Name) bool {
	cn, serial := 0, 0
	for _, atv := range n.Names {
		if len(atv.Type) == 4 && atv.Type[0] == 2 && atv.Type[1] == 5 && atv.Type[2] == 4 {
			switch atv.Type[3] {
			case 3:
				cn++
			case 5:
				serial++
			}
		}
	}
	return cn > 1 || serial > 1
}

// Bounds of the names cache: at most maxCachedNames certificates, each
// with subject and issuer strings of at most maxCachedNameBytes together
// (a longer pair is computed every time instead).
const (
	maxCachedNames     = 1024
	maxCachedNameBytes = 1024
)

// namesCache remembers certNames by the SHA-256 of the certificate's DER
// encoding. Every new TLS connection parses its client certificate into a
// new *x509.Certificate, so a cache by pointer would never hit; the names
// are a function of the certificate's bytes alone, so a cache by their
// hash is exact, and it holds no trust decision (Check verifies the
// certificate of the connection before it asks). Each Server has one.
type namesCache struct {
	m *boundedmap.Map[[32]byte, certNames]
}

func newNamesCache(limit int) *namesCache {
	return &namesCache{m: boundedmap.New[[32]byte, certNames](limit)}
}

// identity is NewIdentity(cert), with the names from the cache.
func (nc *namesCache) identity(cert *x509.Certificate) Identity {
	sum := sha256.Sum256(cert.Raw)
	n, ok := nc.m.Get(sum)
	if !ok {
		n = namesOf(cert)
		nc.put(sum, n)
	}
	return newIdentity(cert, sum, n)
}

func (nc *namesCache) put(sum [32]byte, n certNames) {
	if len(n.subject)+len(n.issuer) > maxCachedNameBytes {
		return
	}
	nc.m.Put(sum, n)
}

func (nc *namesCache) len() int { return nc.m.Len() }

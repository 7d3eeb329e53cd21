package mtls

import (
	"crypto/sha256"
	"crypto/x509"

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
		subject: cert.Subject.String(),
		issuer:  cert.Issuer.String(),
		spki:    sha256.Sum256(cert.RawSubjectPublicKeyInfo),
	}
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

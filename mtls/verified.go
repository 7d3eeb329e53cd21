package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"runtime"
	"sync"
	"weak"
)

var errNoCertificate = errors.New("the client sent no certificate")

// verifiedCerts holds the certificates that Server.verify accepted, by
// identity of the parsed object. crypto/tls fills VerifiedChains only when
// it verifies the chain itself; Server verifies in VerifyConnection
// instead, so this set is how IdentityFromTLS knows that a connection's
// PeerCertificates were verified. Entries disappear with their
// certificate (weak pointers and a cleanup), so the set does not grow.
var verifiedCerts sync.Map // weak.Pointer[x509.Certificate] -> struct{}

func markVerified(c *x509.Certificate) {
	wp := weak.Make(c)
	if _, loaded := verifiedCerts.LoadOrStore(wp, struct{}{}); !loaded {
		runtime.AddCleanup(c, func(wp weak.Pointer[x509.Certificate]) { verifiedCerts.Delete(wp) }, wp)
	}
}

func isVerified(c *x509.Certificate) bool {
	_, ok := verifiedCerts.Load(weak.Make(c))
	return ok
}

// IdentityFromTLS returns the identity of the client certificate on a
// connection, if it was verified: by a Server's VerifyConnection, or by
// crypto/tls itself (VerifiedChains, with ClientAuth VerifyClientCertIfGiven
// or RequireAndVerifyClientCert). An unverified certificate (ClientAuth
// RequestClientCert or RequireAnyClientCert without a Server) gives none.
// The identity equals NewIdentity(cs.PeerCertificates[0],
// SourceConnection); the subject and issuer strings come from a bounded
// cache keyed by the certificate's SHA-256, so that a client that
// reconnects does not have them built again.
func IdentityFromTLS(cs *tls.ConnectionState) (Identity, bool) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return Identity{}, false
	}
	leaf := cs.PeerCertificates[0]
	if len(cs.VerifiedChains) == 0 && !isVerified(leaf) {
		return Identity{}, false
	}
	return identityNames.identity(leaf, SourceConnection), true
}

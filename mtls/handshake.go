package mtls

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// HandshakeFailure is what ServerConfig.OnHandshakeFailure receives.
type HandshakeFailure struct {
	// Reason is the refusal's code: a handshake reason
	// (ReasonUnknownAuthority, ReasonRevoked, …) or the authorizer's.
	Reason Reason
	// Err is the refusal: an *Error carrying Reason and its Detail, with
	// the underlying cause (x509's verification error, an authorizer's
	// error), if any, in its chain. It is never nil.
	Err error
	// RemoteAddr is the peer's address as its connection reports it; nil
	// when unknown.
	RemoteAddr net.Addr
	// ServerName is the SNI the client asked for, possibly empty.
	ServerName string
	// Certificate is the client's leaf certificate (unverified, or
	// verified but refused), nil when none was sent.
	Certificate *x509.Certificate
	// Resumed says the refused handshake resumed an earlier session.
	Resumed bool
	// OpenConnection says the certificate was refused on a connection
	// already open, checked again after a reload or an expiry (Handler),
	// not in a handshake.
	OpenConnection bool
}

// classify turns an x509 verification error into a reason code.
func classify(err error, leaf *x509.Certificate, now time.Time) Reason {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		// x509 reports a signature it will not check (SHA-1, MD5) as an
		// unknown authority, naming the algorithm only in its text: the
		// certificate is bad, its issuer may well be known.
		if ua.Cert != nil && insecureSignature[ua.Cert.SignatureAlgorithm] {
			return ReasonBadCertificate
		}
		return ReasonUnknownAuthority
	}
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) {
		switch ci.Reason {
		case x509.Expired:
			// x509 uses Expired for both ends of the validity window.
			if ci.Cert != nil && now.Before(ci.Cert.NotBefore) {
				return ReasonNotYetValid
			}
			if ci.Cert == nil && now.Before(leaf.NotBefore) {
				return ReasonNotYetValid
			}
			return ReasonExpired
		case x509.IncompatibleUsage:
			return ReasonWrongKeyUsage
		}
	}
	return ReasonBadCertificate
}

// insecureSignature lists the signature algorithms x509 refuses to verify.
var insecureSignature = map[x509.SignatureAlgorithm]bool{
	x509.MD2WithRSA:    true,
	x509.MD5WithRSA:    true,
	x509.SHA1WithRSA:   true,
	x509.DSAWithSHA1:   true,
	x509.ECDSAWithSHA1: true,
}

// explainUnhandled names, when x509 refused a chain for an unhandled
// critical extension, the certificate that holds it (the leaf, an
// intermediate the client sent or a client CA, with its subject) and the
// extension (its OID, and its name when well known), since x509 says
// only "unhandled critical extension". It walks the candidate issuers by
// name from the leaf up, at most 100 steps, without checking signatures
// (x509.Verify made up to 100: a refused chain must not cost that
// twice; a message naming a same-named impostor is the worst case), and
// returns err unchanged when it finds no such certificate or err is
// another error.
func explainUnhandled(err error, peer, cas []*x509.Certificate) error {
	if !errors.As(err, new(x509.UnhandledCriticalExtension)) || len(peer) == 0 {
		return err
	}
	describe := func(what string, c *x509.Certificate) error {
		exts := make([]string, len(c.UnhandledCriticalExtensions))
		for i, id := range c.UnhandledCriticalExtensions {
			exts[i] = id.String()
			if name := criticalExtensionName(c, id); name != "" {
				exts[i] += " (" + name + ")"
			}
		}
		return fmt.Errorf("%s %q has a critical extension x509 cannot process, %s, so the chain is refused (RFC 5280 §4.2): %w", what, c.Subject.String(), strings.Join(exts, ", "), err)
	}
	if len(peer[0].UnhandledCriticalExtensions) > 0 {
		return describe("client certificate", peer[0])
	}
	type cand struct {
		what string
		c    *x509.Certificate
	}
	var pool []cand
	for _, c := range cas {
		pool = append(pool, cand{"client CA", c})
	}
	for _, c := range peer[1:] {
		pool = append(pool, cand{"intermediate", c})
	}
	seen := map[*x509.Certificate]bool{peer[0]: true}
	checks := 0
	for frontier := peer[:1]; len(frontier) > 0 && checks < 100; {
		var next []*x509.Certificate
		for _, child := range frontier {
			for _, p := range pool {
				if seen[p.c] || string(p.c.RawSubject) != string(child.RawIssuer) || checks >= 100 {
					continue
				}
				checks++
				if len(p.c.UnhandledCriticalExtensions) > 0 {
					return describe(p.what, p.c)
				}
				seen[p.c] = true
				if p.what == "intermediate" {
					next = append(next, p.c)
				}
			}
		}
		frontier = next
	}
	return err
}

// criticalExtensionNames names the certificate extensions x509 may leave
// unhandled.
var criticalExtensionNames = map[string]string{
	"2.5.29.9":           "subject directory attributes",
	"2.5.29.30":          "name constraints",
	"2.5.29.32":          "certificate policies",
	"2.5.29.33":          "policy mappings",
	"2.5.29.36":          "policy constraints",
	"2.5.29.46":          "freshest CRL",
	"2.5.29.54":          "inhibitAnyPolicy",
	"1.3.6.1.5.5.7.1.24": "TLS feature",
}

// criticalExtensionName names extension id of c, "" when not well known;
// for name constraints, it says which form x509 cannot check.
func criticalExtensionName(c *x509.Certificate, id asn1.ObjectIdentifier) string {
	name := criticalExtensionNames[id.String()]
	if id.Equal(oidNameConstraints) {
		if form := uncheckedNameConstraint(c); form != "" {
			name += " holding a " + form + " constraint"
		}
	}
	return name
}

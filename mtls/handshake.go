package mtls

import (
	"crypto/x509"
	"errors"
	"net"
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

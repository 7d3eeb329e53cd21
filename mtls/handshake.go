package mtls

import (
	"crypto/x509"
	"errors"
	"net"
	"time"
)

// Reason codes of a HandshakeError. An authorizer's denial keeps its own
// code (ReasonIdentityDenied or a finer one).
const (
	ReasonNoCertificate    = "no-certificate"
	ReasonUnknownAuthority = "unknown-authority"
	ReasonExpired          = "expired"
	ReasonNotYetValid      = "not-yet-valid"
	ReasonWrongKeyUsage    = "wrong-key-usage"
	ReasonBadCertificate   = "bad-certificate"
	ReasonRevoked          = "revoked"
	ReasonCRLStale         = "crl-stale"
	ReasonCRLMissing       = "crl-missing"
)

// HandshakeError is why this package refused a client in the handshake.
// The peer only gets a TLS alert (bad_certificate); the reason stays here.
type HandshakeError struct {
	Reason string
	Err    error
}

func (e *HandshakeError) Error() string { return "mtls: " + e.Reason + ": " + e.Err.Error() }
func (e *HandshakeError) Unwrap() error { return e.Err }

// HandshakeFailure is what ServerConfig.OnHandshakeFailure receives.
type HandshakeFailure struct {
	Reason     string
	Err        error
	RemoteAddr net.Addr
	// ServerName is the SNI the client asked for, possibly empty.
	ServerName string
	// Certificate is the client's leaf certificate (unverified, or
	// verified but refused), nil when none was sent.
	Certificate *x509.Certificate
	// Resumed says the refused handshake resumed an earlier session.
	Resumed bool
}

// classify turns an x509 verification error into a reason code.
func classify(err error, leaf *x509.Certificate, now time.Time) string {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
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

package mtls

import (
	"crypto/x509"
	"errors"
	"net"
	"time"
)

// HandshakeFailure is what ServerConfig.OnHandshakeFailure receives.
type HandshakeFailure struct {
	Reason     Reason
	Err        error
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

package scan

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
)

// Reason codes of an Error: stable, for scripts and for the exit status.
const (
	ReasonConfig      = "invalid-config" // the Config is unusable (a usage error)
	ReasonTLS         = "tls-handshake"  // the TLS (mTLS) handshake failed
	ReasonUnreachable = "unreachable"    // no connection, DNS failure, timeout
	ReasonLogin       = "login-failed"   // the login step was refused
	ReasonNoEndpoints = "no-endpoints"   // nothing state-changing to test
	ReasonNoBaseline  = "no-baseline"    // every legitimate baseline was refused
	ReasonLimit       = "request-limit"  // MaxRequests was reached
	ReasonCanceled    = "canceled"       // the context ended
)

// An Error means the scan could not run (or not to the end): its report,
// if any, is incomplete and must not be read as "no findings".
type Error struct {
	Reason string // one of the Reason constants
	Err    error  // the cause; never nil in the errors Run and Plan return
}

// Error reads "scan: ", the Reason, then the Err after ": ".
func (e *Error) Error() string {
	if e.Err == nil { // a caller's own; Run and Plan always set Err
		return "scan: " + e.Reason
	}
	return "scan: " + e.Reason + ": " + e.Err.Error()
}

// Unwrap returns Err, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// classify names the reason a request to the target failed.
func classify(err error) string {
	var (
		certErr   *tls.CertificateVerificationError
		alert     tls.AlertError
		recErr    tls.RecordHeaderError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invErr    x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, errLimit):
		return ReasonLimit
	case errors.Is(err, errCanceled):
		return ReasonCanceled
	case errors.As(err, &certErr), errors.As(err, &alert), errors.As(err, &recErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invErr):
		return ReasonTLS
	}
	// A server that requires a certificate the client did not present
	// (or rejects it) answers with an alert that the HTTP client reports
	// as a plain error on TLS 1.3, after the handshake "succeeded".
	if s := err.Error(); strings.Contains(s, "tls:") || strings.Contains(s, "remote error") {
		return ReasonTLS
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ReasonUnreachable
	}
	return ReasonUnreachable
}

var (
	errLimit    = errors.New("request limit reached")
	errCanceled = errors.New("scan canceled")
)

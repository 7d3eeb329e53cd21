package mtls

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
)

// Protocol reasons: handshakes that crypto/tls ends itself, before (or
// instead of) looking at a client certificate, so that OnHandshakeFailure
// never sees them. HandshakeReason gives a failed handshake's error one
// of them; a program that runs its handshakes itself (the forgeproof
// gateway does) logs and counts them with the certificate reasons.
const (
	// ReasonTLSVersion: no protocol version in common: the client offered
	// only versions below ServerConfig.MinVersion (TLS 1.0, 1.1; TLS 1.2
	// where 1.3 is the minimum), or sent an SSL 2 hello.
	ReasonTLSVersion Reason = "tls-version"
	// ReasonNoSharedCipher: no cipher suite, or no key exchange group
	// (curve), in common (a TLS 1.2 client without a shared curve has no
	// usable cipher suite either).
	ReasonNoSharedCipher Reason = "no-shared-cipher"
	// ReasonNoSharedALPN: the client offered ALPN protocols and none is
	// in ServerConfig.NextProtos (only h2 to a listener that serves
	// http/1.1 only). A client that offers no ALPN at all is served.
	ReasonNoSharedALPN Reason = "no-shared-alpn"
	// ReasonNotTLS: the first bytes are no TLS record: plain HTTP to the
	// TLS port, or another protocol.
	ReasonNotTLS Reason = "not-tls"
	// ReasonHandshakeTimeout: the handshake did not end before the
	// connection's deadline (the client sent nothing, or too slowly).
	ReasonHandshakeTimeout Reason = "handshake-timeout"
	// ReasonClientClosed: the client closed or reset the connection
	// before the handshake ended (a TCP health check, a port scanner, a
	// browser's unused pre-connection).
	ReasonClientClosed Reason = "client-closed"
	// ReasonServerCertificateRefused: the client refused the server's
	// certificate with an alert (unknown_ca, bad_certificate,
	// certificate_expired, …): it does not trust the server's CA, or the
	// name or validity does not suit it.
	ReasonServerCertificateRefused Reason = "server-certificate-refused"
	// ReasonTLSProtocolError: any other handshake failure: a malformed or
	// unexpected message (a ClientHello whose server name ends in a dot,
	// which RFC 6066 forbids, among them), a record that does not
	// decrypt (an OpenSSL client that refuses the server's certificate in
	// TLS 1.3 sends its alert unencrypted, which reads as one), another
	// alert from the client.
	ReasonTLSProtocolError Reason = "tls-protocol-error"
)

// HandshakeReason returns the reason code of the error of a failed TLS
// handshake (tls.Conn.Handshake, on a connection whose tls.Config is this
// package's): the refusal's Reason when err carries an *Error (this
// package refused the client certificate, and OnHandshakeFailure has been
// called), else a protocol reason from what crypto/tls returned
// (ReasonTLSVersion, …, ReasonTLSProtocolError; ReasonBadCertificate for
// a certificate crypto/tls refuses before this package sees it: one that
// does not parse, whose key it does not take (an RSA key over 8192 bits,
// another algorithm), or a handshake signature its key did not make). It
// returns "" for nil. Each call looks at err only: call it on the failure
// path, after the handshake.
func HandshakeReason(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	var re tls.RecordHeaderError
	if errors.As(err, &re) {
		switch {
		case re.Conn != nil:
			// crypto/tls sets Conn only for a first record that does not
			// look like TLS (and nothing was written to the connection).
			return ReasonNotTLS
		case re.RecordHeader[0] == 0x80:
			return ReasonTLSVersion // an SSL 2 ClientHello
		}
		return ReasonTLSProtocolError
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ReasonHandshakeTimeout
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return ReasonClientClosed
	}
	if a, remote, ok := alertOf(err); ok && remote {
		switch a {
		case alertBadCertificate, alertUnsupportedCertificate, alertCertificateRevoked,
			alertCertificateExpired, alertCertificateUnknown, alertUnknownCA:
			return ReasonServerCertificateRefused
		case alertProtocolVersion:
			return ReasonTLSVersion
		case alertNoApplicationProtocol:
			return ReasonNoSharedALPN
		case alertUserCanceled:
			return ReasonClientClosed
		}
		return ReasonTLSProtocolError
	}
	// crypto/tls returns these as plain errors (fmt.Errorf, errors.New),
	// without the alert it sent or any type: their text is all that
	// tells them apart. TestHandshakeReasonTexts runs each against
	// crypto/tls, so a Go release that rewords one fails it.
	for e := err; e != nil; e = errors.Unwrap(e) {
		msg := e.Error()
		for _, p := range handshakeTexts {
			// A prefix, never a substring: several of these errors quote
			// what the client sent (its ALPN protocols).
			if strings.HasPrefix(msg, p.prefix) {
				return p.reason
			}
		}
	}
	return ReasonTLSProtocolError
}

// handshakeTexts are the starts of crypto/tls's untyped handshake errors
// (Go 1.26) and their reasons.
var handshakeTexts = [...]struct {
	prefix string
	reason Reason
}{
	{"tls: client offered only unsupported versions", ReasonTLSVersion},
	{"tls: no cipher suite supported by both client and server", ReasonNoSharedCipher},
	{"tls: no key exchanges supported by both client and server", ReasonNoSharedCipher}, // TLS 1.3: no group in common
	{"tls: client requested unsupported application protocols", ReasonNoSharedALPN},
	{"tls: failed to parse client certificate", ReasonBadCertificate},
	{"tls: client sent certificate containing RSA key larger than", ReasonBadCertificate},
	{"tls: client certificate contains an unsupported public key", ReasonBadCertificate},
	{"tls: client certificate used with invalid signature algorithm", ReasonBadCertificate}, // TLS 1.3: not its key's kind
	{"tls: invalid signature by the client certificate", ReasonBadCertificate},
}

// TLS alert values (RFC 8446 §6), as crypto/tls numbers them.
const (
	alertBadCertificate         tls.AlertError = 42
	alertUnsupportedCertificate tls.AlertError = 43
	alertCertificateRevoked     tls.AlertError = 44
	alertCertificateExpired     tls.AlertError = 45
	alertCertificateUnknown     tls.AlertError = 46
	alertUnknownCA              tls.AlertError = 48
	alertProtocolVersion        tls.AlertError = 70
	alertUserCanceled           tls.AlertError = 90
	alertNoApplicationProtocol  tls.AlertError = 120
)

// alertOf returns the TLS alert in err's chain and whether the peer sent
// it (remote). crypto/tls reports an alert as a tls.AlertError (on QUIC
// connections), or as a *net.OpError whose Op is "remote error" (the
// peer's) or "local error" (its own) and whose Err is an alert of an
// unexported type: that one is told by its text, which is the text of
// the tls.AlertError of the same value.
func alertOf(err error) (a tls.AlertError, remote, ok bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil && (op.Op == "remote error" || op.Op == "local error") {
		if a, ok := alertByText()[op.Err.Error()]; ok {
			return a, op.Op == "remote error", true
		}
	}
	if errors.As(err, &a) {
		return a, false, true
	}
	return 0, false, false
}

// alertByText maps the text of each alert crypto/tls names to its value.
var alertByText = sync.OnceValue(func() map[string]tls.AlertError {
	m := make(map[string]tls.AlertError)
	for i := range 256 {
		a := tls.AlertError(i)
		if s := a.Error(); !strings.HasPrefix(s, "tls: alert(") {
			m[s] = a
		}
	}
	return m
})

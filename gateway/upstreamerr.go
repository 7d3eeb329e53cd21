package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// Upstream failures are logged with what failed, at which upstream
// (host:port) and why, for the operator who reads the log; the client's
// problem document says no more than before (upstreamError). Everything
// here runs on the error path only.

// upstreamTLSError is a failed TLS handshake with an https upstream. It
// unwraps to the handshake's error: a handshake timeout is still a
// timeout (504 upstream-timeout), anything else a 502.
type upstreamTLSError struct {
	addr string // host:port
	err  error
}

func (e *upstreamTLSError) Error() string {
	return "TLS handshake with upstream " + e.addr + " failed: " + e.err.Error()
}

func (e *upstreamTLSError) Unwrap() error { return e.err }

// upstreamStdError is the error of a request net/http's Transport failed,
// got being what it had got by then (upConnNone: no connection). Without a
// connection to an https upstream, a failure that is no dial's (refused,
// DNS, dial timeout: net.OpError "dial", which names the address), no
// wait for a slot and no cancellation was the TLS handshake's: the
// Transport returns its error as crypto/tls made it ("read tcp ...:
// connection reset by peer" for an upstream that resets it), which does
// not say so.
func upstreamStdError(req *http.Request, err error, got int32) error {
	if got != upConnNone || req.URL.Scheme != "https" || req.Context().Err() != nil || errors.Is(err, errUpstreamBusy) {
		return err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return err
	}
	var dns *net.DNSError
	if errors.As(err, &dns) || !handshakeLike(err) {
		return err
	}
	return &upstreamTLSError{addr: upstreamAddr(req.URL), err: err}
}

// handshakeLike reports whether err is of a kind a TLS handshake fails
// with: a network error (a reset, a timeout, an alert), crypto/tls's own
// errors, or the connection's end. The Transport's errors that come
// before any connection (an invalid header, an unsupported scheme) are
// none of these, and are not blamed on the handshake.
func handshakeLike(err error) bool {
	var netErr net.Error
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	var alert tls.AlertError
	return errors.As(err, &netErr) || errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.HasPrefix(err.Error(), "tls: ")
}

// upstreamAddr is u's host:port, the scheme's default port added.
func upstreamAddr(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(trimBrackets(u.Hostname()), port)
}

// describeUpstreamError is err as the log says it: what failed at the
// upstream of rt, and why, with the setting that decided a timeout.
func describeUpstreamError(err error, rt *route, l *Limits) string {
	addr := upstreamAddr(rt.upstream)
	var tlsErr *upstreamTLSError
	var op *net.OpError
	msg := err.Error()
	switch {
	case errors.As(err, &tlsErr):
		if isTimeout(err) && l != nil {
			return msg + " (limits.upstream-tls-handshake-timeout " + l.UpstreamTLSHandshakeTimeout.String() + ")"
		}
		return msg
	case errors.As(err, &op) && op.Op == "dial":
		if isTimeout(err) && l != nil {
			return "connecting to upstream " + addr + " timed out (limits.upstream-dial-timeout " + l.UpstreamDialTimeout.String() + "): " + msg
		}
		return "connecting to upstream " + addr + " failed: " + msg
	case errors.As(err, &op) && op.Op == "remote error":
		// A TLS alert after the handshake: with TLS 1.3 the upstream
		// checks the client certificate only then.
		return "upstream " + addr + " ended the TLS connection with an alert (" + msg + "); an alert about a certificate after the handshake means it refused the client certificate the gateway presented, or wanted one (the route's upstream-cert-file)"
	case errors.As(err, &op) && op.Op == "local error":
		return "the gateway ended the TLS connection to upstream " + addr + " (" + msg + ")"
	case isTimeout(err):
		if l != nil && l.UpstreamResponseHeaderTimeout > 0 {
			return "no answer header from upstream " + addr + " within limits.upstream-response-header-timeout (" + l.UpstreamResponseHeaderTimeout.String() + "): " + msg
		}
		return "upstream " + addr + " timed out: " + msg
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.HasSuffix(msg, "EOF"):
		return "upstream " + addr + " closed the connection before its answer's header was complete (" + msg + ")"
	case errors.Is(err, syscall.ECONNRESET):
		return "upstream " + addr + " reset the connection before its answer's header was complete (" + msg + ")"
	case strings.Contains(msg, "malformed") || strings.Contains(msg, "exceeded") || errors.Is(err, errResponseHeaderTooLarge) || errors.Is(err, errStatusBelow100):
		return "upstream " + addr + " sent an answer the gateway could not read: " + msg
	}
	return "upstream " + addr + ": " + msg
}

package gateway

import (
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"
)

// TestUpstreamStdErrorBlamesHandshakeOnly: a request to an https upstream
// that failed before any connection is blamed on the TLS handshake only
// for errors a handshake fails with; the Transport's own refusals before
// dialing (an invalid header) and dial errors keep their words.
func TestUpstreamStdErrorBlamesHandshakeOnly(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://up.example/x", nil)
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	invalid := errors.New(`net/http: invalid header field value for "X"`)
	for _, tt := range []struct {
		name  string
		err   error
		got   int32
		blame bool
	}{
		{"reset during the handshake", reset, upConnNone, true},
		{"tls: error", errors.New("tls: server selected unsupported protocol version 301"), upConnNone, true},
		{"reset on a connection got", reset, upConnNew, false},
		{"dial refused", dial, upConnNone, false},
		{"invalid header, before any dial", invalid, upConnNone, false},
	} {
		var tlsErr *upstreamTLSError
		if got := errors.As(upstreamStdError(req, tt.err, tt.got), &tlsErr); got != tt.blame {
			t.Errorf("%s: blamed on the handshake %v, want %v", tt.name, got, tt.blame)
		}
	}
}

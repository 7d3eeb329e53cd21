package gateway

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

// TestServerErrorLogOneLinePerRefusal (issue 12: each refusal was logged
// twice): the http.Server's line for a handshake mtls refused is dropped,
// as the OnHandshakeFailure hook logs it with its reason; every other
// server error, handshake errors mtls did not cause included, is kept.
func TestServerErrorLogOneLinePerRefusal(t *testing.T) {
	var buf bytes.Buffer
	g := &Gateway{errLog: slog.New(slog.NewTextHandler(&buf, nil))}
	l := slog.NewLogLogger(g.serverErrorLog().Handler(), slog.LevelWarn)
	tests := []struct {
		line string
		kept bool
	}{
		{"http: TLS handshake error from 127.0.0.1:5555: mtls: revoked: certificate serial 0x1f is revoked", false},
		{"http: TLS handshake error from [::1]:5555: mtls: unknown-authority: x509: certificate signed by unknown authority", false},
		{"http: TLS handshake error from 127.0.0.1:5555: EOF", true},
		{"http: TLS handshake error from 127.0.0.1:5555: tls: first record does not look like a TLS handshake", true},
		{"http: superfluous response.WriteHeader call", true},
		// Client-chosen text quoted into a handshake error that mtls did
		// not cause: kept.
		{`http: TLS handshake error from 127.0.0.1:5555: tls: client requested unsupported application protocols (["x: mtls: y"])`, true},
	}
	for _, tt := range tests {
		buf.Reset()
		l.Print(tt.line)
		// The text handler quotes the line: look for it as it writes it.
		if got := strings.Contains(buf.String(), strconv.Quote(tt.line)); got != tt.kept {
			t.Errorf("%q: kept %v, want %v (log: %q)", tt.line, got, tt.kept, buf.String())
		}
	}
}

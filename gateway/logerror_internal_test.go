package gateway

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// TestHandshakeRefusedErrorEscaped: the "TLS handshake refused" log (a
// handshake refused for its client certificate) writes its error as
// logtext.Error makes it, as the handshake-failed, open-connection and
// PROXY protocol logs do since b7cfcf6, which left this call site out:
// slog's JSON handler escapes only below 0x20, so a bidi override or DEL
// in the error's text reached the log raw. Twin: a clean text is logged
// as is.
func TestHandshakeRefusedErrorEscaped(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ text, want string }{
		{"client CA \"x\u202egnp.exe\x7f\" refused", `client CA \"x\\u202egnp.exe\\x7f\" refused`},
		{`client CA "plain" refused`, `client CA \"plain\" refused`}, // twin
	} {
		var buf bytes.Buffer
		g := &Gateway{log: slog.New(slog.NewJSONHandler(&buf, nil)), metrics: newMetrics()}
		g.handshakeRefused("public", mtls.HandshakeFailure{Reason: mtls.ReasonUnknownAuthority,
			Err: &mtls.Error{Reason: mtls.ReasonUnknownAuthority, Err: errors.New(tt.text)}})
		out := buf.String()
		if strings.ContainsAny(out, "\u202e\x7f") || !strings.Contains(out, tt.want) {
			t.Errorf("%q: logged %s, want the error as %s", tt.text, out, tt.want)
		}
	}
}

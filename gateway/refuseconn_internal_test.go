package gateway

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// TestRefuseConnectionWithoutTLS: refuseConnection answers 403 with the
// re-check's reason and Connection: close whether or not the request has
// TLS state; without it (unreachable today: CheckConn refuses only
// requests with TLS state, and net/http sets it on every request of a
// TLS connection, see TestHTTP2SchemeHTTP) it logs an empty server_name
// instead of panicking, as it did before. The twin, with TLS state, logs
// the SNI.
func TestRefuseConnectionWithoutTLS(t *testing.T) {
	t.Parallel()
	for _, withTLS := range []bool{false, true} {
		var buf bytes.Buffer
		g := &Gateway{log: slog.New(slog.NewTextHandler(&buf, nil)), metrics: newMetrics()}
		r := httptest.NewRequest("GET", "https://localhost/api/x", nil)
		r.ProtoMajor, r.ProtoMinor = 2, 0
		r.TLS = nil
		if withTLS {
			r.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: "localhost"}
		}
		rec := httptest.NewRecorder()
		err := &mtls.Error{Reason: mtls.ReasonRevoked, Err: errors.New("revoked")}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("TLS state %v: refuseConnection panicked: %v", withTLS, p)
				}
			}()
			g.refuseConnection(rec, r, new(exchange), "127.0.0.1:0", err)
		}()
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "(reason: revoked)") || rec.Header().Get("Connection") != "close" {
			t.Errorf("TLS state %v: got %d %q, Connection %q; want 403 revoked, close", withTLS, rec.Code, rec.Body, rec.Header().Get("Connection"))
		}
		want := "server_name=\"\""
		if withTLS {
			want = "server_name=localhost"
		}
		if !strings.Contains(buf.String(), want) {
			t.Errorf("TLS state %v: log %q lacks %s", withTLS, buf.String(), want)
		}
	}
}

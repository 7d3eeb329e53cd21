package gateway_test

import (
	"crypto/tls"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestHandshakeErrorNotSilencedByALPN: the server error log drops the
// "TLS handshake error" line of a handshake mtls refused, since the
// OnHandshakeFailure hook logged it, and the listener logs other failures
// with their reason (mtls.HandshakeReason, which reads crypto/tls's text
// from its start). crypto/tls quotes the client's ALPN protocols into the
// error of a handshake that offered none the server speaks; one named
// "x: mtls: y" must not make that failure vanish from the log or pass
// for an mtls refusal. The twin with a plain name is logged alike.
func TestHandshakeErrorNotSilencedByALPN(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, proto string }{
		{"plain", "spdy/1"},
		{"forged", "x: mtls: y"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			buf := &logBuffer{}
			g, err := gateway.New(w.config(), gateway.Options{Logger: slog.New(slog.NewJSONHandler(buf, nil))})
			if err != nil {
				t.Fatal(err)
			}
			srv := startHandler(t, w, g)
			conn, err := tls.Dial("tcp", strings.TrimPrefix(srv.base, "https://"), &tls.Config{
				RootCAs: w.ca.Pool(), ServerName: "localhost", NextProtos: []string{tt.proto}})
			if err == nil {
				conn.Close()
				t.Fatal("handshake succeeded with an unknown ALPN protocol")
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				for _, l := range buf.lines(t) {
					if msg, _ := l["msg"].(string); msg == "TLS handshake failed" {
						if e, _ := l["error"].(string); l["reason"] != "no-shared-alpn" || !strings.Contains(e, "unsupported application protocols") {
							t.Fatalf("got %v, want reason no-shared-alpn", l)
						}
						return
					}
				}
				if time.Now().After(deadline) {
					t.Fatalf("the failed handshake (ALPN %q) was not logged: %v", tt.proto, buf.lines(t))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestUpstreamPasswordNotEchoed: an upstream URL with credentials is
// refused, and the refusal, which goes to the log, /healthz and
// check-config's output, names the URL without its password, whether or
// not the URL parses. The twin: a user name alone, which is no secret, is
// still shown, and so is the host that says which URL is meant.
func TestUpstreamPasswordNotEchoed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, tt := range []struct{ upstream, want string }{
		{"http://svc:hunter2@127.0.0.1:8080", `"http://svc:xxxxx@127.0.0.1:8080": credentials in the URL are not supported`},
		{"http://svc:hunter2@127.0.0.1:8080/base?q=1", `"http://svc:xxxxx@127.0.0.1:8080/base?q=1": credentials`},
		{"http://svc:hunter2@127.0.0.1:bad", `invalid URL "http://svc:xxxxx@127.0.0.1:bad"`},
		{"ftp://svc:hunter2@127.0.0.1", `"ftp://svc:xxxxx@127.0.0.1": scheme must be http or https`},
		{"http://svc@127.0.0.1:8080", `"http://svc@127.0.0.1:8080": credentials in the URL are not supported`},
	} {
		cfg := w.config()
		cfg.Routes[0].Upstream = tt.upstream
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got error %v, want one containing %q", tt.upstream, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error repeats the password: %v", tt.upstream, err)
		}
	}
}

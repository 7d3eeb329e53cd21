package gateway_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// goClientHello is the first record of a Go client's handshake for
// serverName, as it goes on the wire.
func goClientHello(t *testing.T, serverName string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go tls.Client(a, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
	b.SetDeadline(time.Now().Add(time.Minute)) // hang guard only
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

// TestHandshakeProtocolFailures: a handshake that crypto/tls ends before
// any client certificate is looked at (no common version, cipher suite or
// ALPN protocol, not TLS at all, a client that hangs up, stays silent or
// does not trust the gateway's certificate, a malformed hello) is counted
// in tls_handshake_failures_total with its reason and logged once, with
// the reason, at the level its kind gets (Debug for what scanners and
// health checks do, Info for a client that tried and could not connect,
// Warn for a certificate crypto/tls refused itself); and the listener
// then serves a good client (the allowed twin of each case). Before,
// these were only an "http: TLS handshake error" line at Warn, without a
// reason, and not counted.
func TestHandshakeProtocolFailures(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hello := goClientHello(t, "localhost")
	dotted := bytes.Replace(hello, []byte("localhost"), []byte("localhos."), 1) // same length: only the name changes
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	web := w.web.TLSCertificate()
	wrongKey := tls.Certificate{Certificate: web.Certificate, PrivateKey: otherKey}
	strangers := pkitest.CA(t).Pool()

	// tlsDial runs a handshake with cfg (the test CA trusted, SNI
	// localhost, unless cfg says otherwise) and reads until the gateway
	// closes (TLS 1.3 refuses after the client's Finished).
	tlsDial := func(cfg *tls.Config) func(t *testing.T, addr string) {
		return func(t *testing.T, addr string) {
			if cfg.RootCAs == nil {
				cfg.RootCAs = w.ca.Pool()
			}
			cfg.ServerName = "localhost"
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute)) // hang guard only
			tc := tls.Client(c, cfg)
			if tc.Handshake() == nil {
				tc.Read(make([]byte, 1))
			}
		}
	}
	// raw sends b (none when nil: a silent client), half-closes (or
	// resets) and reads until the gateway closes; it returns what it read.
	raw := func(b []byte, reset bool, got *[]byte) func(t *testing.T, addr string) {
		return func(t *testing.T, addr string) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute)) // hang guard only
			if b != nil {
				c.Write(b)
				if reset {
					c.(*net.TCPConn).SetLinger(0)
					return
				}
				c.(*net.TCPConn).CloseWrite()
			}
			r, _ := io.ReadAll(c)
			if got != nil {
				*got = r
			}
		}
	}
	var answer []byte
	for _, tt := range []struct {
		name   string
		tune   func(*gateway.Config)
		client func(t *testing.T, addr string)
		reason string
		level  string
		check  func(t *testing.T)
	}{
		{name: "TLS 1.1 client", tune: tls12, client: tlsDial(&tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}), reason: "tls-version", level: "INFO"},
		{name: "TLS 1.2 client, TLS 1.3 listener", client: tlsDial(&tls.Config{MaxVersion: tls.VersionTLS12}), reason: "tls-version", level: "INFO"},
		{name: "no shared cipher suite", tune: tls12, client: tlsDial(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}), reason: "no-shared-cipher", level: "INFO"},
		{name: "only h2 to an http2: off listener", tune: func(c *gateway.Config) { c.Listeners[0].HTTP2 = gateway.HTTP2Off }, client: tlsDial(&tls.Config{NextProtos: []string{"h2"}}), reason: "no-shared-alpn", level: "INFO"},
		{name: "an unknown ALPN protocol", client: tlsDial(&tls.Config{NextProtos: []string{"spdy/1"}}), reason: "no-shared-alpn", level: "INFO"},
		{name: "client does not trust the gateway's certificate", client: tlsDial(&tls.Config{RootCAs: strangers}), reason: "server-certificate-refused", level: "INFO"},
		{name: "server name with a trailing dot", client: raw(dotted, false, nil), reason: "tls-protocol-error", level: "INFO"},
		{name: "plain HTTP", client: raw([]byte("GET /public/x HTTP/1.1\r\nHost: localhost\r\n\r\n"), false, &answer), reason: "not-tls", level: "DEBUG",
			check: func(t *testing.T) {
				resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(answer)), nil)
				if err != nil || resp.StatusCode != http.StatusBadRequest {
					t.Errorf("plain HTTP: got %v, %v (%q); want net/http's 400", resp, err, answer)
				}
			}},
		{name: "another protocol", client: raw([]byte("SSH-2.0-OpenSSH_9.6\r\n"), false, nil), reason: "not-tls", level: "DEBUG"},
		{name: "client closes at once", client: raw([]byte{}, false, nil), reason: "client-closed", level: "DEBUG"},
		{name: "client closes mid-ClientHello", client: raw(hello[:len(hello)/2], false, nil), reason: "client-closed", level: "DEBUG"},
		{name: "client resets", client: raw(hello[:len(hello)/2], true, nil), reason: "client-closed", level: "DEBUG"},
		// A limit short enough for the test, long enough that the good
		// client's handshake after it passes on a loaded machine.
		{name: "silent client", tune: func(c *gateway.Config) { c.Limits.ReadHeaderTimeout = 3 * time.Second }, client: raw(nil, false, nil), reason: "handshake-timeout", level: "DEBUG"},
		{name: "handshake signed by another key than the certificate's", client: tlsDial(&tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &wrongKey, nil }}), reason: "bad-certificate", level: "WARN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := w.config()
			if tt.tune != nil {
				tt.tune(cfg)
			}
			logs := &logBuffer{}
			gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			tt.client(t, strings.TrimPrefix(gw.base, "https://"))
			var line map[string]any
			eventually(t, "the failure logged with reason "+tt.reason, func() (bool, string) {
				for _, l := range logs.lines(t) {
					if msg, _ := l["msg"].(string); strings.HasPrefix(msg, "TLS handshake") {
						line = l
						return true, ""
					}
				}
				return false, logs.String()
			})
			if line["reason"] != tt.reason || line["level"] != tt.level || line["listener"] != "127.0.0.1:0" || line["peer"] == "" {
				t.Errorf("got log line %v, want reason %q at %s with listener and peer", line, tt.reason, tt.level)
			}
			if tt.reason == "bad-certificate" && line["subject"] != w.web.Cert.Subject.String() {
				t.Errorf("the refusal does not name the certificate: %v", line)
			}
			if tt.check != nil {
				tt.check(t)
			}
			_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
			want := fmt.Sprintf(`forgeproof_gateway_tls_handshake_failures_total{listener="127.0.0.1:0",reason=%q} 1`, tt.reason)
			if got := grepLines(metrics, "forgeproof_gateway_tls_handshake_failures_total{"); got != want {
				t.Errorf("got metrics\n%s\nwant\n%s", got, want)
			}
			// The allowed twin: the listener serves a good client.
			c := gw.client(w.web)
			if status, _ := do(t, c, "GET", strings.Replace(gw.base, "127.0.0.1", "localhost", 1)+"/api/x", nil, ""); status != 200 {
				t.Errorf("a good client after the failure: got %d, want 200", status)
			}
			c.Transport.(*http.Transport).CloseIdleConnections()
			// Logged once: not also as the server's "TLS handshake error".
			if l := grepLines(logs.String(), "TLS handshake error"); l != "" {
				t.Errorf("also logged as: %s", l)
			}
			if n := strings.Count(logs.String(), `"msg":"TLS handshake`); n != 1 {
				t.Errorf("%d handshake failure lines, want 1:\n%s", n, logs)
			}
		})
	}
}

// tls12 lets a listener accept TLS 1.2.
func tls12(c *gateway.Config) { c.Listeners[0].TLS.MinVersion = tls.VersionTLS12 }

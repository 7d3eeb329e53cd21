package gateway_test

import (
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// tlsEchoUpstream is an https upstream (HTTP/2 and HTTP/1.1) at
// 127.0.0.1 with cert that answers 200 and accepts WebSocket handshakes,
// then echoes the tunnel's bytes.
func tlsEchoUpstream(t *testing.T, cert *pki.Cert) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			fmt.Fprintf(w, "proto=%s", r.Proto)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(h[:]))
		brw.Flush()
		io.Copy(c, brw)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate()}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestUpstreamCAReloadReachesNoOldUpstream: after a reload that replaces
// the upstream CA with one that does not issue the upstream's
// certificate, no request and no open WebSocket reaches the upstream on
// what the old configuration verified (pooled HTTP/1.1 and HTTP/2
// connections, tunnels); with the CA kept (the twin), all go on.
func TestUpstreamCAReloadReachesNoOldUpstream(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	other := pkitest.NewDir(t, nil)
	w.write("other-ca.pem", pki.EncodeCertsPEM(other.CA.Cert))
	up := tlsEchoUpstream(t, w.upstreamCert())
	for _, tt := range []struct {
		name   string
		caFile string
		want   int
	}{
		{"CA kept", "ca.pem", 200},
		{"CA replaced", "other-ca.pem", 502},
	} {
		for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
			t.Run(tt.name+" "+proto, func(t *testing.T) {
				cfg := w.config()
				cfg.Routes[0].Upstream, cfg.Routes[0].UpstreamCAFile = up, w.path("ca.pem")
				if proto == "HTTP/1.1" {
					cfg.Routes[0].UpstreamServerName = "127.0.0.1" // another transport key, same name
				}
				logs := &logBuffer{}
				gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
				c := gw.client(w.web)
				status, body := do(t, c, "GET", gw.base+"/api/x", nil, "")
				if status != 200 {
					t.Fatalf("before the reload: got %d %s, want 200", status, body)
				}
				cfg.Routes[0].UpstreamCAFile = w.path(tt.caFile)
				if err := gw.g.Reload(cfg); err != nil {
					t.Fatalf("Reload: %v", err)
				}
				status, body = do(t, c, "GET", gw.base+"/api/x", nil, "")
				if status != tt.want {
					t.Fatalf("after the reload: got %d %s, want %d", status, body, tt.want)
				}
				if tt.want == 502 && !strings.Contains(logs.String(), "certificate signed by unknown authority") {
					t.Errorf("no upstream error line says why: %s", logs.String())
				}
			})
		}
		t.Run(tt.name+" WebSocket", func(t *testing.T) {
			cfg := w.config()
			cfg.Routes[0].Upstream, cfg.Routes[0].UpstreamCAFile = up, w.path("ca.pem")
			gw := w.start(cfg)
			conn, br := openTunnel(t, gw, w.web, "/api/ws")
			cfg.Routes[0].UpstreamCAFile = w.path(tt.caFile)
			if err := gw.g.Reload(cfg); err != nil {
				t.Fatalf("Reload: %v", err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			open := echoes(conn, br, "after reload")
			if open != (tt.want == 200) {
				t.Errorf("tunnel open after the reload: %v, want %v", open, tt.want == 200)
			}
		})
	}
}

package gateway_test

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// echoWebSocket is an upstream that accepts every WebSocket handshake
// and then echoes the tunnel's bytes (no WebSocket framing: the gateway
// relays bytes and reads none of them).
func echoWebSocket(t *testing.T) (url string, ended chan struct{}) {
	ended = make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			w.WriteHeader(http.StatusOK)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer func() { c.Close(); ended <- struct{}{} }()
		h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(h[:]))
		brw.Flush()
		io.Copy(c, brw)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ended
}

// openTunnel opens a WebSocket through gw on path with cert and checks
// that it echoes.
func openTunnel(t *testing.T, gw *running, cert *pki.Cert, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := dialTLS(t, gw, "localhost", []string{"http/1.1"}, cert)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: %s\r\nSec-Fetch-Site: same-origin\r\n\r\n", path, gw.base)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: got %v, %v; want 101", resp, err)
	}
	if !echoes(c, br, "hello") {
		t.Fatal("the new tunnel does not echo")
	}
	return c, br
}

// echoes sends msg through the tunnel and reports whether it came back.
func echoes(c net.Conn, br *bufio.Reader, msg string) bool {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return false
	}
	got := make([]byte, len(msg))
	_, err := io.ReadFull(br, got)
	return err == nil && string(got) == msg
}

// TestTunnelRecheck: an open WebSocket has no next request at which its
// certificate is checked again, so the gateway checks its tunnels after
// every reload and every second: one whose certificate a reload revoked,
// whose route's allow list a reload withdrew, or whose certificate
// expired (no reload: the tick finds it) is closed at both ends, and its
// access-log line carries the reason; another client's tunnel, and the
// same one across a reload that changed nothing, keep echoing. Negative
// control: with the re-check off the revoked client's tunnel still
// echoes after the reload, as every tunnel did before they were kept.
func TestTunnelRecheck(t *testing.T) {
	tests := []struct {
		name    string
		recheck bool
		change  func(w *world, cfg *gateway.Config, clk *clock)
		closed  bool   // web's tunnel is closed
		reason  string // in the log lines
	}{
		{"revoked by reload", true, func(w *world, cfg *gateway.Config, _ *clock) { w.crlNumbered("crl.pem", 2, w.web) }, true, "revoked"},
		{"authorization withdrawn by reload", true, func(_ *world, cfg *gateway.Config, _ *clock) {
			cfg.Routes[0].Allow.SPIFFEIDs = []string{"spiffe://test.example/admin"}
		}, true, "spiffe-id-denied"},
		{"expired while open", true, func(_ *world, _ *gateway.Config, clk *clock) { clk.Advance(2 * time.Hour) }, true, "expired"},
		{"nothing changed (the twin)", true, func(*world, *gateway.Config, *clock) {}, false, ""},
		{"negative control: recheck off", false, func(w *world, cfg *gateway.Config, _ *clock) { w.crlNumbered("crl.pem", 2, w.web) }, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			up, ended := echoWebSocket(t)
			cfg := w.config()
			cfg.Listeners[0].TLS.CRLFiles = []string{w.crlNumbered("crl.pem", 1)}
			for i := range cfg.Routes {
				cfg.Routes[i].Upstream = up
			}
			clk := newClock()
			log := &logBuffer{}
			gw := w.startWith(cfg, gateway.Options{Time: clk.Now, Logger: slog.New(slog.NewJSONHandler(log, nil))})
			gateway.SetRecheck(gw.g, tt.recheck)
			short := pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: "spiffe://test.example/web", NotAfter: clk.Now().Add(time.Hour)})
			web := short
			if tt.name != "expired while open" {
				web = w.web
			}
			c, br := openTunnel(t, gw, web, "/api/ws")
			other, otherBr := openTunnel(t, gw, w.admin, "/api/ws")
			tt.change(w, cfg, clk)
			if tt.name == "expired while open" {
				// No reload: wait for a tick to close it (one a second),
				// not for a fixed time, which a loaded machine outlasts.
				// The upstream's end closes after the client's.
				select {
				case <-ended:
					ended <- struct{}{} // for the check below
				case <-time.After(20 * time.Second):
					t.Fatal("no tick closed the expired tunnel")
				}
			} else if err := gw.g.Reload(cfg); err != nil {
				t.Fatal(err)
			}
			if got := echoes(c, br, "again"); got == tt.closed {
				t.Errorf("web's tunnel echoes after the change: %v, want %v", got, !tt.closed)
			}
			if !echoes(other, otherBr, "other") {
				t.Errorf("admin's tunnel stopped echoing")
			}
			if tt.closed {
				select {
				case <-ended:
				case <-time.After(5 * time.Second):
					t.Errorf("the upstream's end of the refused tunnel stayed open")
				}
				found := false
				for _, l := range log.lines(t) {
					found = found || l["msg"] == "WebSocket closed: refused when checked again" && l["reason"] == tt.reason
				}
				if !found {
					t.Errorf("no log line for the closed WebSocket with reason %q", tt.reason)
				}
				gw.log = log
				wantLogReasons(t, gw, "/api/ws", map[string]int{tt.reason: 1}) // admin's is still open
			}
		})
	}
}

// TestTunnelClosedAtShutdown: Shutdown closes the connections left once
// in-flight requests are done, but a WebSocket is a hijacked connection,
// which no server closes: it went on carrying messages after Serve
// returned, and the re-check ticker went on running for it. The gateway
// keeps its tunnels, so it closes them too. Twin: before the shutdown the
// tunnel echoes.
func TestTunnelClosedAtShutdown(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up, ended := echoWebSocket(t)
	cfg := w.config()
	for i := range cfg.Routes {
		cfg.Routes[i].Upstream = up
	}
	gw := w.start(cfg)
	c, br := openTunnel(t, gw, w.web, "/api/ws") // echoes
	gw.close()
	if echoes(c, br, "after") {
		t.Error("the tunnel still echoes after the gateway shut down")
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Error("the upstream's end of the tunnel stayed open after the gateway shut down")
	}
}

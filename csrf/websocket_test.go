package csrf_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/websocket"

	"github.com/forgeproof/forgeproof/csrf"
)

// TestWebSocketHandshake: a WebSocket handshake is a GET, but a browser
// sends a cross-site one with the client certificate and cookies, and a
// server's WebSocket library may accept any Origin (golang.org/x/net/websocket
// does, as does gorilla's with CheckOrigin returning true): cross-site
// WebSocket hijacking. Handler checks a handshake's origin as a POST's (no
// token: a handshake cannot carry one), as forgeproof serve does. Twins:
// a same-origin handshake and one with no browser headers (a program)
// open and echo. Negative control: without Handler the cross-site
// handshake opens.
func TestWebSocketHandshake(t *testing.T) {
	echo := websocket.Handler(func(c *websocket.Conn) { io.Copy(c, c) })
	p := csrf.New()
	protected := httptest.NewServer(p.Handler(echo))
	t.Cleanup(protected.Close)
	bare := httptest.NewServer(echo)
	t.Cleanup(bare.Close)
	tests := []struct {
		name, origin, site string
		srv                *httptest.Server
		wantOpen           bool
	}{
		{"cross-site", "https://evil.example", "cross-site", protected, false},
		{"cross-origin, no Sec-Fetch-Site", "https://evil.example", "", protected, false},
		{"same-site", "http://sub.127.0.0.1", "same-site", protected, false},
		{"same-origin (the twin)", "", "same-origin", protected, true},
		{"negative control: no Handler", "https://evil.example", "cross-site", bare, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origin := tt.origin
			if origin == "" {
				origin = tt.srv.URL
			}
			cfg, err := websocket.NewConfig("ws"+strings.TrimPrefix(tt.srv.URL, "http")+"/ws", origin)
			if err != nil {
				t.Fatal(err)
			}
			if tt.site != "" {
				cfg.Header = http.Header{"Sec-Fetch-Site": {tt.site}}
			}
			c, err := websocket.DialConfig(cfg)
			if open := err == nil; open != tt.wantOpen {
				t.Fatalf("handshake opened: %v (%v), want %v", open, err, tt.wantOpen)
			}
			if err != nil {
				return
			}
			defer c.Close()
			if _, err := c.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 5)
			if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
				t.Errorf("echo: got %q, %v", got, err)
			}
		})
	}
	// A program that sends no browser headers (no Origin: x/net/websocket
	// always sends one, so by hand) is no browser and passes, as its POST
	// would.
	req, _ := http.NewRequest("GET", protected.URL+"/ws", nil)
	req.Header = http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
	if err := p.Check(req); err != nil {
		t.Errorf("handshake without browser headers: got %v, want nil", err)
	}
	req.Header.Set("Origin", "https://evil.example")
	if got, _ := csrf.ReasonOf(p.Check(req)); got != csrf.ReasonOriginMismatch {
		t.Errorf("Check of a cross-origin handshake: got %q, want %q", got, csrf.ReasonOriginMismatch)
	}
}

// TestWebSocketHandshakeBehindTraefik: Traefik's forwarded-headers
// middleware sends "X-Forwarded-Proto: wss" (or "ws") with a WebSocket
// handshake, and the handshake's origin check read it as an unknown
// proto: every handshake from a client that sends Origin without
// Sec-Fetch-Site (Safari before 16.4, x/net/websocket, Python's
// websocket-client) was refused forwarded-invalid. wss is https and ws
// is http: the twins show they are not read as any scheme.
func TestWebSocketHandshakeBehindTraefik(t *testing.T) {
	p := csrf.New()
	if err := p.AddTrustedProxy("10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, proto, origin string
		want                csrf.Reason
	}{
		{"wss, https page", "wss", "https://app.example", ""},
		{"ws, http page", "ws", "http://app.example", ""},
		{"wss, http page", "wss", "http://app.example", csrf.ReasonOriginMismatch},
		{"ws, https page", "ws", "https://app.example", csrf.ReasonOriginMismatch},
		{"wss, another site", "wss", "https://evil.example", csrf.ReasonOriginMismatch},
		{"unknown proto", "gopher", "https://app.example", csrf.ReasonForwardedInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://10.0.0.5:8080/ws", nil)
			req.RemoteAddr = "10.1.1.1:1"
			req.Header = http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Origin": {tt.origin},
				"X-Forwarded-Proto": {tt.proto}, "X-Forwarded-Host": {"app.example"}}
			got, _ := csrf.ReasonOf(p.Check(req))
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			// The same origin in Forwarded.
			req.Header = http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Origin": {tt.origin},
				"Forwarded": {"for=192.0.2.1;host=app.example;proto=" + tt.proto}}
			if got, _ := csrf.ReasonOf(p.Check(req)); got != tt.want {
				t.Errorf("Forwarded: got %q, want %q", got, tt.want)
			}
		})
	}
}

package authz_test

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"golang.org/x/net/websocket"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/pki"
)

// wsUpstream is a WebSocket application (golang.org/x/net/websocket,
// which upgrades a handshake from any Origin, as many servers do): it
// answers each message with "upstream got " and the message, and other
// requests with 200. It records every request and counts its
// connections.
type wsUpstream struct {
	*httptest.Server
	mu    sync.Mutex
	conns int
	reqs  []wsSeen
}

// wsSeen is a request as the upstream received it.
type wsSeen struct {
	line       string // "METHOD /path"
	connection string // its Connection field
	close      bool   // whether it asked to close the connection
}

func newWSUpstream(t *testing.T) *wsUpstream {
	u := &wsUpstream{}
	echo := websocket.Server{Handler: func(c *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(c, &msg) == nil {
			if websocket.Message.Send(c, "upstream got "+msg) != nil {
				return
			}
		}
	}}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, wsSeen{r.Method + " " + r.URL.Path, r.Header.Get("Connection"), r.Close})
		u.mu.Unlock()
		if r.Header.Get("Upgrade") != "" {
			echo.ServeHTTP(w, r)
			return
		}
		io.WriteString(w, "upstream ok")
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.mu.Lock()
			u.conns++
			u.mu.Unlock()
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// seen returns the requests and connections the upstream has had.
func (u *wsUpstream) seen() ([]wsSeen, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]wsSeen(nil), u.reqs...), u.conns
}

// wsAnswer is the proxy's answer to a handshake: on 101, the open
// connection.
type wsAnswer struct {
	status int
	reason string // Forgeproof-Reason
	body   string
	conn   net.Conn
	br     *bufio.Reader
}

const wsKey = "dGhlIHNhbXBsZSBub25jZQ=="

// handshake sends a WebSocket handshake (method, path) through the
// proxy with the fields kv, presenting cert (none when nil), asking for
// a refusal's problem as JSON.
func (r *rig) handshake(cert *pki.Cert, method, path string, kv ...string) wsAnswer {
	t := r.t
	t.Helper()
	host := strings.TrimPrefix(r.base, "https://")
	c, err := tls.Dial("tcp", host, r.tlsConfig(cert))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\nAccept: application/json\r\n", method, path, host, wsKey)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", kv[i], kv[i+1])
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	a := wsAnswer{status: resp.StatusCode, reason: resp.Header.Get(authz.HeaderReason)}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		a.body = string(body)
		var p struct{ Reason string }
		json.Unmarshal(body, &p)
		if p.Reason != a.reason {
			t.Errorf("%s %s: the problem's reason %q is not Forgeproof-Reason %q", method, path, p.Reason, a.reason)
		}
		return a
	}
	sum := sha1.Sum([]byte(wsKey + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("101 with Sec-WebSocket-Accept %q: not the upstream's answer to this handshake", got)
	}
	a.conn, a.br = c, br
	return a
}

// exchange sends msg on the open WebSocket as a client's text frame
// (masked, RFC 6455 §5.3) and returns the upstream's answer, one
// unmasked text frame.
func (a wsAnswer) exchange(msg string) (string, error) {
	if len(msg) > 125 {
		return "", errors.New("exchange sends short messages only")
	}
	mask := [4]byte{0x5a, 0xc3, 0x17, 0x88}
	frame := append([]byte{0x81, 0x80 | byte(len(msg))}, mask[:]...)
	for i := range len(msg) {
		frame = append(frame, msg[i]^mask[i%4])
	}
	if _, err := a.conn.Write(frame); err != nil {
		return "", err
	}
	var h [2]byte
	if _, err := io.ReadFull(a.br, h[:]); err != nil {
		return "", err
	}
	if h[0] != 0x81 || h[1] > 125 {
		return "", fmt.Errorf("frame header % x: want one short unmasked text frame", h)
	}
	got := make([]byte, h[1])
	_, err := io.ReadFull(a.br, got)
	return string(got), err
}

// checkOpen: a is an open WebSocket to the upstream, messages flowing
// both ways.
func (a wsAnswer) checkOpen(t *testing.T) {
	t.Helper()
	if a.status != http.StatusSwitchingProtocols {
		t.Fatalf("got %d %q (%q), want 101", a.status, a.reason, a.body)
	}
	for _, msg := range []string{"hello", "again"} {
		if got, err := a.exchange(msg); err != nil || got != "upstream got "+msg {
			t.Fatalf("sent %q, got %q, %v; want the upstream's answer", msg, got, err)
		}
	}
}

// TestNginxWebSocket: through the page's configuration, a WebSocket
// handshake is decided as serve decides it and, allowed, is upgraded
// by a real WebSocket upstream, messages flowing both ways; refused, it
// gets serve's status and Forgeproof-Reason and never reaches the
// upstream. Each refusal has its allowed twin; the negative control is
// TestNginxWebSocketWithoutAuthz. Ordinary requests still reach the
// upstream on a connection each, told to close it.
func TestNginxWebSocket(t *testing.T) {
	r := newRig(t)
	u := newWSUpstream(t)
	r.upstream = strings.TrimPrefix(u.URL, "http://")
	r.startAuthz("../docs/integrations/nginx.md")
	r.startNginx(true)
	self := r.base
	for _, tc := range []struct {
		name   string
		cert   *pki.Cert
		method string
		path   string
		h      []string
		status int
		reason string
	}{
		{"same-origin", r.client, "GET", "/api/ws", []string{"Origin", self, "Sec-Fetch-Site", "same-origin"}, 101, ""},
		{"cross-site", r.client, "GET", "/api/ws", []string{"Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site"}, 403, "cross-site"},
		{"cross-origin, Origin only", r.client, "GET", "/api/ws", []string{"Origin", "https://evil.test"}, 403, "origin-mismatch"},
		{"service client (no browser headers)", r.client, "GET", "/api/ws", nil, 101, ""},
		// The route decides too: its allow list, as for any request.
		{"no certificate, public route", nil, "GET", "/public/ws", []string{"Origin", self, "Sec-Fetch-Site", "same-origin"}, 101, ""},
		{"no certificate, private route", nil, "GET", "/api/ws", []string{"Origin", self, "Sec-Fetch-Site", "same-origin"}, 403, "identity-missing"},
		// Only a GET is a handshake; serve strips Upgrade from another
		// method, which nginx cannot, so forgeproof refuses it.
		{"Upgrade on a POST", r.client, "POST", "/api/ws", []string{"Origin", self, "Sec-Fetch-Site", "same-origin", "Content-Length", "0"}, 400, "header-unremovable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := u.seen()
			a := r.handshake(tc.cert, tc.method, tc.path, tc.h...)
			after, _ := u.seen()
			if tc.status == 101 {
				a.checkOpen(t)
				if len(after) != len(before)+1 || after[len(after)-1].connection != "upgrade" {
					t.Fatalf("the upstream received %v, want the handshake with Connection: upgrade", after[len(before):])
				}
				return
			}
			if a.status != tc.status || a.reason != tc.reason {
				t.Fatalf("got %d %q (%q), want %d %q", a.status, a.reason, a.body, tc.status, tc.reason)
			}
			if len(after) != len(before) {
				t.Fatalf("refused, but the upstream received %v", after[len(before):])
			}
		})
	}
	t.Run("ordinary requests close their upstream connection", func(t *testing.T) {
		reqs, conns := u.seen()
		c := r.httpClient(r.client) // one client connection, kept alive
		for range 3 {
			resp, err := c.Get(r.base + "/api/x")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("got %d, want 200", resp.StatusCode)
			}
		}
		after, afterConns := u.seen()
		if got := afterConns - conns; got != 3 {
			t.Errorf("3 requests came on %d upstream connections, want 3", got)
		}
		for _, s := range after[len(reqs):] {
			if !s.close {
				t.Errorf("%s came with Connection %q, want close", s.line, s.connection)
			}
		}
	})
}

// TestNginxWebSocketWithoutAuthz is the negative control: the same nginx
// configuration without auth_request upgrades the cross-site handshake,
// and the forging page talks to the upstream as the user.
func TestNginxWebSocketWithoutAuthz(t *testing.T) {
	r := newRig(t)
	u := newWSUpstream(t)
	r.upstream = strings.TrimPrefix(u.URL, "http://")
	r.startNginx(false)
	r.handshake(r.client, "GET", "/api/ws", "Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site").checkOpen(t)
}

// TestNginxBodyOnHandshake: a GET that carries Upgrade and a body whose
// content is a request reaches an upstream that leaves it unread as the
// GET alone: the page's maps upgrade only an HTTP/1.1 handshake without
// a body, so this one, which the upstream does not upgrade, still closes
// its connection; over HTTP/2 too, where a body needs no Content-Length.
// The negative controls: the common map, which asks for an upgrade, so
// keep-alive, whatever the request; and the page's map without
// $server_protocol, over HTTP/2. Through either the hidden request
// reaches the upstream with its forged Client-Cert.
func TestNginxBodyOnHandshake(t *testing.T) {
	const pageMap = "map $fp_upgrade $fp_connection {\n    default upgrade;\n    \"\"      close;\n}\n"
	withCommonMap := []string{
		pageMap, "map $http_upgrade $fp_connection {\n    default upgrade;\n    ''      close;\n}\n",
		"proxy_set_header Upgrade $fp_upgrade;", "proxy_set_header Upgrade $http_upgrade;",
	}
	withoutProtocol := []string{
		`map "$server_protocol:$http_upgrade:`, `map "HTTP/1.1:$http_upgrade:`,
	}
	upgrade := []string{"Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", wsKey}
	for _, tc := range []struct {
		name   string
		edits  []string
		http2  bool
		hidden bool
	}{
		{"the page's maps", nil, false, false},
		{"the common map (negative control)", withCommonMap, false, true},
		// Names without ',' or '$': the rig's paths hold them.
		{"the page's maps over HTTP/2", nil, true, false},
		{"the page's maps without the protocol over HTTP/2 (negative control)", withoutProtocol, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, u := newLazyRig(t, "../docs/integrations/nginx.md")
			var got []string
			if tc.http2 {
				r.startNginx(true, append([]string{" ssl;\n    server_name", " ssl http2;\n    server_name"}, tc.edits...)...)
				got = r.sendBodyOnGETHTTP2(u, upgrade[:2]...)
			} else {
				r.startNginx(true, tc.edits...)
				got = r.sendBodyOnGET(u, upgrade...)
			}
			hidden := slices.Contains(got, smuggledLine)
			if hidden != tc.hidden || len(got) != 2+map[bool]int{true: 1}[tc.hidden] {
				t.Fatalf("the upstream received %q; want the hidden request: %v", got, tc.hidden)
			}
		})
	}
}

// sendBodyOnGETHTTP2 is sendBodyOnGET over HTTP/2, with a body and no
// Content-Length: written frame by frame, since Go's client sends
// neither Upgrade nor another connection-specific field over HTTP/2.
func (r *rig) sendBodyOnGETHTTP2(u *lazyUpstream, kv ...string) []string {
	t := r.t
	t.Helper()
	before := len(u.received())
	host := strings.TrimPrefix(r.base, "https://")
	cfg := r.tlsConfig(nil)
	cfg.NextProtos = []string{"h2"}
	c, err := tls.Dial("tcp", host, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.WriteSettings()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	fields := append([]string{":method", "GET", ":scheme", "https", ":authority", host, ":path", "/public/rates", "content-type", "text/plain"}, kv...)
	for i := 0; i+1 < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: strings.ToLower(fields[i]), Value: fields[i+1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true})
	fr.WriteData(1, true, []byte(smuggled))
	status := ""
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("HTTP/2 GET with a body: %v", err)
		}
		if f.Header().StreamID != 1 {
			continue
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			dec := hpack.NewDecoder(4096, func(h hpack.HeaderField) {
				if h.Name == ":status" {
					status = h.Value
				}
			})
			dec.Write(f.HeaderBlockFragment())
		case *http2.RSTStreamFrame:
			t.Fatalf("HTTP/2 GET with a body: reset (%v)", f.ErrCode)
		}
		if f.Header().Flags.Has(http2.FlagDataEndStream) {
			break
		}
	}
	if status != "200" {
		t.Fatalf("HTTP/2 GET with a body: got %q, want 200", status)
	}
	if got := r.send(nil, "GET", "/public/rates", hdr(), ""); got.status != 200 {
		t.Fatalf("next GET: got %d %q", got.status, got.body)
	}
	return u.received()[before:]
}

// TestNginxBodyOnGETKeepalive is TestNginxBodyOnGET's negative control:
// with HTTP/1.1 and no Connection: close for requests that are no
// handshake, the request hidden in a GET's body reaches the upstream.
func TestNginxBodyOnGETKeepalive(t *testing.T) {
	r, u := newLazyRig(t, "../docs/integrations/nginx.md")
	r.startNginx(true, "proxy_set_header Connection $fp_connection;", `proxy_set_header Connection "";`)
	if !slices.Contains(r.sendBodyOnGET(u), smuggledLine) {
		t.Fatalf("the hidden request did not reach the upstream: %q", u.received())
	}
}

// sendBodyOnHandshake sends, without a certificate, a WebSocket
// handshake to a public path whose body, framed by framing
// ("Content-Length" or "chunked"), is another request, then a plain GET,
// and returns the request lines the upstream received.
func (r *rig) sendBodyOnHandshake(u *lazyUpstream, framing string) []string {
	t := r.t
	t.Helper()
	before := len(u.received())
	raw := "GET /public/rates HTTP/1.1\r\nHost: " + r.hostPort() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + wsKey + "\r\n"
	if framing == "chunked" {
		raw += "Transfer-Encoding: chunked\r\n\r\n" + strconv.FormatInt(int64(len(smuggled)), 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n"
	} else {
		raw += "Content-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled
	}
	if st, reason := r.sendRaw(nil, raw); st != 200 {
		t.Fatalf("handshake with a %s body: got %d %q", framing, st, reason)
	}
	if got := r.send(nil, "GET", "/public/rates", hdr(), ""); got.status != 200 {
		t.Fatalf("next GET: got %d %q", got.status, got.body)
	}
	return u.received()[before:]
}

// TestCaddyBodyOnHandshake: a WebSocket handshake whose body is a
// request reaches an upstream that does not upgrade it and leaves the
// body unread as the GET alone. keepalive off does not cover it:
// net/http's Transport sends a request with Upgrade without
// "Connection: close", so the upstream parses the body as its next
// request whether or not Caddy reuses the connection. The page's
// @upgradeWithBody forwards it without Upgrade, as an ordinary GET,
// which keepalive off closes. A chunked body, which no Caddy matcher
// sees (net/http removes Transfer-Encoding from the header), reaches the
// upstream chunked again by Caddy: the chunk size comes first, no
// request line. The negative control: the page without the matcher's
// action; the hidden request reaches the upstream with its forged
// Client-Cert. The allowed
// twin is TestCaddyWebSocket.
func TestCaddyBodyOnHandshake(t *testing.T) {
	// Names without ',' or '$': the rig's paths hold them.
	withoutMatcher := []string{"request_header @upgradeWithBody -Upgrade", "request_header @upgradeWithBody -X-Unused"}
	for _, tc := range []struct {
		name    string
		edits   []string
		framing string
		hidden  bool
	}{
		{"the page's site block", nil, "Content-Length", false},
		{"the page's site block with a chunked body", nil, "chunked", false},
		{"without @upgradeWithBody (negative control)", withoutMatcher, "Content-Length", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, u := newLazyRig(t, "../docs/integrations/caddy.md")
			r.startCaddy(true, tc.edits...)
			got := r.sendBodyOnHandshake(u, tc.framing)
			hidden := slices.Contains(got, smuggledLine)
			if hidden != tc.hidden || len(got) != 2+map[bool]int{true: 1}[tc.hidden] {
				t.Fatalf("the upstream received %q; want the hidden request: %v", got, tc.hidden)
			}
		})
	}
}

// TestCaddyWebSocket: through the page's site block, a WebSocket
// handshake without a body is decided by forgeproof and upgraded by a
// real WebSocket upstream, messages flowing both ways; a cross-site one
// is refused and never reaches it; one with a body reaches it as a GET
// without Upgrade, which it answers 200 (TestCaddyBodyOnHandshake).
func TestCaddyWebSocket(t *testing.T) {
	r := newRig(t)
	u := newWSUpstream(t)
	r.upstream = strings.TrimPrefix(u.URL, "http://")
	r.startAuthz("../docs/integrations/caddy.md")
	r.startCaddy(true)
	self := r.base
	t.Run("without a body", func(t *testing.T) {
		r.handshake(r.client, "GET", "/api/ws", "Origin", self, "Sec-Fetch-Site", "same-origin").checkOpen(t)
	})
	t.Run("cross-site", func(t *testing.T) {
		before, _ := u.seen()
		a := r.handshake(r.client, "GET", "/api/ws", "Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site")
		if after, _ := u.seen(); a.status != 403 || a.reason != "cross-site" || len(after) != len(before) {
			t.Fatalf("got %d %q, upstream +%d; want 403 cross-site, never upstream", a.status, a.reason, len(after)-len(before))
		}
	})
	t.Run("with a body", func(t *testing.T) {
		before, _ := u.seen()
		a := r.handshake(r.client, "GET", "/api/ws", "Origin", self, "Sec-Fetch-Site", "same-origin", "Content-Length", "0")
		after, _ := u.seen()
		if a.status != 200 || len(after) != len(before)+1 || !after[len(after)-1].close {
			t.Fatalf("got %d, the upstream received %v; want 200 and the GET with Connection: close, no upgrade", a.status, after[len(before):])
		}
	})
}

package gateway_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// proxyClient is an HTTP client whose every connection starts with the
// bytes header returns (a PROXY protocol header, or anything else), as a
// balancer's would, then speaks TLS with the web client's certificate.
func (r *running) proxyClient(header func(c net.Conn) []byte) *http.Client {
	c := r.client(r.w.web)
	tr := c.Transport.(*http.Transport)
	tr.DisableKeepAlives = true
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if b := header(conn); len(b) > 0 {
			if _, err := conn.Write(b); err != nil {
				conn.Close()
				return nil, err
			}
		}
		return conn, nil
	}
	return c
}

// v1 and v2 build PROXY headers claiming the client src.
func v1(src string) func(net.Conn) []byte {
	return func(c net.Conn) []byte {
		h := proxyproto.HeaderProxyFromAddrs(1, tcpAddr(src), c.RemoteAddr())
		b, _ := h.Format()
		return b
	}
}

func v2(src string) func(net.Conn) []byte {
	return func(c net.Conn) []byte {
		h := proxyproto.HeaderProxyFromAddrs(2, tcpAddr(src), c.RemoteAddr())
		b, _ := h.Format()
		return b
	}
}

func raw(b string) func(net.Conn) []byte { return func(net.Conn) []byte { return []byte(b) } }

func tcpAddr(s string) *net.TCPAddr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

// proxyWorld runs a gateway whose listener speaks the PROXY protocol for
// pp, logging JSON to the returned buffer.
func proxyWorld(t *testing.T, pp *gateway.ProxyProtocol, edit ...func(*gateway.Config)) (*world, *running, *logBuffer) {
	t.Helper()
	w := newWorld(t)
	cfg := w.config()
	cfg.Listeners[0].ProxyProtocol = pp
	for _, e := range edit {
		e(cfg)
	}
	buf := &logBuffer{}
	g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(buf, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return w, startHandler(t, w, g), buf
}

// accessPeers lists the peer of every access-log line for path.
func accessPeers(t *testing.T, buf *logBuffer, path string) []string {
	var out []string
	for _, l := range buf.lines(t) {
		if l["path"] == path {
			out = append(out, l["peer"].(string))
		}
	}
	return out
}

// refusals returns the log lines of refused PROXY connections.
func refusals(t *testing.T, buf *logBuffer) []map[string]any {
	var out []map[string]any
	for _, l := range buf.lines(t) {
		if l["msg"] == "connection refused: PROXY protocol" {
			out = append(out, l)
		}
	}
	return out
}

func metricsText(t *testing.T, r *running) string {
	t.Helper()
	resp, err := http.Get(r.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestProxyProtocolTrusted: from a trusted balancer, v1 and v2 headers
// (IPv4 and IPv6 clients) make the client's address the one the upstream
// gets in X-Forwarded-For and the access log records.
func TestProxyProtocolTrusted(t *testing.T) {
	t.Parallel()
	_, gw, buf := proxyWorld(t, &gateway.ProxyProtocol{Trusted: []string{"127.0.0.1"}})
	for _, tc := range []struct {
		name, path string
		header     func(net.Conn) []byte
		wantXFF    string
		wantPeer   string
	}{
		{"v1 IPv4", "/api/v1", v1("203.0.113.7:40001"), "203.0.113.7", "203.0.113.7:40001"},
		{"v2 IPv4", "/api/v2", v2("198.51.100.9:40002"), "198.51.100.9", "198.51.100.9:40002"},
		{"v2 IPv6", "/api/v2v6", v2("[2001:db8::7]:40003"), "2001:db8::7", "[2001:db8::7]:40003"},
		{"v1 IPv6", "/api/v1v6", v1("[2001:db8::8]:40004"), "2001:db8::8", "[2001:db8::8]:40004"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, gw.proxyClient(tc.header), "GET", gw.base+tc.path, nil, "")
			if status != 200 {
				t.Fatalf("got status %d (%s), want 200", status, body)
			}
			if got := mustJSON(t, body).Header["X-Forwarded-For"]; len(got) != 1 || got[0] != tc.wantXFF {
				t.Errorf("upstream X-Forwarded-For: got %q, want %q", got, tc.wantXFF)
			}
			if got := accessPeers(t, buf, tc.path); len(got) != 1 || got[0] != tc.wantPeer {
				t.Errorf("access log peer: got %q, want %q", got, tc.wantPeer)
			}
		})
	}
	if r := refusals(t, buf); len(r) != 0 {
		t.Errorf("refused connections logged: %v", r)
	}
}

// TestProxyProtocolUntrustedPeer: a peer that is not a trusted balancer
// is refused, header or not, and the upstream never hears of it. The
// negative control is the same header from a trusted peer: the claimed
// address is believed (what an attacker would get without the check).
func TestProxyProtocolUntrustedPeer(t *testing.T) {
	t.Parallel()
	_, gw, buf := proxyWorld(t, &gateway.ProxyProtocol{Trusted: []string{"192.0.2.0/24"}})
	for _, h := range []func(net.Conn) []byte{v1("203.0.113.66:1234"), v2("203.0.113.66:1234"), raw("")} {
		if _, err := gw.proxyClient(h).Get(gw.base + "/api/spoof"); err == nil {
			t.Fatal("an untrusted peer's connection was served")
		}
	}
	if n := gw.w.upstream.count(); n != 0 {
		t.Errorf("upstream got %d requests, want 0", n)
	}
	r := refusals(t, buf)
	if len(r) != 3 {
		t.Fatalf("got %d refusal log lines, want 3: %v", len(r), r)
	}
	for _, l := range r {
		if l["reason"] != string(gateway.ReasonProxyUntrustedPeer) || !strings.HasPrefix(l["peer"].(string), "127.0.0.1:") || l["level"] != "WARN" {
			t.Errorf("refusal line: got %v, want reason %s, the real peer, WARN", l, gateway.ReasonProxyUntrustedPeer)
		}
	}
	if m := metricsText(t, gw); !strings.Contains(m, `forgeproof_gateway_proxy_protocol_refusals_total{listener="127.0.0.1:0",reason="proxy-untrusted-peer"} 3`) {
		t.Errorf("metrics lack the 3 refusals:\n%s", grepLines(m, "proxy_protocol"))
	}

	// Negative control: the same peer, trusted, gets its claim believed.
	_, open, _ := proxyWorld(t, &gateway.ProxyProtocol{Trusted: []string{"127.0.0.0/8"}})
	status, body := do(t, open.proxyClient(v1("203.0.113.66:1234")), "GET", open.base+"/api/spoof", nil, "")
	if status != 200 || mustJSON(t, body).Header["X-Forwarded-For"][0] != "203.0.113.66" {
		t.Fatalf("trusted peer: got %d %s, want 200 with X-Forwarded-For 203.0.113.66", status, body)
	}
}

// TestProxyProtocolBadHeaders: from a trusted balancer, a malformed
// header, a header for another transport, or none at all (no header, or
// one that names no client: v1 UNKNOWN, v2 LOCAL) is refused with its
// reason; with optional, a connection without a client address is served
// under the balancer's address, and a malformed one is still refused.
func TestProxyProtocolBadHeaders(t *testing.T) {
	t.Parallel()
	v2udp := func(c net.Conn) []byte {
		h := &proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.UDPv4,
			SourceAddr: &net.UDPAddr{IP: net.ParseIP("203.0.113.7"), Port: 1}, DestinationAddr: &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 2}}
		b, _ := h.Format()
		return b
	}
	v2unix := func(c net.Conn) []byte {
		h := &proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.UnixStream,
			SourceAddr: &net.UnixAddr{Net: "unix", Name: "/a"}, DestinationAddr: &net.UnixAddr{Net: "unix", Name: "/b"}}
		b, _ := h.Format()
		return b
	}
	cases := []struct {
		name   string
		header func(net.Conn) []byte
		reason gateway.Reason
	}{
		{"no header", raw(""), gateway.ReasonProxyHeaderMissing},
		{"v1 bad address", raw("PROXY TCP4 203.0.113.x 127.0.0.1 1 2\r\n"), gateway.ReasonProxyHeaderInvalid},
		{"v1 no CRLF", raw("PROXY TCP4 203.0.113.7 127.0.0.1 1 2\n"), gateway.ReasonProxyHeaderInvalid},
		{"v1 UNKNOWN", raw("PROXY UNKNOWN\r\n"), gateway.ReasonProxyHeaderMissing},
		{"v2 LOCAL", raw("\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"), gateway.ReasonProxyHeaderMissing},
		{"v2 UDP", v2udp, gateway.ReasonProxyHeaderInvalid},
		{"v2 version 3", raw("\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c\xcb\x00\x71\x07\x7f\x00\x00\x01\x00\x01\x00\x02"), gateway.ReasonProxyHeaderInvalid},
		{"v2 unix", v2unix, gateway.ReasonProxyHeaderInvalid},
	}
	for _, optional := range []bool{false, true} {
		_, gw, buf := proxyWorld(t, &gateway.ProxyProtocol{Trusted: []string{"127.0.0.1"}, Optional: optional, HeaderTimeout: time.Second})
		for _, tc := range cases {
			_, err := gw.proxyClient(tc.header).Get(gw.base + "/api/bad")
			if optional && tc.reason == gateway.ReasonProxyHeaderMissing {
				if err != nil {
					t.Errorf("optional, %s: %v, want served", tc.name, err)
				}
				continue
			}
			if err == nil {
				t.Errorf("optional=%v, %s: served, want refused", optional, tc.name)
			}
		}
		var got []string
		for _, l := range refusals(t, buf) {
			got = append(got, l["reason"].(string))
		}
		var want []string
		for _, tc := range cases {
			if !(optional && tc.reason == gateway.ReasonProxyHeaderMissing) {
				want = append(want, string(tc.reason))
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("optional=%v: refusal reasons: got %v, want %v", optional, got, want)
		}
		if optional {
			if p := accessPeers(t, buf, "/api/bad"); len(p) != 3 || !strings.HasPrefix(p[0], "127.0.0.1:") || !strings.HasPrefix(p[2], "127.0.0.1:") {
				t.Errorf("optional, no header: access log peers %q, want the balancer's", p)
			}
		}
	}
}

// TestProxyProtocolHeaderTimeout: a trusted balancer that connects and
// sends nothing is cut off after the header timeout, not held open.
func TestProxyProtocolHeaderTimeout(t *testing.T) {
	t.Parallel()
	_, gw, buf := proxyWorld(t, &gateway.ProxyProtocol{Trusted: []string{"127.0.0.1"}, HeaderTimeout: 50 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(gw.base, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // only so a broken gateway cannot hang the test
	if n, err := conn.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("read: got %d bytes, %v; want the connection closed", n, err)
	}
	if r := refusals(t, buf); len(r) != 1 || r[0]["reason"] != string(gateway.ReasonProxyHeaderMissing) {
		t.Fatalf("refusals: got %v, want one %s", r, gateway.ReasonProxyHeaderMissing)
	}
}

// TestProxyProtocolFeedsTrustedProxies: the address from the header is
// the peer for trusted-proxies: a client behind the balancer that is a
// trusted proxy has its X-Forwarded-For believed, another client's is
// replaced (its twin).
func TestProxyProtocolFeedsTrustedProxies(t *testing.T) {
	t.Parallel()
	_, gw, _ := proxyWorld(t, &gateway.ProxyProtocol{Trusted: []string{"127.0.0.1"}}, func(c *gateway.Config) {
		c.TrustedProxies = []string{"203.0.113.7"}
	})
	h := http.Header{"X-Forwarded-For": {"198.51.100.1"}}
	for _, tc := range []struct {
		client string
		want   string
	}{
		{"203.0.113.7:1000", "198.51.100.1, 203.0.113.7"},
		{"203.0.113.8:1000", "203.0.113.8"},
	} {
		status, body := do(t, gw.proxyClient(v2(tc.client)), "GET", gw.base+"/api/xff", h, "")
		if status != 200 {
			t.Fatalf("%s: got status %d", tc.client, status)
		}
		if got := strings.Join(mustJSON(t, body).Header["X-Forwarded-For"], ", "); got != tc.want {
			t.Errorf("client %s: upstream X-Forwarded-For %q, want %q", tc.client, got, tc.want)
		}
	}
}

// TestProxyProtocolOff: on a listener without proxy-protocol a PROXY
// header is not believed: it is not TLS, so the handshake fails.
func TestProxyProtocolOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	if _, err := gw.proxyClient(v1("203.0.113.7:1")).Get(gw.base + "/api/x"); err == nil {
		t.Fatal("a PROXY header was accepted on a listener without proxy-protocol")
	}
	if status, _ := do(t, gw.proxyClient(raw("")), "GET", gw.base+"/api/x", nil, ""); status != 200 {
		t.Fatalf("plain TLS: got status %d, want 200", status)
	}
}

func TestProxyProtocolConfig(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"ok", "proxy-protocol: {trusted: [10.0.0.0/8, 127.0.0.1], optional: true, header-timeout: 2s}", ""},
		{"trusted missing", "proxy-protocol: {optional: true}", "listeners[0].proxy-protocol.trusted: is required"},
		{"bad prefix", "proxy-protocol: {trusted: [10.0.0.0/33]}", "listeners[0].proxy-protocol.trusted[0]: invalid IP address or CIDR prefix"},
		{"bad timeout", "proxy-protocol: {trusted: [10.0.0.1], header-timeout: soon}", "listeners[0].proxy-protocol.header-timeout: invalid duration"},
		{"unknown key", "proxy-protocol: {trusted: [10.0.0.1], version: 2}", "listeners[0].proxy-protocol.version: unknown key"},
		{"not a mapping", "proxy-protocol: true", "listeners[0].proxy-protocol: must be a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgText := `listeners:
  - address: 127.0.0.1:0
    ` + tc.yaml + `
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem]}
routes:
  - {path-prefix: /, upstream: "http://127.0.0.1:1", allow: {any-verified: true}}
admin: {address: "off"}
`
			_, err := gateway.LoadConfig(w.write("gw.yaml", []byte(cfgText)))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	cfg, err := gateway.LoadConfig(w.write("gw.yaml", []byte(`listeners:
  - address: 127.0.0.1:0
    proxy-protocol: {trusted: [10.0.0.0/8, 127.0.0.1], optional: true, header-timeout: 2s}
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem]}
routes:
  - {path-prefix: /, upstream: "http://127.0.0.1:1", allow: {any-verified: true}}
`)))
	if err != nil {
		t.Fatal(err)
	}
	pp := cfg.Listeners[0].ProxyProtocol
	if pp == nil || strings.Join(pp.Trusted, ",") != "10.0.0.0/8,127.0.0.1" || !pp.Optional || pp.HeaderTimeout != 2*time.Second {
		t.Fatalf("decoded %+v", pp)
	}
}

// TestProxyProtocolReload: the trusted list reloads; turning the
// protocol on or off needs a restart.
func TestProxyProtocolReload(t *testing.T) {
	t.Parallel()
	w, gw, _ := proxyWorld(t, &gateway.ProxyProtocol{Trusted: []string{"192.0.2.1"}})
	client := gw.proxyClient(v1("203.0.113.7:1"))
	if _, err := client.Get(gw.base + "/api/x"); err == nil {
		t.Fatal("untrusted before the reload: served")
	}
	cfg := w.config() // same addresses as configured (":0")
	cfg.Listeners[0].ProxyProtocol = &gateway.ProxyProtocol{Trusted: []string{"127.0.0.1"}}
	if err := gw.g.Reload(cfg); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if status, _ := do(t, client, "GET", gw.base+"/api/x", nil, ""); status != 200 {
		t.Fatalf("trusted after the reload: got %d, want 200", status)
	}
	err := gw.g.Reload(w.config()) // without proxy-protocol
	var ce gateway.ConfigErrors
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "listeners[0].proxy-protocol: turned on or off: restart to apply") {
		t.Fatalf("Reload turning it off: got %v", err)
	}
}

// TestShutdownDelay: at the end of Serve's context /readyz turns 503 at
// once while the listener still accepts and serves new connections for
// limits.shutdown-delay, so balancers stop sending before anything is
// refused; Shutdown cuts the delay short. Its twin without a delay
// (TestGracefulDrain) refuses new connections once drained.
func TestShutdownDelay(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.Limits.ShutdownDelay = time.Hour
	gw := w.start(cfg)
	if status, _ := do(t, gw.client(w.web), "GET", gw.base+"/api/before", nil, ""); status != 200 {
		t.Fatalf("before: got %d", status)
	}
	gw.stop() // SIGTERM
	for {
		resp, err := http.Get(gw.admin + "/readyz")
		if err != nil {
			t.Fatalf("/readyz: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Not ready, still serving, on a new connection, which the answer
	// closes (Connection: close) so that the client comes back through
	// the balancer.
	resp, err := gw.client(w.web).Get(gw.base + "/api/during")
	if err != nil {
		t.Fatalf("during the delay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("during the delay: got %d, Connection: close %v; want 200 and close", resp.StatusCode, resp.Close)
	}
	select {
	case err := <-gw.done:
		t.Fatalf("Serve returned during the delay: %v", err)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := gw.g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-gw.done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	gw.done <- nil
	tcfg := &tls.Config{RootCAs: w.ca.Pool(), ServerName: "localhost"}
	if conn, err := tls.Dial("tcp", strings.TrimPrefix(gw.base, "https://"), tcfg); err == nil {
		conn.Close()
		t.Fatal("a new connection was accepted after Shutdown")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestProxyProtocolHandshakeLog: a refused TLS handshake behind the
// balancer is logged with the client's address from the header.
func TestProxyProtocolHandshakeLog(t *testing.T) {
	_, gw, buf := proxyWorld(t, &gateway.ProxyProtocol{Trusted: []string{"127.0.0.1"}})
	c := gw.proxyClient(v2("203.0.113.44:4444"))
	other := pkitest.SPIFFE(t, pkitest.CA(t), "spiffe://other.example/x") // another CA: refused at the handshake
	tc := other.TLSCertificate()
	c.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	if _, err := c.Get(gw.base + "/api/x"); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	var peers []string
	for _, l := range buf.lines(t) {
		if l["msg"] == "TLS handshake refused" {
			peers = append(peers, l["peer"].(string))
		}
	}
	if len(peers) != 1 || peers[0] != "203.0.113.44:4444" {
		t.Fatalf("handshake refusal peers %q, want the client's 203.0.113.44:4444", peers)
	}
}

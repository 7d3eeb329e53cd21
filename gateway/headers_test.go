package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// Tests of what the gateway forwards (issue 11, classes 1, 4, 5, 6, 7):
// each sends raw bytes through a real gateway to the raw upstream
// (rawupstream_test.go) and checks what the upstream received, not only
// the status the client saw. Each refused case has its allowed twin and
// each check a negative control with it switched off (export_test.go).

// rawWorld is a world whose routes all go to one raw upstream, plus a
// route "legacy" (/legacy, anyone) with allow-underscore-headers, and one
// extra identity-like header list entry.
func rawWorld(t *testing.T, respond func(*http.Request) string) (*world, *running, *rawUpstream) {
	t.Helper()
	return rawWorldWith(t, respond, func(cfg *gateway.Config) {
		cfg.Routes = append(cfg.Routes, gateway.Route{Name: "legacy", PathPrefix: "/legacy", Allow: gateway.Allow{Unauthenticated: true}, AllowUnderscoreHeaders: true})
		cfg.StripRequestHeaders = []string{"X-Corp-Auth-*", "X-Employee-Id"}
	})
}

// rawWorldWith is a world whose routes, those edit adds included, all go
// to one raw upstream.
func rawWorldWith(t *testing.T, respond func(*http.Request) string, edit ...func(*gateway.Config)) (*world, *running, *rawUpstream) {
	t.Helper()
	w := newWorld(t)
	u := newRawUpstream(t, respond)
	cfg := w.config()
	for _, e := range edit {
		e(cfg)
	}
	for i := range cfg.Routes {
		cfg.Routes[i].Upstream = u.URL
	}
	return w, w.start(cfg), u
}

// forwardOK sends raw on c, wants the gateway's 200, closes c and
// returns what the upstream u received.
func forwardOK(t *testing.T, c *rawClient, u *rawUpstream, raw string) string {
	t.Helper()
	c.send(raw)
	if resp, body := c.read(); resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
	}
	c.Close()
	return received(u.wait())
}

// namedHeaders is one header line "name: v-name" for each name;
// reachedUpstream tells whether the upstream got such a line's value.
func namedHeaders(names ...[]string) string {
	var b strings.Builder
	for _, l := range names {
		for _, n := range l {
			b.WriteString(n + ": v-" + n + "\r\n")
		}
	}
	return b.String()
}

// reachedUpstream reports whether got, what the upstream received, has
// the value namedHeaders gave the header name.
func reachedUpstream(got, name string) bool { return strings.Contains(got, "v-"+name+"\r\n") }

// respondAnyUpgrade is an upstream that accepts every upgrade it is
// offered (h2c, websocket, anything), answering 101 with that protocol.
func respondAnyUpgrade(r *http.Request) string {
	if up := r.Header.Get("Upgrade"); up != "" && strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
		return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + up + "\r\n\r\n"
	}
	return rawOK
}

// hasHeader reports whether the upstream request headers h hold a name
// that normalises (lower case, '_' as '-') to want.
func hasHeader(h http.Header, want string) bool {
	for name := range h {
		if strings.EqualFold(strings.ReplaceAll(name, "_", "-"), want) {
			return true
		}
	}
	return false
}

// TestUpgradeSmuggling: h2c upgrade smuggling (issue 11, class 1). The
// client asks /public (allowed) to upgrade to h2c; an upstream that
// accepts h2c would answer 101, and every later request on the connection
// (GET /admin/secret, refused to this client) would reach it as tunnel
// bytes, unchecked. The gateway forwards no Upgrade but a WebSocket
// handshake's, so the upstream answers 200 and the next request is the
// gateway's to check: 403. Negative control: with the check off the
// second request reaches the upstream through the tunnel.
func TestUpgradeSmuggling(t *testing.T) {
	for _, check := range []bool{true, false} {
		t.Run(map[bool]string{true: "checked", false: "negative control"}[check], func(t *testing.T) {
			w, gw, u := rawWorld(t, respondH2C)
			gateway.SetUpgradeCheck(gw.g, check)
			c := gw.dialRaw(t, w.web)
			c.send("GET /public/x HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n" +
				"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
			resp, _ := c.read()
			c.send("GET /admin/secret HTTP/1.1\r\nHost: localhost\r\n\r\n")
			if check {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("upgrade request: got %d, want 200 (forwarded without its Upgrade)", resp.StatusCode)
				}
				if resp, body := c.read(); resp.StatusCode != http.StatusForbidden {
					t.Errorf("second request: got %d %s, want 403 from the gateway", resp.StatusCode, body)
				}
			} else if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("negative control: got %d, want 101 relayed", resp.StatusCode)
			}
			c.Close()
			conns := u.wait()
			got := received(conns)
			if reached := strings.Contains(got, "/admin/secret"); reached == check {
				t.Errorf("GET /admin/secret reached the upstream: %v, want %v; upstream got %q", reached, !check, got)
			}
			if !check {
				return
			}
			for _, conn := range conns {
				if conn.tunnel {
					t.Errorf("the upstream switched protocols: %q", conn.bytes)
				}
				for _, h := range conn.headers {
					if hasHeader(h, "Upgrade") || hasHeader(h, "HTTP2-Settings") || strings.Contains(strings.ToLower(h.Get("Connection")), "upgrade") {
						t.Errorf("upstream got upgrade headers: %v", h)
					}
				}
			}
		})
	}
}

// TestUpgradeTokens: every Upgrade but a WebSocket handshake on GET is
// removed, whatever the token and the method; the allowed twin, a real
// WebSocket handshake, is forwarded with exactly "Upgrade: websocket" and
// becomes a tunnel.
func TestUpgradeTokens(t *testing.T) {
	ws := "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-Fetch-Site: same-origin\r\n"
	tests := []struct {
		name, method, connection, upgrade, extra string
		wantWebSocket                            bool
	}{
		{"h2c", "GET", "Upgrade, HTTP2-Settings", "h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n", false},
		{"h2c with Connection naming Upgrade only", "GET", "Upgrade", "h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n", false},
		{"H2C upper case", "GET", "upgrade", "H2C", "", false},
		{"h2c first, websocket second", "GET", "Upgrade", "h2c, websocket", ws, true},
		{"TLS/1.0", "GET", "Upgrade", "TLS/1.0", "", false},
		{"an unknown protocol", "GET", "Upgrade", "foo/2", "", false},
		{"websocket on POST", "POST", "Upgrade", "websocket", ws + "Content-Length: 0\r\n", false},
		{"websocket on GET (the allowed twin)", "GET", "Upgrade", "websocket", ws, true},
		{"websocket with Connection: keep-alive, Upgrade", "GET", "keep-alive, Upgrade", "websocket", ws, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw, u := rawWorld(t, respondAnyUpgrade)
			c := gw.dialRaw(t, w.web)
			c.send(tt.method + " /api/x HTTP/1.1\r\nHost: localhost\r\nOrigin: " + gw.base + "\r\nConnection: " + tt.connection +
				"\r\nUpgrade: " + tt.upgrade + "\r\n" + tt.extra + "\r\n")
			resp, body := c.read()
			want := http.StatusOK
			if tt.wantWebSocket {
				want = http.StatusSwitchingProtocols
			}
			if resp.StatusCode != want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, want)
			}
			c.Close()
			conns := u.wait()
			if len(conns) != 1 || len(conns[0].headers) != 1 {
				t.Fatalf("upstream got %q, want one request", received(conns))
			}
			h := conns[0].headers[0]
			if tt.wantWebSocket {
				if got := h.Values("Upgrade"); len(got) != 1 || got[0] != "websocket" || !conns[0].tunnel {
					t.Errorf("upstream got Upgrade %q (tunnel %v), want exactly [websocket] and a tunnel", got, conns[0].tunnel)
				}
			} else if hasHeader(h, "Upgrade") || strings.Contains(strings.ToLower(h.Get("Connection")), "upgrade") || conns[0].tunnel {
				t.Errorf("upstream got Upgrade %q, Connection %q (tunnel %v), want neither", h.Values("Upgrade"), h.Get("Connection"), conns[0].tunnel)
			}
			if hasHeader(h, "HTTP2-Settings") {
				t.Errorf("upstream got HTTP2-Settings")
			}
		})
	}
}

// TestUnaskedSwitch: an upstream's 101 to a request the gateway did not
// forward as a WebSocket handshake is never relayed (502
// upstream-upgrade-refused), so no tunnel opens and the next request is
// the gateway's to check. Go's ReverseProxy happens to refuse these too
// (it relays a 101 only when its Upgrade equals the request's), with
// upstream-unavailable: the negative control shows that with the check
// off, so the refusal does not rest on it alone.
func TestUnaskedSwitch(t *testing.T) {
	bare := func(*http.Request) string { return "HTTP/1.1 101 Switching Protocols\r\n\r\n" }
	h2c := func(*http.Request) string { return rawSwitchH2C }
	tests := []struct {
		name    string
		respond func(*http.Request) string
		request string
	}{
		{"bare 101 to a GET", bare, "GET /public/x HTTP/1.1\r\nHost: localhost\r\n\r\n"},
		{"h2c 101 to a GET", h2c, "GET /public/x HTTP/1.1\r\nHost: localhost\r\n\r\n"},
		{"h2c 101 to an h2c upgrade (stripped)", h2c, "GET /public/x HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"},
		{"h2c 101 to a WebSocket handshake", h2c, "GET /public/x HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-Fetch-Site: same-origin\r\n\r\n"},
	}
	for _, tt := range tests {
		for _, check := range []bool{true, false} {
			if !check && tt.name != "bare 101 to a GET" {
				// Go's own refusal of a 101 whose Upgrade differs from the
				// request's leaves the upstream connection open (it never
				// closes the 101's body), which would hold u.wait: the
				// check, which refuses in ModifyResponse, closes it.
				continue
			}
			t.Run(tt.name+map[bool]string{true: "", false: " (negative control)"}[check], func(t *testing.T) {
				w, gw, u := rawWorld(t, tt.respond)
				gateway.SetUpgradeCheck(gw.g, check)
				c := gw.dialRaw(t, w.web)
				c.send(tt.request)
				resp, body := c.read()
				want := gateway.ReasonUpstreamUpgradeRefused
				if !check {
					want = gateway.ReasonUpstreamUnavailable
				}
				if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, string(want)) {
					t.Fatalf("got %d %s, want 502 %s", resp.StatusCode, body, want)
				}
				c.send("GET /admin/secret HTTP/1.1\r\nHost: localhost\r\n\r\n")
				if resp, _ := c.read(); resp.StatusCode != http.StatusForbidden {
					t.Errorf("second request: got %d, want 403 from the gateway", resp.StatusCode)
				}
				if check {
					_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
					if m := `forgeproof_gateway_upstream_refusals_total{reason="upstream-upgrade-refused",route="public"} 1`; !strings.Contains(metrics, m) {
						t.Errorf("metrics lack %s", m)
					}
				}
				c.Close()
				if got := received(u.wait()); strings.Contains(got, "/admin/secret") {
					t.Errorf("GET /admin/secret reached the upstream: %q", got)
				}
			})
		}
	}
}

// TestUnderscoreTwins: header names with '_' are dropped (nginx's
// underscores_in_headers off), because CGI, WSGI and Rack read
// X_Forwarded_For as X-Forwarded-For: Puma CVE-2024-45614
// (GHSA-9hf4-67fc-4vf4), where a client's X_Forwarded_Host overrode the
// proxy's X-Forwarded-Host. A route with allow-underscore-headers keeps
// ordinary ones (My_Custom) but never the twins of headers the gateway
// sets, strips or decides on. Allowed twin: dashed names pass. Negative
// control: with the check off X_Forwarded_For reaches the upstream.
func TestUnderscoreTwins(t *testing.T) {
	twins := []string{"X_Forwarded_For", "X_Forwarded_Host", "X_Forwarded_Proto", "X_Forwarded_Port", "X_Real_IP",
		"Transfer_Encoding", "Content_Length", "Client_Cert", "Client_Cert_Chain", "x_forwarded_client_cert", "Sec_Fetch_Site",
		"X_CSRF_Token", "Proxy_Connection", "Keep_Alive", "HTTP2_Settings", "Forgeproof_Client_Identity", "x.forwarded.for"}
	send := func(t *testing.T, gw *running, w *world, path string) {
		t.Helper()
		c := gw.dialRaw(t, w.web)
		var b strings.Builder
		b.WriteString("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nX-Normal-Header: 1\r\nMy_Custom: 1\r\n")
		for _, n := range twins {
			b.WriteString(n + ": evil\r\n")
		}
		b.WriteString("\r\n")
		c.send(b.String())
		if resp, body := c.read(); resp.StatusCode != http.StatusOK {
			t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
		}
		c.Close()
	}
	tests := []struct {
		name, path   string
		check        bool
		wantCustom   bool // My_Custom reaches the upstream
		wantTwinsOut bool // X_Forwarded_For reaches the upstream
	}{
		{"default route", "/public/x", true, false, false},
		{"allow-underscore-headers route", "/legacy/x", true, true, false},
		{"negative control", "/public/x", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw, u := rawWorld(t, respondOK)
			gateway.SetUnderscoreCheck(gw.g, tt.check)
			send(t, gw, w, tt.path)
			conns := u.wait()
			if len(conns) != 1 {
				t.Fatalf("upstream got %q, want one request", received(conns))
			}
			h := conns[0].headers[0]
			if h.Get("X-Normal-Header") != "1" {
				t.Errorf("X-Normal-Header did not reach the upstream (the allowed twin)")
			}
			if got := h.Get("My_custom") != ""; got != tt.wantCustom {
				t.Errorf("My_Custom reached the upstream: %v, want %v", got, tt.wantCustom)
			}
			if got := h.Get("X_forwarded_for") != ""; got != tt.wantTwinsOut {
				t.Errorf("X_Forwarded_For reached the upstream: %v, want %v", got, tt.wantTwinsOut)
			}
			if !tt.check {
				return
			}
			for name, v := range h {
				if strings.ContainsAny(name, "_.") && name != "My_custom" || strings.Contains(strings.Join(v, ","), "evil") {
					t.Errorf("upstream got %s: %q", name, v)
				}
			}
			if h.Get("X-Forwarded-For") != "127.0.0.1" {
				t.Errorf("X-Forwarded-For: got %q, want the gateway's 127.0.0.1", h.Get("X-Forwarded-For"))
			}
			_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
			route := strings.Trim(tt.path[:strings.LastIndexByte(tt.path, '/')], "/")
			want := `forgeproof_gateway_request_headers_dropped_total{kind="underscore",route="` + route + `"}`
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		})
	}
}

// TestIdentityLikeHeaders: identity headers of other products (nginx,
// HAProxy, Apache, IIS, AWS, Google Cloud, Azure, Cloudflare, Traefik,
// WebLogic, oauth2-proxy) never reach the upstream, under any spelling,
// even on a route that allows '_' in names; nor do the configured extra
// ones (strip-request-headers). Allowed twins: similar ordinary names.
// Negative control: with the check off they reach the upstream.
func TestIdentityLikeHeaders(t *testing.T) {
	refused := []string{"SSL_CLIENT_CERT", "SSL_CLIENT_S_DN", "ssl-client-verify", "Ssl-Client-Cert", "x_ssl_client_dn",
		"X-SSL-Client-Verify", "X-SSL-Client-CN", "X-SSL", "X-SSL-Cert", "X-Client-Certificate", "X-Client-Verify",
		"X-Client-DN", "X-Client-Cert-Present", "X-Client-Cert-Chain-Verified", "X-ARR-ClientCert", "X-Arr-Ssl",
		"X-Amzn-Mtls-Clientcert", "X-Amzn-Mtls-Clientcert-Leaf", "X-Amzn-Mtls-Clientcert-Subject", "X-Amzn-Oidc-Identity",
		"Cf-Client-Cert-Sha256", "Cf-Access-Authenticated-User-Email",
		"X-Ms-Client-Principal", "X-Ms-Client-Principal-Name", "X-Goog-Authenticated-User-Email", "X-Goog-Iap-Jwt-Assertion",
		"WL-Proxy-Client-Cert", "WL-Proxy-SSL", "Remote-User", "X-Remote-User", "X-Forwarded-User", "X-Forwarded-Email",
		"X-Auth-Request-Email", "X-Corp-Auth-User", "x_corp_auth_role", "X-Employee-Id"}
	// mtls/forwarded's own list (forwarded.IsHeader), which the switch leaves on.
	mtlsList := []string{"X-Client-Cert", "X-SSL-Client-Cert", "X-Forwarded-Tls-Client-Cert", "X-Forwarded-Tls-Client-Cert-Info", "x_ssl_client_cert"}
	allowed := []string{"X-Client-Id", "X-Request-Id", "X-Sslish", "X-Employee-Ids", "X-Corp-Authx", "X-Amzn-Trace-Id", "Client-Hint"}
	for _, check := range []bool{true, false} {
		t.Run(map[bool]string{true: "checked", false: "negative control"}[check], func(t *testing.T) {
			w, gw, u := rawWorld(t, respondOK)
			gateway.SetIdentityLikeCheck(gw.g, check)
			got := forwardOK(t, gw.dialRaw(t, w.web), u,
				"GET /legacy/x HTTP/1.1\r\nHost: localhost\r\n"+namedHeaders(refused, mtlsList, allowed)+"\r\n")
			for _, n := range refused {
				if reached := reachedUpstream(got, n); reached == check {
					t.Errorf("%s reached the upstream: %v, want %v", n, reached, !check)
				}
			}
			for _, n := range mtlsList {
				if reachedUpstream(got, n) {
					t.Errorf("%s (mtls/forwarded's list, not switched off) reached the upstream", n)
				}
			}
			for _, n := range allowed {
				if !reachedUpstream(got, n) {
					t.Errorf("%s did not reach the upstream (an ordinary header)", n)
				}
			}
			if check {
				_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
				if want := `forgeproof_gateway_request_headers_dropped_total{kind="identity-like",route="legacy"}`; !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}

// TestFramingRefused: framing that net/http already refuses before the
// gateway sees the request, checked so that a Go upgrade that relaxes it
// is noticed: the client gets 400 or 501, the connection is closed and the
// upstream receives nothing.
func TestFramingRefused(t *testing.T) {
	tests := []struct {
		name, headers string
		want          int
	}{
		{"two different Content-Lengths", "Content-Length: 5\r\nContent-Length: 6\r\n", 400},
		{"Content-Length list", "Content-Length: 5, 6\r\n", 400},
		{"Content-Length with a sign", "Content-Length: +5\r\n", 400},
		{"Transfer-Encoding gzip, chunked", "Transfer-Encoding: gzip, chunked\r\n", 501},
		{"Transfer-Encoding twice", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 501},
		{"Transfer-Encoding identity", "Transfer-Encoding: identity\r\nContent-Length: 5\r\n", 501},
		{"Transfer-Encoding with a space before the colon", "Transfer-Encoding : chunked\r\n", 400},
		{"Content-Length with a space before the colon", "Content-Length : 5\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw, u := rawWorld(t, respondOK)
			c := gw.dialRaw(t, w.web)
			c.send("POST /public/x HTTP/1.1\r\nHost: localhost\r\n" + tt.headers + "\r\n" + "0\r\n\r\n" +
				"GET /public/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n")
			resp, body := c.read()
			if resp.StatusCode != tt.want {
				t.Errorf("got %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if _, _, err := c.next(); err == nil {
				t.Errorf("a second response came: the connection was kept")
			}
			c.Close()
			if got := received(u.wait()); got != "" {
				t.Errorf("upstream got %q, want nothing", got)
			}
		})
	}
}

// TestRepeatedDecisionHeadersGateway: the gateway refuses what the csrf
// package refuses (issue 11, class 7): two Origin lines (own first) on a
// POST, 403 header-repeated, and nothing reaches the upstream; the twin
// with one Origin passes. (The negative control is csrf's
// TestRepeatedOriginNegativeControl: net/http's CrossOriginProtection
// lets the request through.)
func TestRepeatedDecisionHeadersGateway(t *testing.T) {
	tests := []struct {
		name, headers string
		want          int
	}{
		{"two Origin lines", "Origin: ORIGIN\r\nOrigin: https://evil.example\r\n", 403},
		{"two Sec-Fetch-Site lines", "Sec-Fetch-Site: same-origin\r\nSec-Fetch-Site: cross-site\r\n", 403},
		{"two Referer lines", "Referer: ORIGIN/form\r\nReferer: https://evil.example/\r\n", 403},
		{"one Origin", "Origin: ORIGIN\r\n", 200},
		{"one Origin, upper-case Host", "Origin: ORIGIN\r\n", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw, u := rawWorld(t, respondOK)
			c := gw.dialRaw(t, w.web)
			host := "localhost"
			if strings.Contains(tt.name, "upper-case") {
				host = "LOCALHOST"
			}
			port := gw.base[strings.LastIndexByte(gw.base, ':'):]
			c.send("POST /api/x HTTP/1.1\r\nHost: " + host + port + "\r\nAccept: application/json\r\nContent-Length: 0\r\n" +
				strings.ReplaceAll(tt.headers, "ORIGIN", "https://localhost"+port) + "\r\n")
			resp, body := c.read()
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want == 403 && (!strings.Contains(body, `"reason":"header-repeated"`) || !strings.Contains(body, "more than once")) {
				t.Errorf("got %s, want reason header-repeated", body)
			}
			c.Close()
			if reached := received(u.wait()) != ""; reached != (tt.want == 200) {
				t.Errorf("upstream reached: %v, want %v", reached, tt.want == 200)
			}
		})
	}
}

// TestH2PriorKnowledgeNotForwarded: the other way to start h2c, the HTTP/2
// connection preface sent as if it were an HTTP/1.1 request ("PRI *
// HTTP/2.0"), never reaches the upstream, with or without a Host; its
// twin, an ordinary request on a fresh connection, does.
func TestH2PriorKnowledgeNotForwarded(t *testing.T) {
	for _, preface := range []string{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "PRI * HTTP/2.0\r\nHost: localhost\r\n\r\nSM\r\n\r\n"} {
		w, gw, u := rawWorld(t, respondAnyUpgrade)
		c := gw.dialRaw(t, w.web)
		c.send(preface)
		if resp, _, err := c.next(); err == nil && resp.StatusCode < 400 {
			t.Errorf("%q: got %d, want a refusal", preface, resp.StatusCode)
		}
		c.Close()
		c = gw.dialRaw(t, w.web)
		c.send("GET /public/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if resp, _ := c.read(); resp.StatusCode != http.StatusOK {
			t.Errorf("the twin: got %d, want 200", resp.StatusCode)
		}
		c.Close()
		if got := received(u.wait()); strings.Contains(got, "PRI") || !strings.Contains(got, "GET /public/x") {
			t.Errorf("%q: upstream got %q, want only the twin", preface, got)
		}
	}
}

// TestRequestTrailersNotForwarded: fields in a chunked request's trailer
// section (after the body) never reach the upstream, neither their values
// nor their announcement in Trailer: they would bypass the header filter
// (an upstream that merges trailers into headers would read Client-Cert or
// X-Forwarded-For from them). The twin: the body itself arrives.
func TestRequestTrailersNotForwarded(t *testing.T) {
	w, gw, u := rawWorld(t, respondOK)
	got := forwardOK(t, gw.dialRaw(t, w.web), u,
		"POST /public/x HTTP/1.1\r\nHost: localhost\r\nTrailer: Client-Cert, X-Forwarded-For\r\nTransfer-Encoding: chunked\r\n\r\n"+
			"4\r\nbody\r\n0\r\nClient-Cert: :ZXZpbA==:\r\nX-Forwarded-For: 6.6.6.6\r\nX_Forwarded_Host: evil\r\n\r\n")
	for _, bad := range []string{"ZXZpbA", "6.6.6.6", "evil", "Trailer:"} {
		if strings.Contains(got, bad) {
			t.Errorf("upstream got %q from the trailer: %q", bad, got)
		}
	}
	if !strings.Contains(got, "4\r\nbody\r\n") {
		t.Errorf("upstream did not get the body: %q", got)
	}
}

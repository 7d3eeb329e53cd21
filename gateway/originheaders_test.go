package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestOriginHeadersFromTrustedProxy (review finding): from a trusted
// proxy the gateway checks the origin that Forwarded and
// X-Forwarded-Proto/-Host name and sets those to it for the upstream, but
// the other headers that name the request's scheme, port or host went on
// as the proxy sent them, a client's copy included: Rack reads
// X-Forwarded-Ssl, then X-Forwarded-Scheme, before X-Forwarded-Proto
// (Rails' own origin check compares Origin with that base_url), Spring
// X-Forwarded-Port, gunicorn X-Forwarded-Protocol, Tornado X-Scheme. Now
// each goes on only when every value agrees with the origin checked.
// Every dropped case has its kept twin; the negative control turns the
// check off and the client's values arrive.
func TestOriginHeadersFromTrustedProxy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	cfg.Routes = append(cfg.Routes, gateway.Route{Name: "legacy", PathPrefix: "/legacy", Upstream: cfg.Routes[0].Upstream, Allow: gateway.Allow{Unauthenticated: true}, AllowUnderscoreHeaders: true})
	gw := w.start(cfg)
	host := strings.TrimPrefix(gw.base, "https://") // the Host the client sends
	xf := func(proto, host string) http.Header {
		return http.Header{"X-Forwarded-Proto": {proto}, "X-Forwarded-Host": {host}}
	}
	https := xf("https", "app.example")
	tests := []struct {
		name, path string
		origin     http.Header // the proxy's forwarding headers
		header     string      // "Name: value" sent besides them
		kept       bool
	}{
		{"X-Forwarded-Ssl off, checked https (gunicorn would disagree)", "", https, "X-Forwarded-Ssl: off", false},
		{"twin: X-Forwarded-Ssl on, checked https", "", https, "X-Forwarded-Ssl: on", true},
		{"X-Forwarded-Ssl on, checked http (Rack and Spring read https)", "", xf("http", "app.example"), "X-Forwarded-Ssl: on", false},
		{"twin: X-Forwarded-Ssl off, checked http", "", xf("http", "app.example"), "X-Forwarded-Ssl: off", true},
		{"X-Forwarded-Scheme http (Rack 2 reads it before X-Forwarded-Proto)", "", https, "X-Forwarded-Scheme: http", false},
		{"twin: X-Forwarded-Scheme https", "", https, "X-Forwarded-Scheme: https", true},
		{"X-Forwarded-Scheme with the client's value last (Rack 3 reads the last)", "", https, "X-Forwarded-Scheme: https, http", false},
		{"X-Forwarded-Protocol http", "", https, "X-Forwarded-Protocol: http", false},
		{"twin: X-Forwarded-Protocol ssl (gunicorn's https)", "", https, "X-Forwarded-Protocol: ssl", true},
		{"X-Url-Scheme http", "", https, "X-Url-Scheme: http", false},
		{"twin: X-Url-Scheme https", "", https, "X-Url-Scheme: https", true},
		{"Front-End-Https off", "", https, "Front-End-Https: off", false},
		{"twin: Front-End-Https on", "", https, "Front-End-Https: on", true},
		{"X-Scheme http (Tornado reads it before X-Forwarded-Proto)", "", https, "X-Scheme: http", false},
		{"twin: X-Scheme https", "", https, "X-Scheme: https", true},
		{"X-Forwarded-Port 8443, checked https://app.example", "", https, "X-Forwarded-Port: 8443", false},
		{"twin: X-Forwarded-Port 443", "", https, "X-Forwarded-Port: 443", true},
		{"X-Forwarded-Port 443, checked https://app.example:8443", "", xf("https", "app.example:8443"), "X-Forwarded-Port: 443", false},
		{"twin: X-Forwarded-Port 8443, checked https://app.example:8443", "", xf("https", "app.example:8443"), "X-Forwarded-Port: 8443", true},
		{"X-Original-Host evil.example", "", https, "X-Original-Host: evil.example", false},
		{"twin: X-Original-Host app.example:443", "", https, "X-Original-Host: app.example:443", true},
		{"X-Host evil.example", "", https, "X-Host: evil.example", false},
		{"twin: X-Host APP.example", "", https, "X-Host: APP.example", true},
		{"Forwarded names http: X-Forwarded-Ssl on", "", http.Header{"Forwarded": {"proto=http;host=app.example"}}, "X-Forwarded-Ssl: on", false},
		{"twin: Forwarded names http: X-Forwarded-Port 80", "", http.Header{"Forwarded": {"proto=http;host=app.example"}}, "X-Forwarded-Port: 80", true},
		{"no forwarding headers, the connection's https and Host: X-Forwarded-Ssl off", "", nil, "X-Forwarded-Ssl: off", false},
		{"twin: no forwarding headers: X-Host names the Host", "", nil, "X-Host: " + host, true},
		{"a route that allows '_': X_Url_Scheme http (CGI, WSGI and Rack read X-Url-Scheme)", "/legacy/x", https, "X_Url_Scheme: http", false},
		{"twin: a route that allows '_': X_Scheme https", "/legacy/x", https, "X_Scheme: https", true},
		{"other forwarding headers pass as sent: X-Forwarded-Prefix", "", https, "X-Forwarded-Prefix: /app", true},
		{"other forwarding headers pass as sent: X-Real-IP", "", https, "X-Real-IP: 192.0.2.1", true},
	}
	c := gw.client(w.web)
	dropped := map[string]int{}
	for _, direct := range []bool{true, false} { // the direct path (direct.go) and ReverseProxy
		gateway.SetDirectProxy(gw.g, direct)
		for _, tt := range tests {
			path := tt.path
			if path == "" {
				path = "/public/x"
			}
			name, value, _ := strings.Cut(tt.header, ": ")
			h := tt.origin.Clone()
			if h == nil {
				h = http.Header{}
			}
			h[name] = []string{value}
			status, body := do(t, c, "GET", gw.base+path, h, "")
			if status != 200 {
				t.Errorf("direct path %v, %s: got %d %s, want 200", direct, tt.name, status, body)
				continue
			}
			got := headerAtUpstream(t, body, name)
			if reached := got != nil; reached != tt.kept {
				t.Errorf("direct path %v, %s: %s reached the upstream: %v, want %v", direct, tt.name, tt.header, reached, tt.kept)
			} else if tt.kept && strings.Join(got, "|") != value {
				t.Errorf("direct path %v, %s: the upstream got %s %q, want %q", direct, tt.name, name, got, value)
			}
			if !tt.kept {
				dropped[strings.TrimPrefix(path[:strings.LastIndexByte(path, '/')], "/")]++
			}
		}
	}
	metrics := metricsText(t, gw)
	for route, n := range dropped {
		if want := fmt.Sprintf(`forgeproof_gateway_request_headers_dropped_total{kind="forwarding",route=%q} %d`+"\n", route, n); !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestOriginHeadersFromTrustedProxyNegativeControl: with the trusted
// proxy's forwarding headers not read, its origin headers go on as sent,
// a client's scheme, port and host included: the attack the check stops.
func TestOriginHeadersFromTrustedProxyNegativeControl(t *testing.T) {
	t.Parallel()
	_, gw, u := rawWorldWith(t, respondOK, func(cfg *gateway.Config) {
		cfg.TrustedProxies = []string{"127.0.0.1/32"}
	})
	gateway.SetForwardedOriginCheck(gw.g, false)
	names := []string{"X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Port", "X-Host"}
	got := forwardOK(t, gw.dialRaw(t, nil), u, "GET /public/x HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: app.example\r\n"+namedHeaders(names)+"\r\n")
	for _, n := range names {
		if !reachedUpstream(got, n) {
			t.Errorf("without the check %s should reach the upstream as sent", n)
		}
	}
}

// TestOriginHeadersSpellings (review finding): a value that
// withoutOtherOrigins found to agree with the origin checked, but that
// an upstream reads as another one, or as none and then falls back to
// its own connection's scheme (http): Go's strings.EqualFold folds
// Unicode ("httpſ" is "https", "\u212aiosk" is "kiosk"), strings.TrimSpace
// trims Unicode blanks (NBSP), upper case passed where gunicorn
// (secure_scheme_headers: value == "on"/"ssl"), Rack (== "on",
// ALLOWED_SCHEMES) and Tornado (X-Scheme in ("http", "https"), else the
// connection's protocol) compare exactly, and a comma list of flags
// passed element by element where gunicorn and Rack compare the whole
// value and CodeIgniter's is_https reads anything but "off" in
// Front-End-Https as https. Each dropped case has its kept twin, on
// HTTP/1.1 and HTTP/2 and on the direct and ReverseProxy paths.
func TestOriginHeadersSpellings(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	gw := w.start(cfg)
	xf := func(proto, host string) http.Header {
		return http.Header{"X-Forwarded-Proto": {proto}, "X-Forwarded-Host": {host}}
	}
	https, http1 := xf("https", "app.example"), xf("http", "app.example")
	kiosk := xf("https", "kiosk.example")
	tests := []struct {
		name   string
		origin http.Header
		header string // "Name: value"
		kept   bool
	}{
		{"X-Scheme httpſ (U+017F folds to s; Tornado: not a scheme, so the connection's http)", https, "X-Scheme: http\u017f", false},
		{"X-Scheme HTTPS (Tornado: not a scheme, so the connection's http)", https, "X-Scheme: HTTPS", false},
		{"twin: X-Scheme https", https, "X-Scheme: https", true},
		{"X-Scheme https NBSP (Go trims it, Tornado does not)", https, "X-Scheme: https\u00a0", false},
		{"X-Forwarded-Scheme HTTPS (Rack 2: not an allowed scheme)", https, "X-Forwarded-Scheme: HTTPS", false},
		{"twin: X-Forwarded-Scheme https", https, "X-Forwarded-Scheme: https", true},
		{"X-Forwarded-Ssl ON (gunicorn and Rack compare with on)", https, "X-Forwarded-Ssl: ON", false},
		{"X-Forwarded-Ssl on, on (gunicorn compares the whole value)", https, "X-Forwarded-Ssl: on, on", false},
		{"twin: X-Forwarded-Ssl on", https, "X-Forwarded-Ssl: on", true},
		{"X-Forwarded-Protocol SSL (gunicorn compares with ssl)", https, "X-Forwarded-Protocol: SSL", false},
		{"X-Forwarded-Protocol ssl,ssl", https, "X-Forwarded-Protocol: ssl,ssl", false},
		{"twin: X-Forwarded-Protocol ssl", https, "X-Forwarded-Protocol: ssl", true},
		{"Front-End-Https off, off, checked http (CodeIgniter: not off, so https)", http1, "Front-End-Https: off, off", false},
		{"twin: Front-End-Https off, checked http", http1, "Front-End-Https: off", true},
		{"twin: Front-End-Https On (Microsoft's spelling; its readers fold case)", https, "Front-End-Https: On", true},
		{"X-Forwarded-Port 443 NBSP", https, "X-Forwarded-Port: 443\u00a0", false},
		{"twin: X-Forwarded-Port 443", https, "X-Forwarded-Port: 443", true},
		{"X-Host \u212aiosk.example (the Kelvin sign folds to k)", kiosk, "X-Host: \u212aiosk.example", false},
		{"twin: X-Host KIOSK.example", kiosk, "X-Host: KIOSK.example", true},
		{"X-Original-Host kiosk.example NBSP", kiosk, "X-Original-Host: kiosk.example\u00a0", false},
		{"twin: X-Original-Host kiosk.example:443", kiosk, "X-Original-Host: kiosk.example:443", true},
		{"CloudFront-Forwarded-Proto http, checked https", https, "CloudFront-Forwarded-Proto: http", false},
		{"twin: CloudFront-Forwarded-Proto https", https, "CloudFront-Forwarded-Proto: https", true},
		{`CF-Visitor {"scheme":"http"}, checked https`, https, `CF-Visitor: {"scheme":"http"}`, false},
		{`CF-Visitor {"scheme":"https","scheme":"http"} (a JSON reader takes the last)`, https, `CF-Visitor: {"scheme":"https","scheme":"http"}`, false},
		{`twin: CF-Visitor {"scheme":"https"}`, https, `CF-Visitor: {"scheme":"https"}`, true},
	}
	// On HTTP/2 the authority must match the SNI name (else 421).
	base := strings.Replace(gw.base, "127.0.0.1", "localhost", 1)
	for _, h2 := range []bool{false, true} {
		c := gw.client(w.web)
		c.Transport.(*http.Transport).ForceAttemptHTTP2 = h2
		// The protocol the cases below claim to cover.
		resp, err := c.Get(base + "/public/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != want {
			t.Fatalf("h2 %v: the gateway answered over %s, want HTTP/%d", h2, resp.Proto, want)
		}
		for _, direct := range []bool{true, false} {
			gateway.SetDirectProxy(gw.g, direct)
			for _, tt := range tests {
				name, value, _ := strings.Cut(tt.header, ": ")
				h := tt.origin.Clone()
				h[name] = []string{value}
				status, body := do(t, c, "GET", base+"/public/x", h, "")
				if status != 200 {
					t.Errorf("h2 %v, direct %v, %s: got %d %s, want 200", h2, direct, tt.name, status, body)
					continue
				}
				got := headerAtUpstream(t, body, name)
				if reached := got != nil; reached != tt.kept {
					t.Errorf("h2 %v, direct %v, %s: %q reached the upstream: %v, want %v", h2, direct, tt.name, tt.header, reached, tt.kept)
				}
			}
		}
	}
}

// TestOriginHeadersWebSocketFromTrustedProxy: a WebSocket handshake from
// a trusted proxy (rewrite's upgrade path, forwardUpgrade) has its
// disagreeing scheme header dropped as any request's; the agreeing twin
// goes on.
func TestOriginHeadersWebSocketFromTrustedProxy(t *testing.T) {
	t.Parallel()
	_, gw, u := rawWorldWith(t, respondOK, func(cfg *gateway.Config) {
		cfg.TrustedProxies = []string{"127.0.0.1/32"}
	})
	got := forwardOK(t, gw.dialRaw(t, nil), u, "GET /public/x HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: https://app.example\r\n"+
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: app.example\r\nX-Forwarded-Ssl: OFF\r\nX-Scheme: http\u017f\r\nX-Forwarded-Port: 443\r\n\r\n")
	if !strings.Contains(strings.ToLower(got), "upgrade: websocket") {
		t.Fatalf("the handshake did not reach the upstream as one:\n%s", got)
	}
	for _, bad := range []string{"X-Forwarded-Ssl", "X-Scheme"} {
		if strings.Contains(got, bad+":") {
			t.Errorf("%s reached the upstream:\n%s", bad, got)
		}
	}
	if !strings.Contains(got, "X-Forwarded-Port: 443\r\n") {
		t.Errorf("twin: X-Forwarded-Port 443 did not reach the upstream:\n%s", got)
	}
}

// headerAtUpstream is the values of header name, in any case, that the
// echoing upstream saw (body: its answer); nil when it saw none.
func headerAtUpstream(t *testing.T, body, name string) []string {
	t.Helper()
	for n, v := range mustJSON(t, body).Header {
		if strings.EqualFold(n, name) {
			return v
		}
	}
	return nil
}

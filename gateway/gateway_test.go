package gateway_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

func TestAuthorizationPerRoute(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	stranger := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/stranger")

	tests := []struct {
		name       string
		cert       *pki.Cert
		path       string
		wantStatus int
		wantReason string
	}{
		{"service client on its route", w.web, "/api/items", 200, ""},
		{"same client on a route it may not call", w.web, "/admin/users", 403, "spiffe-id-denied"},
		{"admin client on the admin route", w.admin, "/admin/users", 200, ""},
		{"unlisted identity", stranger, "/api/items", 403, "spiffe-id-denied"},
		{"no certificate on a route that needs one", nil, "/api/items", 403, "identity-missing"},
		{"no certificate on a public route", nil, "/public/page", 200, ""},
		{"prefix matches whole segments only", w.admin, "/adminx", 404, "no-route"},
		{"dot segments are refused", w.web, "/api/../admin/users", 400, "path-invalid"},
		{"encoded dot segments are refused", w.web, "/api/%2e%2e/admin/users", 400, "path-invalid"},
		// An upstream that does not merge slashes reads "//admin" as no
		// route of the gateway (issue 11): refused before authorization.
		{"a double slash cannot dodge the admin route", w.web, "//admin/users", 400, "path-ambiguous"},
		{"a double slash on an allowed route", w.web, "/api//items", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.upstream.count()
			status, body := do(t, gw.client(tt.cert), "GET", gw.base+tt.path, http.Header{"Accept": {"application/json"}}, "")
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			reached := w.upstream.count() > before
			if reached != (tt.wantStatus == 200) {
				t.Errorf("upstream reached: got %v, want %v", reached, tt.wantStatus == 200)
			}
			if tt.wantReason != "" && !strings.Contains(body, `"reason":"`+tt.wantReason+`"`) {
				t.Errorf("got body %s, want reason %q", body, tt.wantReason)
			}
		})
	}
}

func TestConnectRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	conn, err := tls.Dial("tcp", strings.TrimPrefix(gw.base, "https://"), &tls.Config{RootCAs: w.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{w.web.TLSCertificate()}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tests := []struct {
		name, request string
		wantStatus    int
	}{
		{"CONNECT is refused", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405},
		{"connect in lower case is refused", "connect /api/x HTTP/1.1\r\nHost: localhost\r\n\r\n", 405},
		{"GET on the same connection passes", "GET /api/x HTTP/1.1\r\nHost: localhost\r\n\r\n", 200},
	}
	br := bufio.NewReader(conn)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := io.WriteString(conn, tt.request); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
	if w.upstream.count() != 1 {
		t.Errorf("upstream got %d requests, want 1 (the GET)", w.upstream.count())
	}
}

func TestHandshakeRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	revoked := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/revoked")
	expired := pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: "spiffe://test.example/web", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	cfg := w.config()
	cfg.Listeners[0].TLS.CRLFiles = []string{w.crl("crl.pem", revoked.Cert.SerialNumber)}
	gw := w.start(cfg)
	other := pkitest.CA(t)

	tests := []struct {
		name       string
		cert       *pki.Cert
		wantReason string // "" means the handshake succeeds
	}{
		{"certificate from the trusted CA", w.web, ""},
		{"certificate from another CA", pkitest.SPIFFE(t, other, "spiffe://test.example/web"), "unknown-authority"},
		{"revoked certificate", revoked, "revoked"},
		{"expired certificate", expired, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := gw.client(tt.cert).Get(gw.base + "/api/x")
			if err == nil {
				resp.Body.Close()
			}
			if (err != nil) != (tt.wantReason != "") {
				t.Fatalf("got error %v, want error %v", err, tt.wantReason != "")
			}
			if tt.wantReason == "" {
				return
			}
			_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
			want := fmt.Sprintf(`forgeproof_gateway_tls_handshake_failures_total{listener="127.0.0.1:0",reason=%q} 1`, tt.wantReason)
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		})
	}
}

func TestForgedCrossSiteRequest(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	c := gw.client(w.web)
	own := gw.base

	tests := []struct {
		name       string
		path       string
		header     http.Header
		wantStatus int
		wantReason string
	}{
		{"forged cross-site form POST", "/api/transfer",
			http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://127.0.0.2:8000"}, "Content-Type": {"application/x-www-form-urlencoded"}},
			403, "cross-site"},
		{"its same-origin twin", "/api/transfer",
			http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {own}, "Content-Type": {"application/x-www-form-urlencoded"}},
			200, ""},
		{"same-site sibling refused by default", "/api/transfer",
			http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"https://localhost:1"}},
			403, "same-site"},
		{"old browser with a foreign Origin", "/api/transfer",
			http.Header{"Origin": {"https://evil.example"}},
			403, "origin-mismatch"},
		{"old browser with its own Origin", "/api/transfer",
			http.Header{"Origin": {own}},
			200, ""},
		{"programmatic client without browser headers", "/api/transfer", nil, 200, ""},
		{"negative control: the same forgery passes with CSRF off", "/nocsrf/transfer",
			http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://127.0.0.2:8000"}},
			200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.upstream.count()
			h := http.Header{"Accept": {"application/problem+json"}}
			for k, v := range tt.header {
				h[k] = v
			}
			status, body := do(t, c, "POST", gw.base+tt.path, h, "amount=1000&to=mallory")
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if reached := w.upstream.count() > before; reached != (tt.wantStatus == 200) {
				t.Errorf("upstream reached: got %v, want %v", reached, tt.wantStatus == 200)
			}
			if tt.wantReason != "" && !strings.Contains(body, `"reason":"`+tt.wantReason+`"`) {
				t.Errorf("got body %s, want reason %q", body, tt.wantReason)
			}
		})
	}
}

func TestReportOnlyLetsForgeryThroughAndCountsIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.Routes[0].CSRF.ReportOnly = true
	gw := w.start(cfg)
	h := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	if status, body := do(t, gw.client(w.web), "POST", gw.base+"/api/x", h, ""); status != 200 {
		t.Fatalf("got status %d, want 200 in report-only mode (body %s)", status, body)
	}
	_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
	want := `forgeproof_gateway_csrf_refusals_total{mode="report-only",reason="cross-site",route="api"} 1`
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
}

func TestBrowsersRefusedOnServiceOnlyRoute(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	no := false
	cfg.Routes[0].Browsers = &no
	gw := w.start(cfg)
	c := gw.client(w.web)
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
	}{
		{"browser navigation", http.Header{"Sec-Fetch-Site": {"none"}, "Sec-Fetch-Mode": {"navigate"}}, 403},
		{"programmatic client", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := do(t, c, "GET", gw.base+"/api/x", tt.header, ""); status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
		})
	}
}

// spoofHeaders are identity headers a client might forge, under the
// spellings a backend might read as the real thing.
var spoofHeaders = []string{
	"Client-Cert", "Client-Cert-Chain", "client_cert", "CLIENT_CERT_CHAIN",
	"X-Forwarded-Client-Cert", "X_Forwarded_Client_Cert", "x_forwarded_client_cert",
	"X-Ssl-Client-Cert", "X_SSL_CLIENT_CERT", "X-Client-Cert", "X-Forwarded-Tls-Client-Cert",
	"Forgeproof-Client-Identity", "Forgeproof_Client_Identity", "Forgeproof-Csrf-Token", "forgeproof_csrf_token",
	"FORGEPROOF.CLIENT.IDENTITY", "Forgeproof-Anything-Else",
}

const spoofValue = "spoofed-by-client"

func TestSpoofedIdentityHeadersNeverReachUpstream(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	tests := []struct {
		name string
		cert *pki.Cert
		path string
	}{
		{"client with a certificate", w.web, "/api/x"},
		{"client without a certificate", nil, "/public/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, name := range spoofHeaders {
				h[name] = []string{spoofValue}
			}
			status, body := do(t, gw.client(tt.cert), "GET", gw.base+tt.path, h, "")
			if status != 200 {
				t.Fatalf("got status %d, want 200 (body %s)", status, body)
			}
			seen := mustJSON(t, body)
			for name, values := range seen.Header {
				for _, v := range values {
					if strings.Contains(v, spoofValue) {
						t.Errorf("upstream got %s: %q", name, v)
					}
				}
			}
			got := strings.Join(seen.Header["Client-Cert"], ",")
			if tt.cert == nil {
				if got != "" {
					t.Errorf("got Client-Cert %q, want none", got)
				}
				return
			}
			if want := forwarded.FormatClientCert(tt.cert.Cert); got != want {
				t.Errorf("got Client-Cert %q, want the gateway's %q", got, want)
			}
			if got, want := strings.Join(seen.Header["Forgeproof-Client-Identity"], ","), "spiffe://test.example/web"; got != want {
				t.Errorf("got Forgeproof-Client-Identity %q, want %q", got, want)
			}
		})
	}
}

// TestSpoofNegativeControl shows the spoofing test can fail: a bare
// reverse proxy passes the forged headers through.
func TestSpoofNegativeControl(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	status, body := do(t, http.DefaultClient, "GET", w.upstream.URL+"/x", http.Header{"X_Forwarded_Client_Cert": {spoofValue}}, "")
	if status != 200 || !strings.Contains(body, spoofValue) {
		t.Fatalf("without the gateway the spoofed header should arrive: got %d %s", status, body)
	}
}

func TestForwardingHeaders(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	client := http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Proto": {"http"}, "Forwarded": {"for=203.0.113.9;proto=http;host=evil.example"}}
	tests := []struct {
		name    string
		proxies []string
		want    map[string]string
	}{
		{"from an untrusted peer the headers are replaced", nil, map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "", "Forwarded": "",
		}},
		{"from a trusted proxy they are kept and extended", []string{"127.0.0.0/8"}, map[string]string{
			"X-Forwarded-For": "203.0.113.9, 127.0.0.1", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example", "Forwarded": "for=203.0.113.9;proto=http;host=evil.example",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := w.config()
			cfg.TrustedProxies = tt.proxies
			gw := w.start(cfg)
			status, body := do(t, gw.client(w.web), "GET", gw.base+"/api/x", client, "")
			if status != 200 {
				t.Fatalf("got status %d", status)
			}
			seen := mustJSON(t, body)
			for header, want := range tt.want {
				if want == "" && header == "X-Forwarded-Host" {
					want = strings.TrimPrefix(gw.base, "https://")
				}
				if got := strings.Join(seen.Header[header], ","); got != want {
					t.Errorf("%s: got %q, want %q", header, got, want)
				}
			}
		})
	}
}

// TestForwardingHeadersLastValue: a trusted proxy that appends its
// X-Forwarded-Proto and -Host to the client's (HAProxy's
// "http-request add-header", measured) sent the upstream both, and
// Express and Django read the first, the client's, while the CSRF check
// read the last. Now the upstream gets only the last. Allowed twin: single
// values pass unchanged (TestForwardingHeaders).
func TestForwardingHeadersLastValue(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	gw := w.start(cfg)
	client := http.Header{"X-Forwarded-Proto": {"https, http", "http"}, "X-Forwarded-Host": {"evil.example", "evil2.example, app.example"}}
	status, body := do(t, gw.client(w.web), "GET", gw.base+"/api/x", client, "")
	if status != 200 {
		t.Fatalf("got status %d", status)
	}
	seen := mustJSON(t, body)
	for header, want := range map[string]string{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "app.example"} {
		if got := strings.Join(seen.Header[header], ","); got != want {
			t.Errorf("%s: got %q, want %q", header, got, want)
		}
	}
}

// TestForwardingForwardedLastElement: as TestForwardingHeadersLastValue,
// for Forwarded. A trusted proxy that appends its element to the
// client's (a line of its own, or after a comma) sent the upstream both,
// and Spring's ForwardedHeaderFilter reads the first, the client's
// host=evil.example, while the CSRF check read the last. Now the upstream
// gets only the last element, as sent; a line whose quotes do not pair up
// is not passed on. Allowed twin: a single element passes unchanged.
func TestForwardingForwardedLastElement(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	gw := w.start(cfg)
	const proxy = `for=127.0.0.1;host="app.example";proto=https`
	tests := []struct {
		name string
		sent []string
		want string
	}{
		{"client's line before the proxy's", []string{"for=6.6.6.6;host=evil.example;proto=http", proxy}, proxy},
		{"client's element before the proxy's", []string{"for=6.6.6.6;host=evil.example, " + proxy}, proxy},
		{"a quoted value (without ',', ';', '=', which are refused)", []string{`for="_a";proto=https, ` + proxy}, proxy},
		{"single element (the twin)", []string{proxy}, proxy},
	}
	// A line whose quotes do not pair up is refused, never passed on
	// (an upstream could split it elsewhere).
	if status, body := do(t, gw.client(w.web), "GET", gw.base+"/api/x", http.Header{"Forwarded": {`for=1.2.3.4, for="_a, ` + proxy}}, ""); status != 400 || !strings.Contains(body, "forwarded-invalid") {
		t.Errorf("unterminated quote: got %d %s, want 400 forwarded-invalid", status, body)
	}
	// A quoted value that naive parsers split (Rack 3.0 at ',', Spring's
	// patterns at ';') is refused too.
	if status, body := do(t, gw.client(w.web), "GET", gw.base+"/api/x", http.Header{"Forwarded": {`for="_a, host=evil.example";proto=https, ` + proxy}}, ""); status != 400 || !strings.Contains(body, "forwarded-invalid") {
		t.Errorf("comma in a quoted value: got %d %s, want 400 forwarded-invalid", status, body)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, gw.client(w.web), "GET", gw.base+"/api/x", http.Header{"Forwarded": tt.sent}, "")
			if status != 200 {
				t.Fatalf("got status %d", status)
			}
			if got := strings.Join(mustJSON(t, body).Header["Forwarded"], "|"); got != tt.want {
				t.Errorf("Forwarded: got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCrossSiteWebSocket: a WebSocket handshake is a GET, but a browser
// sends the client certificate on a cross-site one, so it is checked like
// an unsafe request (cross-site WebSocket hijacking).
func TestCrossSiteWebSocket(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	c := gw.client(w.web)
	ws := func(site, origin string) http.Header {
		return http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Fetch-Site": {site}, "Sec-Fetch-Mode": {"websocket"}, "Origin": {origin},
			"Accept": {"application/json"}}
	}
	tests := []struct {
		name       string
		path       string
		header     http.Header
		wantStatus int
		wantReason string
	}{
		{"cross-site handshake", "/api/socket", ws("cross-site", "https://evil.example"), 403, "cross-site"},
		{"same-origin handshake", "/api/socket", ws("same-origin", gw.base), 200, ""},
		{"cross-site plain GET is safe", "/api/socket", http.Header{"Sec-Fetch-Site": {"cross-site"}}, 200, ""},
		{"negative control: CSRF off", "/nocsrf/socket", ws("cross-site", "https://evil.example"), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.upstream.count()
			status, body := do(t, c, "GET", gw.base+tt.path, tt.header, "")
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if reached := w.upstream.count() > before; reached != (tt.wantStatus == 200) {
				t.Errorf("upstream reached: got %v, want %v", reached, tt.wantStatus == 200)
			}
			if tt.wantReason != "" && !strings.Contains(body, `"reason":"`+tt.wantReason+`"`) {
				t.Errorf("got body %s, want reason %q", body, tt.wantReason)
			}
		})
	}
}

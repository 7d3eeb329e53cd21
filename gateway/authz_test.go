package gateway_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// authzConfig is w.config() for "forgeproof authz": the same routes,
// without listeners and upstreams, with client certificates verified
// against the test CA (and crl, when not empty).
func (w *world) authzConfig(crl string) *gateway.Config {
	cfg := w.config()
	cfg.Listeners = nil
	for i := range cfg.Routes {
		cfg.Routes[i].Upstream = ""
	}
	cfg.Authz = &gateway.Authz{
		Address:            "127.0.0.1:0",
		Proxy:              gateway.ProxyNginx,
		TrustedCallers:     []string{"127.0.0.1"},
		ClientCertificates: gateway.ClientCertificates{CAFiles: []string{w.path("ca.pem")}},
	}
	if crl != "" {
		cfg.Authz.ClientCertificates.CRLFiles = []string{crl}
	}
	return cfg
}

func reasonOf(t *testing.T, body string) string {
	t.Helper()
	var p struct{ Reason string }
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return "" // not a problem document: the upstream's answer
	}
	return p.Reason
}

// TestDecideIsServe sends the same requests to a running "forgeproof
// serve" gateway over real mTLS and to Gateway.Decide built from the same
// routes, and wants the same status and reason from both: one decision
// core. Every refused case has an allowed twin.
func TestDecideIsServe(t *testing.T) {
	w := newWorld(t)
	srv := w.start(w.config())
	dec, err := gateway.New(w.authzConfig(""), gateway.Options{})
	if err != nil {
		t.Fatalf("New(authz config): %v", err)
	}
	host := strings.TrimPrefix(srv.base, "https://")
	self := srv.base
	h := func(kv ...string) http.Header {
		out := http.Header{"Accept": {"application/json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	cases := []struct {
		name   string
		cert   *pki.Cert
		method string
		uri    string
		host   string // default: the gateway's address
		header http.Header
		status int
		reason string
	}{
		{"service client", w.web, "POST", "/api/pay", "", h(), 200, ""},
		{"same-origin form", w.web, "POST", "/api/pay", "", h("Sec-Fetch-Site", "same-origin", "Origin", self, "Content-Type", "application/x-www-form-urlencoded"), 200, ""},
		{"cross-site form", w.web, "POST", "/api/pay", "", h("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example", "Content-Type", "application/x-www-form-urlencoded"), 403, "cross-site"},
		{"text/plain JSON forgery", w.web, "POST", "/api/pay", "", h("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example", "Content-Type", "text/plain"), 403, "cross-site"},
		{"Origin null", w.web, "POST", "/api/pay", "", h("Origin", "null"), 403, "origin-null"},
		{"legacy cross-origin (Origin only)", w.web, "POST", "/api/pay", "", h("Origin", "https://evil.example"), 403, "origin-mismatch"},
		{"legacy same-origin (Origin only)", w.web, "POST", "/api/pay", "", h("Origin", self), 200, ""},
		{"legacy cross-origin (Referer only)", w.web, "POST", "/api/pay", "", h("Referer", "https://evil.example/page"), 403, "referer-mismatch"},
		{"legacy same-origin (Referer only)", w.web, "POST", "/api/pay", "", h("Referer", self+"/page"), 200, ""},
		{"http origin to https", w.web, "POST", "/api/pay", "", h("Origin", "http://"+host), 403, "origin-mismatch"},
		{"GET cross-site is safe", w.web, "GET", "/api/pay", "", h("Sec-Fetch-Site", "cross-site"), 200, ""},
		{"identity denied", w.web, "GET", "/admin/x", "", h(), 403, "spiffe-id-denied"},
		{"identity allowed", w.admin, "GET", "/admin/x", "", h(), 200, ""},
		{"no certificate", nil, "GET", "/api/x", "", h(), 403, "identity-missing"},
		{"no certificate, public", nil, "GET", "/public/x", "", h(), 200, ""},
		{"no route", w.web, "GET", "/nowhere", "", h(), 404, "no-route"},
		{"ambiguous path", w.web, "GET", "/public/..;/admin", "", h(), 400, "path-ambiguous"},
		{"invalid Host", w.web, "GET", "/api/x", "127.1", h(), 400, "host-invalid"},
		{"csrf off (negative control)", w.web, "POST", "/nocsrf/x", "", h("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hostHdr := tc.host
			if hostHdr == "" {
				hostHdr = host
			}
			// serve, over mTLS.
			req, err := http.NewRequest(tc.method, srv.base+tc.uri, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tc.header.Clone()
			req.Host = hostHdr
			resp, err := srv.client(tc.cert).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body strings.Builder
			_, _ = io.Copy(&body, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || reasonOf(t, body.String()) != tc.reason {
				t.Fatalf("serve: got %d %q, want %d %q", resp.StatusCode, reasonOf(t, body.String()), tc.status, tc.reason)
			}

			// authz, from the same request's attributes.
			a := &gateway.Attributes{Method: tc.method, URI: tc.uri, Host: hostHdr, Header: tc.header, RemoteAddr: "192.0.2.1:1234"}
			if tc.cert != nil {
				a.Chain = []*x509.Certificate{tc.cert.Cert}
			}
			d := dec.Decide(a)
			if d.Status != tc.status || string(d.Reason) != tc.reason || d.Allowed != (tc.status == 200) {
				t.Fatalf("Decide: got %d %q (allowed %v), want %d %q", d.Status, d.Reason, d.Allowed, tc.status, tc.reason)
			}
			if !d.Allowed {
				rec := httptest.NewRecorder()
				d.WriteProblem(rec, &http.Request{Header: tc.header})
				if rec.Code != tc.status || reasonOf(t, rec.Body.String()) != tc.reason {
					t.Fatalf("WriteProblem: got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.status, tc.reason)
				}
			}
		})
	}
}

// TestDecideIdentityHeaders: an allowed request with a certificate gets
// the identity headers serve would forward, and the client's own copies
// (any spelling) are on the list to remove, for Envoy, which removes them
// (headers_to_remove).
func TestDecideIdentityHeaders(t *testing.T) {
	w := newWorld(t)
	cfg := w.authzConfig("")
	cfg.Authz.Proxy = gateway.ProxyEnvoy
	dec, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Client-Cert": {":Zm9v:"}, "X-Forwarded-Client-Cert": {"Hash=00"}, "Client_cert": {"x"}, "Accept": {"*/*"}}
	d := dec.Decide(&gateway.Attributes{Method: "GET", URI: "/api/x", Host: "localhost", Header: hdr, Chain: []*x509.Certificate{w.web.Cert}})
	if !d.Allowed {
		t.Fatalf("got %d %q, want allowed", d.Status, d.Reason)
	}
	if got := d.Set.Get("Client-Cert"); !strings.HasPrefix(got, ":") || got == ":Zm9v:" {
		t.Errorf("Client-Cert: got %q, want the verified certificate", got)
	}
	if got := d.Set.Get(gateway.HeaderClientIdentity); got != "spiffe://test.example/web" {
		t.Errorf("%s: got %q", gateway.HeaderClientIdentity, got)
	}
	for _, name := range []string{"Client-Cert", "Client-Cert-Chain", "X-Forwarded-Client-Cert", "Client_cert", gateway.HeaderClientIdentity, gateway.HeaderCSRFToken} {
		if !slices.Contains(d.Remove, name) {
			t.Errorf("Remove %v lacks %q", d.Remove, name)
		}
	}
	if slices.Contains(d.Remove, "Accept") {
		t.Errorf("Remove %v has Accept", d.Remove)
	}
	// Allowed twin: no certificate, a public route: nothing set, the
	// client's copies still removed.
	d = dec.Decide(&gateway.Attributes{Method: "GET", URI: "/public/x", Host: "localhost", Header: hdr})
	if !d.Allowed || d.Set.Get("Client-Cert") != "" || !slices.Contains(d.Remove, "Client-Cert") {
		t.Fatalf("public without certificate: allowed %v, set %v, remove %v", d.Allowed, d.Set, d.Remove)
	}
}

// TestDecideUnremovable: nginx, Caddy and Traefik copy the answer's
// headers upstream but cannot delete others per request, so a request
// carrying a header serve would not forward, or an upgrade serve would
// strip, is refused (400 header-unremovable) instead of reaching the
// upstream as sent; each beside its allowed twin. With Envoy, which
// applies Decision.Remove, the same requests pass with the header on
// the list to remove (the negative control: the check is what refuses).
func TestDecideUnremovable(t *testing.T) {
	w := newWorld(t)
	for _, proxy := range []gateway.Proxy{gateway.ProxyNginx, gateway.ProxyCaddy, gateway.ProxyTraefik, gateway.ProxyEnvoy} {
		cfg := w.authzConfig("")
		cfg.Authz.Proxy = proxy
		dec, err := gateway.New(cfg, gateway.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name    string
			method  string
			header  http.Header
			refused bool
			remove  string // the name Envoy is told to remove
		}{
			{"underscore twin of Client-Cert", "GET", http.Header{"Client_cert": {":Zm9v:"}}, true, "Client_cert"},
			{"underscore method override", "GET", http.Header{"X_http_method_override": {"DELETE"}}, true, "X_http_method_override"},
			{"another product's identity header", "GET", http.Header{"Remote-User": {"admin"}}, true, "Remote-User"},
			{"path override", "GET", http.Header{"X-Original-Url": {"/admin"}}, true, "X-Original-Url"},
			{"untrusted forwarding header", "GET", http.Header{"True-Client-Ip": {"10.0.0.1"}}, true, "True-Client-Ip"},
			{"h2c upgrade", "GET", http.Header{"Upgrade": {"h2c"}, "Http2-Settings": {"AAMAAABkAARAAAAAAAIAAAAA"}}, true, ""},
			{"HTTP2-Settings alone", "GET", http.Header{"Http2-Settings": {"AAMAAABkAARAAAAAAAIAAAAA"}}, true, ""},
			{"WebSocket upgrade on POST", "POST", http.Header{"Upgrade": {"websocket"}}, true, ""},
			{"two upgrades", "GET", http.Header{"Upgrade": {"websocket", "h2c"}}, true, ""},
			// Allowed twins.
			{"plain request", "GET", http.Header{"Accept": {"*/*"}}, false, ""},
			{"WebSocket handshake", "GET", http.Header{"Upgrade": {"websocket"}}, false, ""},
			{"forgeproof's own identity header (the proxy replaces it)", "GET", http.Header{"Client-Cert": {":Zm9v:"}}, false, "Client-Cert"},
		} {
			t.Run(proxy.String()+"/"+tc.name, func(t *testing.T) {
				d := dec.Decide(&gateway.Attributes{Method: tc.method, URI: "/api/x", Host: "localhost", Header: tc.header, Chain: []*x509.Certificate{w.web.Cert},
					RemoteAddr: "192.0.2.1:1234"})
				refused := tc.refused && proxy != gateway.ProxyEnvoy
				if refused {
					if d.Allowed || d.Status != 400 || d.Reason != gateway.ReasonHeaderUnremovable || d.Cause == nil {
						t.Fatalf("got %d %q (allowed %v), want 400 %s", d.Status, d.Reason, d.Allowed, gateway.ReasonHeaderUnremovable)
					}
					return
				}
				if tc.refused && tc.method == "POST" {
					// Envoy: a POST is checked for CSRF whatever it upgrades
					// to, but not refused for the header.
					if d.Reason == gateway.ReasonHeaderUnremovable {
						t.Fatalf("got %d %q, want no %s with Envoy", d.Status, d.Reason, gateway.ReasonHeaderUnremovable)
					}
					return
				}
				if !d.Allowed {
					t.Fatalf("got %d %q (%v), want allowed", d.Status, d.Reason, d.Cause)
				}
				if tc.remove != "" && !slices.Contains(d.Remove, tc.remove) {
					t.Fatalf("Remove %v lacks %q", d.Remove, tc.remove)
				}
			})
		}
	}
}

// TestDecideUnremovableTrustedProxy: behind a CDN listed in
// trusted-proxies, its forwarding headers are kept, so nginx may pass
// them on: allowed; the same header from any other client is refused.
func TestDecideUnremovableTrustedProxy(t *testing.T) {
	w := newWorld(t)
	cfg := w.authzConfig("")
	cfg.TrustedProxies = []string{"192.0.2.0/24"}
	dec, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		peer    string
		allowed bool
	}{{"192.0.2.1:1234", true}, {"198.51.100.1:1234", false}} {
		d := dec.Decide(&gateway.Attributes{Method: "GET", URI: "/api/x", Host: "localhost", Header: http.Header{"True-Client-Ip": {"10.0.0.1"}},
			Chain: []*x509.Certificate{w.web.Cert}, RemoteAddr: tc.peer})
		if d.Allowed != tc.allowed || !tc.allowed && d.Reason != gateway.ReasonHeaderUnremovable {
			t.Errorf("from %s: got %d %q, want allowed %v", tc.peer, d.Status, d.Reason, tc.allowed)
		}
	}
}

// TestDecideVerifiesCertificate: unless the proxy verified it, the
// passed certificate is verified against the CAs and CRLs: a revoked one
// and one of another CA are refused, the valid twin passes, and with
// verified-by-proxy (the negative control) the revoked one would pass.
func TestDecideVerifiesCertificate(t *testing.T) {
	w := newWorld(t)
	revoked := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/web")
	crl := w.crl("authz-crl.pem", revoked.Cert.SerialNumber)
	dec, err := gateway.New(w.authzConfig(crl), gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other := pkitest.SPIFFE(t, pkitest.CA(t), "spiffe://test.example/web")
	for _, tc := range []struct {
		name   string
		cert   *pki.Cert
		reason string
	}{
		{"valid", w.web, ""},
		{"revoked", revoked, "revoked"},
		{"unknown CA", other, "unknown-authority"},
	} {
		d := dec.Decide(&gateway.Attributes{Method: "GET", URI: "/api/x", Host: "localhost", Chain: []*x509.Certificate{tc.cert.Cert}})
		if string(d.Reason) != tc.reason || d.Allowed != (tc.reason == "") {
			t.Errorf("%s: got %d %q, want %q", tc.name, d.Status, d.Reason, tc.reason)
		}
	}
	cfg := w.authzConfig("")
	cfg.Authz.ClientCertificates = gateway.ClientCertificates{VerifiedByProxy: true}
	trusting, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := trusting.Decide(&gateway.Attributes{Method: "GET", URI: "/api/x", Host: "localhost", Chain: []*x509.Certificate{revoked.Cert}}); !d.Allowed {
		t.Fatalf("verified-by-proxy: got %d %q, want allowed (the proxy checks revocation)", d.Status, d.Reason)
	}
}

// TestDecideMalformedAttributes: what a proxy (or a fuzzer) sends that
// describes no request is refused with authz-request-invalid.
func TestDecideMalformedAttributes(t *testing.T) {
	w := newWorld(t)
	dec, err := gateway.New(w.authzConfig(""), gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []gateway.Attributes{
		{Method: "", URI: "/public", Host: "localhost"},
		{Method: "GE T", URI: "/public", Host: "localhost"},
		{Method: "GET", URI: "", Host: "localhost"},
		{Method: "GET", URI: "http://evil/public", Host: "localhost"},
		{Method: "GET", URI: "/public", Host: "localhost", Scheme: "gopher"},
	} {
		if d := dec.Decide(&a); d.Allowed || d.Reason != gateway.ReasonAuthzRequestInvalid {
			t.Errorf("%+v: got %d %q, want %q", a, d.Status, d.Reason, gateway.ReasonAuthzRequestInvalid)
		}
	}
	if d := dec.Decide(&gateway.Attributes{Method: "GET", URI: "/public/x?y=" + url.QueryEscape("a b"), Host: "localhost"}); !d.Allowed {
		t.Errorf("allowed twin: got %d %q", d.Status, d.Reason)
	}
}

// TestAuthzConfigErrors: what a decision service cannot enforce is a
// configuration error that names the key, each with a valid twin.
func TestAuthzConfigErrors(t *testing.T) {
	w := newWorld(t)
	ca := w.path("ca.pem")
	base := "admin: {address: off}\nroutes: [{allow: {any-verified: true}, csrf: {mode: %s}}]\nauthz: {address: \"127.0.0.1:0\", proxy: %s, trusted-callers: %s, header-tokens: %s, client-certificates: {ca-files: [" + ca + "]}}\n"
	key := w.write("authz-keys", []byte(base64Key()+"\n"))
	chmod(t, key, 0o600)
	withTokens := "tokens: {key-file: " + key + "}\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"valid", fmt.Sprintf(base, "origin-only", "nginx", "[127.0.0.1]", "false"), ""},
		{"form tokens", withTokens + fmt.Sprintf(base, "origin-and-token", "nginx", "[127.0.0.1]", "false"), `routes[0].csrf.mode: "origin-and-token" reads the token from the csrf_token form field`},
		{"header tokens", withTokens + fmt.Sprintf(base, "origin-and-token", "nginx", "[127.0.0.1]", "true"), ""},
		{"no callers", fmt.Sprintf(base, "origin-only", "nginx", "[]", "false"), "authz.trusted-callers: is required unless authz.tls is set"},
		{"unknown proxy", fmt.Sprintf(base, "origin-only", "apache", "[127.0.0.1]", "false"), `authz.proxy: unknown proxy "apache"`},
		{"listeners", "listeners: [{address: \":8443\"}]\n" + fmt.Sprintf(base, "origin-only", "nginx", "[127.0.0.1]", "false"), "listeners: are not used by forgeproof authz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := gateway.ParseConfig("a.yaml", []byte(tc.yaml))
			if err == nil {
				err = cfg.Validate()
			}
			if tc.want == "" && err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func base64Key() string { return base64.StdEncoding.EncodeToString(csrf.GenerateKey()) }

// The decision core for a proxy that terminates TLS itself: the same
// routes as serve, no listeners, and the proxy's description of each
// request.
func ExampleGateway_Decide() {
	ca, _ := pki.NewCA(pki.CAOptions{})
	client, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/web"})
	g, err := gateway.New(&gateway.Config{
		Routes: []gateway.Route{{Name: "app", Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://example.org/web"}}}},
		Authz: &gateway.Authz{
			Address:            "127.0.0.1:0",
			Proxy:              gateway.ProxyNginx,
			TrustedCallers:     []string{"127.0.0.1"},
			ClientCertificates: gateway.ClientCertificates{VerifiedByProxy: true}, // nginx: ssl_verify_client on
		},
		Admin: gateway.Admin{Address: "off"},
	}, gateway.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, site := range []string{"same-origin", "cross-site"} {
		d := g.Decide(&gateway.Attributes{
			Method: "POST", URI: "/transfer", Host: "bank.example", Scheme: "https",
			Header: http.Header{"Sec-Fetch-Site": {site}, "Origin": {"https://bank.example"}},
			Chain:  []*x509.Certificate{client.Cert},
		})
		fmt.Println(site, d.Status, d.Reason, d.Set.Get(gateway.HeaderClientIdentity))
	}
	// Output:
	// same-origin 200  spiffe://example.org/web
	// cross-site 403 cross-site
}

// TestDecideAfterReload: a reload that revokes a certificate applies to
// the next decision; the reload before it kept the certificate allowed.
func TestDecideAfterReload(t *testing.T) {
	w := newWorld(t)
	crl := w.crl("reload-crl.pem")
	dec, err := gateway.New(w.authzConfig(crl), gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := &gateway.Attributes{Method: "GET", URI: "/api/x", Host: "localhost", Chain: []*x509.Certificate{w.web.Cert}}
	if d := dec.Decide(a); !d.Allowed {
		t.Fatalf("before: got %d %q, want allowed", d.Status, d.Reason)
	}
	w.crl("reload-crl.pem", w.web.Cert.SerialNumber)
	if err := dec.Reload(w.authzConfig(crl)); err != nil {
		t.Fatal(err)
	}
	if d := dec.Decide(a); d.Allowed || d.Reason != "revoked" {
		t.Fatalf("after: got %d %q, want revoked", d.Status, d.Reason)
	}
	// A reload that moves the decision service is refused: it needs a
	// restart (new socket).
	moved := w.authzConfig(crl)
	moved.Authz.Address = "127.0.0.1:1"
	if err := dec.Reload(moved); err == nil || !strings.Contains(err.Error(), "authz.address") {
		t.Fatalf("moved address: got %v, want an authz.address error", err)
	}
}

// TestDecideHeaderTokens: with authz.header-tokens a token route works
// where the token travels in a header: an allowed request hands the
// upstream a token bound to the client certificate; an unsafe request
// with it passes, without it is token-missing, and with it under another
// certificate is token-invalid.
func TestDecideHeaderTokens(t *testing.T) {
	w := newWorld(t)
	key := w.write("authz-token-keys", []byte(base64Key()+"\n"))
	chmod(t, key, 0o600)
	cfg := w.authzConfig("")
	cfg.Tokens.KeyFile = key
	cfg.Authz.HeaderTokens = true
	for i := range cfg.Routes {
		if cfg.Routes[i].Name == "api" {
			cfg.Routes[i].CSRF.Mode = csrf.ModeOriginAndToken
		}
	}
	dec, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ask := func(method string, cert *pki.Cert, h http.Header) *gateway.Decision {
		return dec.Decide(&gateway.Attributes{Method: method, URI: "/api/x", Host: "localhost", Header: h, Chain: []*x509.Certificate{cert.Cert}})
	}
	page := ask("GET", w.web, nil)
	tok := page.Set.Get(gateway.HeaderCSRFToken)
	if !page.Allowed || tok == "" {
		t.Fatalf("GET: allowed %v, token %q; want a token for the upstream", page.Allowed, tok)
	}
	if d := ask("POST", w.web, http.Header{"X-Csrf-Token": {tok}}); !d.Allowed {
		t.Fatalf("POST with the token: got %d %q", d.Status, d.Reason)
	}
	if d := ask("POST", w.web, nil); d.Reason != "token-missing" {
		t.Fatalf("POST without a token: got %d %q, want token-missing", d.Status, d.Reason)
	} else {
		// The refusal the proxy relays says what the page lacks, as serve's
		// does, and does not call the request cross-site (issue 12).
		rec := httptest.NewRecorder()
		d.WriteProblem(rec, httptest.NewRequest("POST", "/api/x", nil))
		if body := rec.Body.String(); rec.Code != 403 || !strings.Contains(body, "did not include") ||
			!strings.Contains(body, gateway.HeaderCSRFToken) || strings.Contains(body, "cross-site") {
			t.Errorf("token-missing refusal: %d %s", rec.Code, body)
		}
	}
	if d := ask("POST", w.admin, http.Header{"X-Csrf-Token": {tok}}); d.Reason != "token-invalid" {
		t.Fatalf("POST with another certificate's token: got %d %q, want token-invalid", d.Status, d.Reason)
	}
}

// TestCallerAllowed: a question comes from a trusted proxy, by address
// (authz.trusted-callers) and by certificate (authz.tls), or gets the one
// refusal both transports answer with: 403 caller-untrusted with the
// same problem document for every caller, and the reason for the log
// only in Cause. Each refused caller has its allowed twin; a gateway
// without an authz section refuses every question (500).
func TestCallerAllowed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	proxyCA := pkitest.CA(t)
	w.write("proxy-ca.pem", pki.EncodeCertsPEM(proxyCA.Cert))
	nginx := pkitest.SPIFFE(t, proxyCA, "spiffe://mesh.test/nginx")
	other := pkitest.SPIFFE(t, proxyCA, "spiffe://mesh.test/someone-else")
	cfg := w.authzConfig("")
	cfg.Authz.TLS = &gateway.AuthzTLS{CertFile: w.path("server.pem"), KeyFile: w.path("server-key.pem"),
		ClientCAFiles: []string{w.path("proxy-ca.pem")}, Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://mesh.test/nginx"}}}
	g, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	state := func(c *pki.Cert) *tls.ConnectionState {
		if c == nil {
			return &tls.ConnectionState{}
		}
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c.Cert}}
	}
	tests := []struct {
		name   string
		remote string
		cert   *pki.Cert
		cause  string // "" when allowed
	}{
		{"the proxy, from its address", "127.0.0.1:40000", nginx, ""},
		{"the proxy's certificate, from another address", "127.0.0.2:40000", nginx, `peer "127.0.0.2:40000" is not in authz.trusted-callers`},
		{"no certificate, from the proxy's address", "127.0.0.1:40000", nil, "no client certificate (authz.tls)"},
		{"a certificate authz.tls.allow does not name", "127.0.0.1:40000", other, "spiffe-id-denied"},
	}
	var bodies []string
	for _, tt := range tests {
		d := g.CallerAllowed(tt.remote, state(tt.cert))
		if tt.cause == "" {
			if d != nil {
				t.Errorf("%s: got %d %s (%v), want allowed", tt.name, d.Status, d.Reason, d.Cause)
			}
			continue
		}
		if d == nil {
			t.Errorf("%s: allowed, want refused", tt.name)
			continue
		}
		if d.Allowed || d.Status != 403 || d.Reason != gateway.ReasonCallerUntrusted || d.Cause == nil || !strings.Contains(d.Cause.Error(), tt.cause) {
			t.Errorf("%s: got allowed=%v %d %s, cause %v; want 403 caller-untrusted, cause %q", tt.name, d.Allowed, d.Status, d.Reason, d.Cause, tt.cause)
		}
		rec := httptest.NewRecorder()
		d.WriteProblem(rec, &http.Request{Header: http.Header{"Accept": {"application/json"}}})
		bodies = append(bodies, rec.Body.String())
	}
	// One text for every caller: the cause goes to the log, not to it.
	for _, b := range bodies {
		if b != bodies[0] || reasonOf(t, b) != "caller-untrusted" || strings.Contains(b, "127.0.0.2") {
			t.Errorf("refusal body: got %q, want %q, the same for every caller", b, bodies[0])
		}
	}

	serve, err := gateway.New(w.config(), gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := serve.CallerAllowed("127.0.0.1:40000", nil); d == nil || d.Status != 500 || d.Reason != gateway.ReasonAuthzNotConfigured {
		t.Errorf("without an authz section: got %+v, want 500 authz-not-configured", d)
	}
}

// TestDecideForwardedFromTrustedProxy: Decide reads a trusted proxy's
// forwarding headers as serve does (TestForwardedFromTrustedProxy), on
// a GET too: a Forwarded that names another origin than
// X-Forwarded-Proto/-Host, or does not parse, is refused with serve's
// status and reason, beside its agreeing twin; with the reading turned
// off (the negative control) the conflicting GET would pass.
func TestDecideForwardedFromTrustedProxy(t *testing.T) {
	w := newWorld(t)
	cfg := w.authzConfig("")
	cfg.TrustedProxies = []string{"192.0.2.0/24"}
	dec, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	decide := func(forwarded string) *gateway.Decision {
		return dec.Decide(&gateway.Attributes{Method: "GET", URI: "/api/x", Host: "localhost", RemoteAddr: "192.0.2.1:1234",
			Header: http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"localhost"}, "Forwarded": {forwarded}},
			Chain:  []*x509.Certificate{w.web.Cert}})
	}
	for _, tc := range []struct {
		forwarded string
		reason    gateway.Reason // "" allowed
	}{
		{"for=192.0.2.9;proto=https;host=localhost", ""},
		{"host=evil.example", gateway.ReasonForwardedConflict},
		{`for="_x, for=192.0.2.9;host=localhost`, gateway.ReasonForwardedInvalid},
	} {
		d := decide(tc.forwarded)
		if d.Allowed != (tc.reason == "") || d.Reason != tc.reason || !d.Allowed && d.Status != http.StatusBadRequest {
			t.Errorf("Forwarded %q: got %d %q (allowed %v), want %q", tc.forwarded, d.Status, d.Reason, d.Allowed, tc.reason)
		}
	}
	gateway.SetForwardedOriginCheck(dec, false)
	if d := decide("host=evil.example"); !d.Allowed {
		t.Errorf("with the reading off: got %d %q, want allowed", d.Status, d.Reason)
	}
}

// TestDecideForwardedHostSelectsAnotherRoute: Decide refuses, as serve
// does (TestForwardedHostSelectsAnotherRoute), a trusted proxy's
// forwarded host that selects another route than the Host. Behind a
// balancer in trusted-proxies (envoy.md), Envoy's upstream gets the
// X-Forwarded-Host forgeproof read (setForwarding), and Rack, Django,
// Express and Spring read the request's host from it: a balancer that
// passes the client's X-Forwarded-Host on let a request authorized on
// the Host's public route be served as admin.example's. Twins: a
// forwarded host of the same route, and the admin host's own request.
func TestDecideForwardedHostSelectsAnotherRoute(t *testing.T) {
	w := newWorld(t)
	cfg := w.authzConfig("")
	cfg.Authz.Proxy = gateway.ProxyEnvoy
	cfg.TrustedProxies = []string{"192.0.2.0/24"}
	cfg.Routes = append([]gateway.Route{{Name: "admin-host", Host: "admin.example",
		Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://test.example/admin"}}}}, cfg.Routes...)
	dec, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, host string
		header     http.Header
		cert       *pki.Cert
		refuse     bool
	}{
		{"X-Forwarded-Host names the admin host", "localhost", http.Header{"X-Forwarded-Host": {"admin.example"}}, w.web, true},
		{"the balancer's value last", "localhost", http.Header{"X-Forwarded-Host": {"localhost, ADMIN.example.:443"}}, w.web, true},
		{"Forwarded host= names the admin host", "localhost", http.Header{"Forwarded": {"for=192.0.2.9;host=admin.example"}}, w.web, true},
		{"twin: the Host itself", "localhost", http.Header{"X-Forwarded-Host": {"localhost"}}, w.web, false},
		{"twin: a host of the same route", "localhost", http.Header{"X-Forwarded-Host": {"app.example"}}, w.web, false},
		{"twin: the admin host's own request", "admin.example", http.Header{"X-Forwarded-Host": {"admin.example"}}, w.admin, false},
	} {
		tc.header.Set("X-Forwarded-Proto", "https")
		d := dec.Decide(&gateway.Attributes{Method: "GET", URI: "/public/x", Host: tc.host, RemoteAddr: "192.0.2.1:1234",
			Header: tc.header, Chain: []*x509.Certificate{tc.cert.Cert}})
		if tc.refuse {
			if d.Allowed || d.Status != http.StatusBadRequest || d.Reason != gateway.ReasonForwardedConflict {
				t.Errorf("%s: got %d %q (allowed %v, upstream X-Forwarded-Host %q), want 400 %s", tc.name, d.Status, d.Reason, d.Allowed, d.Set.Values("X-Forwarded-Host"), gateway.ReasonForwardedConflict)
			}
			continue
		}
		if !d.Allowed {
			t.Errorf("%s: got %d %q, want allowed", tc.name, d.Status, d.Reason)
		}
	}
}

package envoy_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
)

// TestCheckUnseenIdentityHeaders: Envoy sends the authorization service
// only the headers its allowed_headers matches (and none that
// disallowed_headers matches); Envoy Gateway's headersToExtAuth and the
// Gateway API's allowedHeaders set it. A client-sent Client-Cert or
// Forgeproof-Client-Identity that the question did not show still
// reaches the upstream unless the answer removes it: the identity
// headers forgeproof owns are removed whether or not the question
// showed them. Twin: the same request with the headers shown.
func TestCheckUnseenIdentityHeaders(t *testing.T) {
	w := newWorld(t, func(cfg *gateway.Config) {
		cfg.Routes = append(cfg.Routes, gateway.Route{Name: "public", Host: "bank.example", PathPrefix: "/public",
			Allow: gateway.Allow{Unauthenticated: true}})
	})
	c := w.client(t, "127.0.0.1", w.envoy, false)
	forged := map[string]string{
		"client-cert":                ":Zm9yZ2Vk:",
		"client-cert-chain":          ":Zm9yZ2Vk:",
		"forgeproof-client-identity": "admin",
		"forgeproof-csrf-token":      "forged",
		"x-forwarded-client-cert":    `Subject="CN=admin"`, // with forward_client_cert_details other than SANITIZE
	}
	for _, shown := range []bool{true, false} {
		for _, cert := range []bool{false, true} {
			name := map[bool]string{true: "shown", false: "not shown (allowed_headers)"}[shown] +
				map[bool]string{true: ", with a certificate", false: ", without a certificate"}[cert]
			t.Run(name, func(t *testing.T) {
				cr := envoyCheck("GET", "/public/rates", "bank.example", nil)
				if cert {
					cr = envoyCheck("GET", "/transfer", "bank.example", w.alice)
				}
				if shown {
					for k, v := range forged {
						cr.Attributes.Request.Http.Headers[k] = v
					}
				}
				a := read(t, mustCheck(t, c, cr))
				if !a.allowed {
					t.Fatalf("got %d %s, want allowed", a.status, a.reason)
				}
				// What the client sent, whatever the question showed.
				sent := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
					Http: &authv3.AttributeContext_HttpRequest{Headers: map[string]string{}}}}}
				for k, v := range cr.Attributes.Request.Http.Headers {
					sent.Attributes.Request.Http.Headers[k] = v
				}
				for k, v := range forged {
					sent.Attributes.Request.Http.Headers[k] = v
				}
				up := upstream(sent, a.ok)
				for k, v := range forged {
					if got, ok := up[k]; ok && got == v {
						t.Errorf("client-sent %s: %q reaches the upstream", k, v)
					}
				}
			})
		}
	}
}

// TestCheckJoinedHeaders: Envoy joins a header sent on several lines
// with ","; the joined value must not pass as one value. Each has its
// one-line twin first.
func TestCheckJoinedHeaders(t *testing.T) {
	w := newWorld(t, nil)
	c := w.client(t, "127.0.0.1", w.envoy, false)
	const self, evil = "https://bank.example", "https://evil.example"
	tests := []struct {
		name   string
		kv     []string
		reason string // "" allowed
	}{
		{"one Sec-Fetch-Site", []string{"sec-fetch-site", "same-origin"}, ""},
		{"Sec-Fetch-Site joined", []string{"sec-fetch-site", "same-origin", "sec-fetch-site", "cross-site"}, "header-repeated"},
		{"Sec-Fetch-Site joined, with a space", []string{"sec-fetch-site", "same-origin, cross-site"}, "header-repeated"},
		{"one Origin", []string{"origin", self}, ""},
		{"Origin joined, own first", []string{"origin", self + "," + evil}, "header-repeated"},
		{"one Referer", []string{"referer", self + "/a"}, ""},
		{"Referer joined", []string{"referer", self + "/a," + evil + "/b"}, "header-repeated"},
	}
	for _, tt := range tests {
		for _, rawHeaders := range []bool{false, true} {
			name := tt.name
			if rawHeaders {
				name += " (header_map)"
			}
			t.Run(name, func(t *testing.T) {
				cr := envoyCheck("POST", "/transfer", "bank.example", w.alice, append(tt.kv, "accept", "application/json")...)
				if rawHeaders {
					cr = raw(cr)
				}
				a := read(t, mustCheck(t, c, cr))
				switch {
				case tt.reason == "" && !a.allowed:
					t.Errorf("got %d %s, want allowed", a.status, a.reason)
				case tt.reason != "" && (a.allowed || a.reason != tt.reason):
					t.Errorf("got allowed=%v %s, want %s", a.allowed, a.reason, tt.reason)
				}
			})
		}
	}
}

// TestCheckBodyToken: with with_request_body, Envoy sends (part of) the
// body; forgeproof decides on headers, so a token in a form body, whole
// or cut at max_request_bytes (allow_partial_message), never passes. Twin:
// the same token in X-CSRF-Token.
func TestCheckBodyToken(t *testing.T) {
	w := newWorld(t, func(cfg *gateway.Config) {
		key := filepath.Join(t.TempDir(), "token-keys")
		if err := os.WriteFile(key, []byte(base64.StdEncoding.EncodeToString(csrf.GenerateKey())+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Tokens.KeyFile = key
		cfg.Authz.HeaderTokens = true
		cfg.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
	})
	c := w.client(t, "127.0.0.1", w.envoy, false)
	page := read(t, mustCheck(t, c, envoyCheck("GET", "/form", "bank.example", w.alice)))
	var tok string
	for _, h := range page.ok.GetHeaders() {
		if h.GetHeader().GetKey() == "forgeproof-csrf-token" {
			tok = h.GetHeader().GetValue()
		}
	}
	if tok == "" {
		t.Fatalf("GET: no token for the upstream: %v", page.ok)
	}
	post := func(kv ...string) *authv3.CheckRequest {
		return envoyCheck("POST", "/transfer", "bank.example", w.alice,
			append([]string{"sec-fetch-site", "same-origin", "origin", "https://bank.example", "accept", "application/json"}, kv...)...)
	}
	if a := read(t, mustCheck(t, c, post("x-csrf-token", tok))); !a.allowed {
		t.Fatalf("token in X-CSRF-Token: got %d %s, want allowed", a.status, a.reason)
	}
	for _, tt := range []struct {
		name, body string
		partial    bool
	}{
		{"whole body", "csrf_token=" + tok, false},
		{"body cut by max_request_bytes", "amount=1&csrf_token=" + tok[:len(tok)/2], true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cr := post("content-type", "application/x-www-form-urlencoded")
			cr.Attributes.Request.Http.Body = tt.body
			cr.Attributes.Request.Http.Size = int64(len(tt.body))
			if tt.partial {
				cr.Attributes.Request.Http.Headers["x-envoy-auth-partial-body"] = "true"
				cr.Attributes.Request.Http.Size = int64(len(tt.body) * 2)
			}
			if a := read(t, mustCheck(t, c, cr)); a.allowed || a.reason != "token-missing" {
				t.Errorf("got allowed=%v %s, want token-missing", a.allowed, a.reason)
			}
			cr = raw(cr)
			cr.Attributes.Request.Http.Body = ""
			cr.Attributes.Request.Http.RawBody = []byte(tt.body)
			if a := read(t, mustCheck(t, c, cr)); a.allowed || a.reason != "token-missing" {
				t.Errorf("raw_body: got allowed=%v %s, want token-missing", a.allowed, a.reason)
			}
		})
	}
}

// TestCheckPathReadings: Envoy passes :path as the client sent it unless
// normalize_path, merge_slashes and path_with_escaped_slashes_action say
// otherwise; forgeproof refuses every form an upstream could read as the
// protected route's while forgeproof reads the public one. Twin: the
// plain public path passes.
func TestCheckPathReadings(t *testing.T) {
	w := newWorld(t, func(cfg *gateway.Config) {
		cfg.Routes[0].PathPrefix = "/admin"
		cfg.Routes = append(cfg.Routes, gateway.Route{Name: "public", Host: "bank.example", PathPrefix: "/",
			Allow: gateway.Allow{Unauthenticated: true}})
	})
	c := w.client(t, "127.0.0.1", w.envoy, false)
	if a := read(t, mustCheck(t, c, envoyCheck("GET", "/public/x?y=1", "bank.example", nil))); !a.allowed {
		t.Fatalf("plain public path: got %d %s, want allowed", a.status, a.reason)
	}
	if a := read(t, mustCheck(t, c, envoyCheck("GET", "/admin/x", "bank.example", nil))); a.allowed {
		t.Fatal("plain admin path without a certificate: allowed")
	}
	for _, p := range []string{
		"//admin/x", "/./admin/x", "/x/../admin/x", "/%2e%2e/admin/x", "/x/%2e%2e/admin/x", "/x/%2E%2E/admin",
		"/%61dmin/x", "/%2561dmin/x", "/ADMIN/x", "/admin;x/y", "/x;/../admin", "/x/..;/admin/x",
		"/x%2F..%2Fadmin/x", "/x%2f..%2fadmin", "/x\\..\\admin", "/x%5c..%5cadmin", "/admin%00/x", "/admin./x",
		"/admin%20/x", "/x/%2e%2e%2fadmin", "//x/admin", "/%2Fadmin", "/admin%3Fx", "/x#/../admin", "/admin%23",
		"/x/.%2e/admin",
	} {
		t.Run(p, func(t *testing.T) {
			a := read(t, mustCheck(t, c, envoyCheck("GET", p, "bank.example", nil)))
			if a.allowed {
				t.Errorf("%q without a certificate: allowed", p)
			}
		})
	}
}

// TestCheckSpaceInTarget: Envoy's HTTP/2 codecs take a :path with a
// space (envoyproxy/envoy#26837: legacy codecs allow space and TAB in
// HTTP/2 paths; normalize_path escapes them in the path, not the query)
// and its HTTP/1.1 upstream gets the target as sent, where a space ends
// it: "GET /public?x /admin HTTP/1.1". serve refuses a space in an
// HTTP/2 query (path-invalid); so does the decision Envoy asks for. Twin:
// the same target with the space escaped.
func TestCheckSpaceInTarget(t *testing.T) {
	w := newWorld(t, func(cfg *gateway.Config) {
		cfg.Routes[0].PathPrefix = "/admin"
		cfg.Routes = append(cfg.Routes, gateway.Route{Name: "public", Host: "bank.example", PathPrefix: "/",
			Allow: gateway.Allow{Unauthenticated: true}})
	})
	c := w.client(t, "127.0.0.1", w.envoy, false)
	for _, tt := range []struct {
		path   string
		reason string // "" allowed
	}{
		{"/public?x%20/admin%20HTTP/1.1", ""},
		{"/public?x /admin HTTP/1.1", "path-invalid"},
		{"/public%20/admin", ""},
		{"/public /admin", "path-invalid"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			cr := envoyCheck("GET", tt.path, "bank.example", nil, "accept", "application/json")
			cr.Attributes.Request.Http.Protocol = "HTTP/2"
			a := read(t, mustCheck(t, c, cr))
			switch {
			case tt.reason == "" && !a.allowed:
				t.Errorf("got %d %s, want allowed", a.status, a.reason)
			case tt.reason != "" && (a.allowed || a.status != 400 || a.reason != tt.reason):
				t.Errorf("got allowed=%v %d %s, want 400 %s", a.allowed, a.status, a.reason, tt.reason)
			}
		})
	}
}

// TestCheckTrustedProxyForwarding: behind a load balancer listed in
// trusted-proxies (attributes.source.address is Envoy's TCP peer), its
// forwarding headers are kept; serve refuses a Forwarded that names
// another origin than X-Forwarded-Proto/-Host (forwarded-conflict) or
// does not parse (forwarded-invalid) on every method, and forwards only
// the last element or value, the one the balancer added (a client's
// earlier one comes first, and Express, Django and Spring read the
// first). Envoy forwards those headers as sent, joined, unless the
// answer sets them. Each refusal has its allowed twin; the negative
// control is the answer without its forwarding headers, under which
// the client's element reaches the upstream first.
func TestCheckTrustedProxyForwarding(t *testing.T) {
	w := newWorld(t, func(cfg *gateway.Config) {
		cfg.TrustedProxies = []string{"198.51.100.0/24"} // envoyCheck's source address
	})
	c := w.client(t, "127.0.0.1", w.envoy, false)
	get := func(kv ...string) *authv3.CheckRequest {
		// Envoy sets x-forwarded-proto itself (envoy.yaml: use_remote_address: true, xff_num_trusted_hops: 0).
		return envoyCheck("GET", "/balance", "bank.example", w.alice,
			append([]string{"x-forwarded-proto", "https", "accept", "application/json"}, kv...)...)
	}
	const lastElement = "for=192.0.2.1;host=bank.example;proto=https"
	tests := []struct {
		name   string
		cr     *authv3.CheckRequest
		reason string            // "" allowed
		want   map[string]string // upstream headers when allowed; "" absent
	}{
		{"no Forwarded", get("x-forwarded-host", "bank.example"), "",
			map[string]string{"forwarded": "", "x-forwarded-host": "bank.example", "x-forwarded-proto": "https"}},
		{"a client's host passed on: GET", get("x-forwarded-host", "bank.example", "forwarded", "host=evil.example"), "forwarded-conflict", nil},
		{"twin: the balancer's own Forwarded", get("x-forwarded-host", "bank.example", "forwarded", lastElement), "",
			map[string]string{"forwarded": lastElement, "x-forwarded-host": "bank.example"}},
		{"a client's host beside X-Forwarded-Proto alone", get("forwarded", "host=evil.example"), "forwarded-conflict", nil},
		{"unterminated quote", get("forwarded", `for="_x, `+lastElement), "forwarded-invalid", nil},
		{"twin: terminated", get("forwarded", `for="_x", `+lastElement), "",
			map[string]string{"forwarded": lastElement}},
		{"a client's element first: only the last goes on", get("forwarded", "host=evil.example;proto=http, "+lastElement), "",
			map[string]string{"forwarded": lastElement, "x-forwarded-host": "bank.example", "x-forwarded-proto": "https"}},
		{"a client's X-Forwarded-Host first (two lines, joined by Envoy)", get("x-forwarded-host", "evil.example", "x-forwarded-host", "bank.example"), "",
			map[string]string{"x-forwarded-host": "bank.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := read(t, mustCheck(t, c, tt.cr))
			if tt.reason != "" {
				if a.allowed || a.status != 400 || a.reason != tt.reason {
					t.Fatalf("got allowed=%v %d %s, want 400 %s", a.allowed, a.status, a.reason, tt.reason)
				}
				return
			}
			if !a.allowed {
				t.Fatalf("got %d %s, want allowed", a.status, a.reason)
			}
			up := upstream(tt.cr, a.ok)
			for k, want := range tt.want {
				if got := up[k]; got != want {
					t.Errorf("upstream %s: got %q, want %q", k, got, want)
				}
			}
		})
	}
	t.Run("negative control: the answer without its forwarding headers", func(t *testing.T) {
		cr := get("forwarded", "host=evil.example;proto=http, "+lastElement)
		a := read(t, mustCheck(t, c, cr))
		if !a.allowed {
			t.Fatalf("got %d %s, want allowed", a.status, a.reason)
		}
		ok := &authv3.OkHttpResponse{HeadersToRemove: a.ok.GetHeadersToRemove()}
		for _, h := range a.ok.GetHeaders() {
			switch h.GetHeader().GetKey() {
			case "forwarded", "x-forwarded-host", "x-forwarded-proto":
			default:
				ok.Headers = append(ok.Headers, h)
			}
		}
		if got := upstream(cr, ok)["forwarded"]; !strings.HasPrefix(got, "host=evil.example") {
			t.Fatalf("upstream Forwarded: got %q, want the client's element first", got)
		}
	})
}

// TestCheckClientForwardingHeaders: from a client that is not a trusted
// proxy, serve drops Forwarded and X-Forwarded-For/-Host/-Proto and sets
// its own; Envoy, as docs/integrations/envoy configures it, passes the
// client's Forwarded and X-Forwarded-Host on (its connection manager
// sets only X-Forwarded-Proto, and appends to X-Forwarded-For with
// use_remote_address), and an upstream that builds URLs from them
// (password-reset links) would use the client's host. The answer sets
// serve's values and removes Forwarded. Twin: the same request without
// them gets the same values upstream; the negative control is the
// answer without its forwarding headers.
func TestCheckClientForwardingHeaders(t *testing.T) {
	w := newWorld(t, nil)
	c := w.client(t, "127.0.0.1", w.envoy, false)
	want := map[string]string{"forwarded": "", "x-forwarded-host": "bank.example", "x-forwarded-proto": "https", "x-forwarded-for": "198.51.100.7"}
	forged := []string{"forwarded", "for=10.0.0.1;host=evil.example;proto=https", "x-forwarded-host", "evil.example", "x-forwarded-for", "10.0.0.1"}
	for _, tt := range []struct {
		name string
		kv   []string
		// asked is what the question carries of kv when it is not all
		// (allowed_headers leaving the client's Forwarded out).
		asked []string
	}{
		{"twin: none sent", nil, nil},
		{"the client's", forged, nil},
		{"the client's, Forwarded not in the question", forged, forged[2:]},
	} {
		for _, rawHeaders := range []bool{false, true} {
			name := tt.name
			if rawHeaders {
				name += " (header_map)"
			}
			t.Run(name, func(t *testing.T) {
				asked := tt.kv
				if tt.asked != nil {
					asked = tt.asked
				}
				// Envoy sets x-forwarded-proto itself (envoy.yaml: use_remote_address: true, xff_num_trusted_hops: 0).
				cr := envoyCheck("GET", "/balance", "bank.example", w.alice, append([]string{"x-forwarded-proto", "https"}, asked...)...)
				sent := envoyCheck("GET", "/balance", "bank.example", w.alice, append([]string{"x-forwarded-proto", "https"}, tt.kv...)...)
				if rawHeaders {
					cr = raw(cr)
				}
				a := read(t, mustCheck(t, c, cr))
				if !a.allowed {
					t.Fatalf("got %d %s, want allowed", a.status, a.reason)
				}
				up := upstream(sent, a.ok)
				for k, v := range want {
					if up[k] != v {
						t.Errorf("upstream %s: got %q, want %q", k, up[k], v)
					}
				}
			})
		}
	}
	t.Run("negative control: the answer without its forwarding headers", func(t *testing.T) {
		cr := envoyCheck("GET", "/balance", "bank.example", w.alice, append([]string{"x-forwarded-proto", "https"}, forged...)...)
		a := read(t, mustCheck(t, c, cr))
		if !a.allowed {
			t.Fatalf("got %d %s, want allowed", a.status, a.reason)
		}
		ok := &authv3.OkHttpResponse{}
		for _, h := range a.ok.GetHeaders() {
			if k := h.GetHeader().GetKey(); k != "x-forwarded-host" && k != "x-forwarded-for" && k != "x-forwarded-proto" {
				ok.Headers = append(ok.Headers, h)
			}
		}
		for _, k := range a.ok.GetHeadersToRemove() {
			if k != "forwarded" {
				ok.HeadersToRemove = append(ok.HeadersToRemove, k)
			}
		}
		if up := upstream(cr, ok); up["x-forwarded-host"] != "evil.example" || !strings.Contains(up["forwarded"], "evil.example") {
			t.Fatalf("upstream: got %q and %q, want the client's evil.example", up["x-forwarded-host"], up["forwarded"])
		}
	})
}

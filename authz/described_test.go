package authz_test

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/pki"
)

// checkDescribed: a client that sends the headers the proxy uses to
// describe the original request (any spelling, repeated) cannot make
// forgeproof decide on another request than the one the upstream gets.
// Each forgery is a cross-site POST to a private route, with a
// certificate, described by the client as a same-origin GET of a public
// one: it must be refused (403 cross-site, or 400 header-unremovable
// when the proxy would forward the header) and never reach the upstream.
// The allowed twin is the same POST, same-origin.
func (r *rig) checkDescribed() {
	t := r.t
	host := r.hostPort()
	post := func(extra string, site string) string {
		return "POST /api/pay HTTP/1.1\r\nHost: " + host + "\r\nAccept: application/json\r\n" +
			"Sec-Fetch-Site: " + site + "\r\nOrigin: " + map[string]string{"cross-site": "https://evil.test", "same-origin": "https://" + host}[site] + "\r\n" +
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 6\r\nConnection: close\r\n" + extra + "\r\namount"
	}
	lie := func(name, value string) string { return name + ": " + value + "\r\n" }
	var cases []struct{ name, extra string }
	for _, d := range []struct{ name, value string }{
		{"X-Forwarded-Method", "GET"}, {"X-Forwarded-Uri", "/public/rates"},
		{"X-Forwarded-Host", "evil.test"}, {"X-Forwarded-Proto", "http"},
		{"X-Forwarded-Prefix", "/public"}, {"X-Original-URI", "/public/rates"},
		{"X-Original-Method", "GET"}, {"Forwarded", "host=evil.test;proto=http"},
		{"X-HTTP-Method-Override", "GET"},
	} {
		for _, spell := range []string{d.name, strings.ToLower(d.name), strings.ToUpper(d.name), strings.ReplaceAll(d.name, "-", "_")} {
			cases = append(cases, struct{ name, extra string }{spell, lie(spell, d.value)})
		}
		cases = append(cases, struct{ name, extra string }{d.name + " repeated", lie(d.name, d.value) + lie(d.name, d.value)})
	}
	cases = append(cases, struct{ name, extra string }{"all at once", lie("X-Forwarded-Method", "GET") + lie("X-Forwarded-Uri", "/public/rates") +
		lie("X-Forwarded-Host", "evil.test") + lie("X-Forwarded-Proto", "http") + lie("x-forwarded-method", "GET") + lie("x-forwarded-uri", "/public/rates")})

	t.Run("allowed twin", func(t *testing.T) {
		before := r.up.count()
		if st, reason := r.sendRaw(r.client, post("", "same-origin")); st != 200 || r.up.count() != before+1 {
			t.Fatalf("got %d %q, upstream +%d; want 200 and the request upstream", st, reason, r.up.count()-before)
		}
	})
	for _, tc := range cases {
		t.Run("described by the client: "+tc.name, func(t *testing.T) {
			before := r.up.count()
			st, reason := r.sendRaw(r.client, post(tc.extra, "cross-site"))
			if !(st == 403 && reason == "cross-site") && !(st == 400 && reason == "header-unremovable") {
				t.Errorf("got %d %q, want 403 cross-site or 400 header-unremovable", st, reason)
			}
			if n := r.up.count() - before; n != 0 {
				t.Errorf("the upstream received %d requests", n)
			}
		})
	}
}

// checkOverrides: a cross-site GET that asks, in the query or a header,
// to be taken as another method is refused; its twin without the
// override passes.
func (r *rig) checkOverrides() {
	t := r.t
	cross := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.test"}
	for _, tc := range []struct {
		name, method, path string
		h                  []string
		status             int
	}{
		{"cross-site GET", "GET", "/api/balance", cross, 200},
		{"cross-site GET ?_method=DELETE", "GET", "/api/balance?_method=DELETE", cross, 403},
		{"cross-site GET ?_METHOD=delete", "GET", "/api/balance?_METHOD=delete", cross, 403},
		{"cross-site GET ?x=1&_method=POST", "GET", "/api/balance?x=1&_method=POST", cross, 403},
		{"cross-site GET X-HTTP-Method-Override: DELETE", "GET", "/api/balance", append([]string{"X-HTTP-Method-Override", "DELETE"}, cross...), 403},
		{"cross-site GET X-HTTP-Method: PUT", "GET", "/api/balance", append([]string{"X-HTTP-Method", "PUT"}, cross...), 403},
		{"cross-site GET X-Method-Override: PATCH", "GET", "/api/balance", append([]string{"X-Method-Override", "PATCH"}, cross...), 403},
		{"cross-site HEAD", "HEAD", "/api/balance", cross, 200},
		{"cross-site HEAD ?_method=DELETE", "HEAD", "/api/balance?_method=DELETE", cross, 403},
		{"cross-site OPTIONS", "OPTIONS", "/api/balance", cross, 200},
		{"cross-site OPTIONS ?_method=DELETE", "OPTIONS", "/api/balance?_method=DELETE", cross, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.up.count()
			got := r.send(r.client, tc.method, tc.path, hdr(tc.h...), "")
			if got.status != tc.status {
				t.Fatalf("got %d %q, want %d", got.status, got.reason, tc.status)
			}
			want := 0
			if tc.status == 200 {
				want = 1
			}
			if n := r.up.count() - before; n != want {
				t.Fatalf("the upstream received %d requests, want %d", n, want)
			}
			if want == 1 {
				r.up.mu.Lock()
				line := r.up.lines[len(r.up.lines)-1]
				r.up.mu.Unlock()
				if !strings.HasPrefix(line, tc.method+" ") {
					t.Fatalf("decided on %s, the upstream received %q", tc.method, line)
				}
			}
		})
	}
}

func TestNginxDescribed(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md")
	r.startNginx(true)
	r.checkDescribed()
	r.checkOverrides()
}

func TestCaddyDescribed(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/caddy.md")
	r.startCaddy(true)
	r.checkDescribed()
	r.checkOverrides()
}

// verifiedByProxy is the authz.yaml edit of the pages' alternative: the
// proxy verifies the certificate and forgeproof believes it.
var verifiedByProxy = []string{"client-certificates:\n    ca-files: [/etc/forgeproof/ca.pem]\n    crl-files: [/etc/forgeproof/crl.pem]", "client-certificates: {verified-by-proxy: true}"}

// TestNginxVerifiedByProxySpoof: with nginx verifying (ssl_verify_client
// optional) and forgeproof believing the certificate nginx passes, a
// client without a certificate that sends one in the question's header
// (or another identity header) is still not believed: nginx replaces it
// with its empty $ssl_client_escaped_cert.
func TestNginxVerifiedByProxySpoof(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md", verifiedByProxy...)
	r.startNginx(true, "ssl_verify_client      optional_no_ca;", "ssl_verify_client optional; ssl_crl "+r.pki.Path+"/crl.pem;")
	r.checkSpoofedIdentity()
}

// TestCaddyVerifiedByProxySpoof: the same with Caddy verifying
// (verify_if_given, the optional mode; require_and_verify lets no client
// without a certificate in at all).
func TestCaddyVerifiedByProxySpoof(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/caddy.md", verifiedByProxy...)
	r.startCaddy(true, "mode request", "mode verify_if_given\n\t\t\ttrusted_ca_cert_file "+r.pki.Path+"/ca.pem")
	r.checkSpoofedIdentity()
}

// checkHTTP2: over HTTP/2 to the proxy the question is the same: a
// cross-site form POST is refused, its same-origin twin passes, and a
// client's description of the request (lower-case, as HTTP/2 spells
// every name) is not believed.
func (r *rig) checkHTTP2() {
	t := r.t
	c := r.httpClient(r.client)
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name   string
		h      http.Header
		status int
	}{
		{"same-origin", hdr("Sec-Fetch-Site", "same-origin", "Origin", r.base, "Content-Type", form), 200},
		{"cross-site", hdr("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.test", "Content-Type", form), 403},
		{"cross-site described as a GET", hdr("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.test", "Content-Type", form,
			"x-forwarded-method", "GET", "x-forwarded-uri", "/public/rates", "x-forwarded-proto", "http", "x-forwarded-host", "evil.test"), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", r.base+"/api/pay", strings.NewReader("amount=1"))
			req.Header = tc.h
			before := r.up.count()
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("spoke %s, want HTTP/2", resp.Proto)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d %q, want %d", resp.StatusCode, resp.Header.Get("Forgeproof-Reason"), tc.status)
			}
			want := 0
			if tc.status == 200 {
				want = 1
			}
			if n := r.up.count() - before; n != want {
				t.Fatalf("the upstream received %d requests, want %d", n, want)
			}
		})
	}
}

// TestCaddyHTTP2: Caddy speaks HTTP/2 to clients by default.
func TestCaddyHTTP2(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/caddy.md")
	r.startCaddy(true)
	r.checkHTTP2()
}

// TestNginxHTTP2: nginx.md's listen has no http2; with it added.
func TestNginxHTTP2(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md")
	r.startNginx(true, " ssl;\n    server_name", " ssl http2;\n    server_name")
	r.checkHTTP2()
}

// TestCallerClaimsForwarding: trusted-callers is checked on the TCP peer
// of the question, never on a forwarding header: a question from
// 127.0.0.2 that claims 127.0.0.1 in X-Forwarded-For, X-Real-IP and
// Forwarded is refused, on the nginx refusal path too; the twin from
// 127.0.0.1 is answered.
func TestCallerClaimsForwarding(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md")
	for _, tc := range []struct{ from, path string }{{"127.0.0.1", "/nginx"}, {"127.0.0.2", "/nginx"}, {"127.0.0.2", "/nginx/refusal"}} {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tc.from)}}
		c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
		req, _ := http.NewRequest("GET", "http://"+r.authz+tc.path, nil)
		for k, v := range map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/api/balance", "X-Forwarded-Host": "localhost",
			"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1", "X-Real-Ip": "127.0.0.1", "Forwarded": "for=127.0.0.1",
			"X-Forwarded-Tls-Client-Cert": url.QueryEscape(string(pki.EncodeCertsPEM(r.client.Cert)))} {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.CloseIdleConnections()
		reason := resp.Header.Get(authz.HeaderReason)
		switch {
		case tc.from == "127.0.0.1" && resp.StatusCode != 200:
			t.Errorf("%s from %s: got %d %q, want 200", tc.path, tc.from, resp.StatusCode, reason)
		case tc.from != "127.0.0.1" && (resp.StatusCode != 403 || reason != "caller-untrusted"):
			t.Errorf("%s from %s: got %d %q, want 403 caller-untrusted", tc.path, tc.from, resp.StatusCode, reason)
		}
	}
}

// checkLegacy sends GET /public/legacy without a certificate, which the
// configuration under test rewrites to the private /api/balance, and
// returns the status and what the upstream received ("" for nothing).
func (r *rig) checkLegacy() (int, string) {
	r.t.Helper()
	before := r.up.count()
	got := r.send(nil, "GET", "/public/legacy", hdr(), "")
	if r.up.count() == before {
		return got.status, ""
	}
	r.up.mu.Lock()
	defer r.up.mu.Unlock()
	return got.status, r.up.lines[len(r.up.lines)-1]
}

// TestNginxRewriteAfterDecision: nginx asks about $request_uri, the
// target as the client sent it, which a rewrite does not change; the
// upstream gets the rewritten one. A rewrite from a public path to a
// private one (here in the server block, before auth_request runs) thus
// serves the private path to a client without a certificate: nginx.md
// says so. The twin: the private path asked directly is refused.
func TestNginxRewriteAfterDecision(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md")
	r.startNginx(true, "server_name localhost;", "server_name localhost;\n    rewrite ^/public/legacy$ /api/balance;")
	if got := r.send(nil, "GET", "/api/balance", hdr(), ""); got.status != 403 || got.reason != "identity-missing" {
		t.Fatalf("twin: got %d %q, want 403 identity-missing", got.status, got.reason)
	}
	if st, line := r.checkLegacy(); st != 200 || line != "GET /api/balance" {
		t.Fatalf("got %d, upstream %q; want 200 and GET /api/balance: nginx.md's warning no longer holds", st, line)
	}
}

// TestCaddyRewriteOrder: forward_auth asks about {http.request.uri},
// the target as rewritten so far. A rewrite in the route before
// forward_auth is decided on (refused, identity-missing); the same
// rewrite after it is not, and serves the private path to a client
// without a certificate: caddy.md says to put rewrites first.
func TestCaddyRewriteOrder(t *testing.T) {
	const rw = "\t\trewrite /public/legacy /api/balance\n"
	t.Run("before forward_auth", func(t *testing.T) {
		r := newRig(t)
		r.startAuthz("../docs/integrations/caddy.md")
		r.startCaddy(true, "\t\tforward_auth ", rw+"\t\tforward_auth ")
		if st, line := r.checkLegacy(); st != 403 || line != "" {
			t.Fatalf("got %d, upstream %q; want 403 and nothing upstream", st, line)
		}
	})
	t.Run("after forward_auth", func(t *testing.T) {
		r := newRig(t)
		r.startAuthz("../docs/integrations/caddy.md")
		r.startCaddy(true, "\t\treverse_proxy ", rw+"\t\treverse_proxy ")
		if st, line := r.checkLegacy(); st != 200 || line != "GET /api/balance" {
			t.Fatalf("got %d, upstream %q; want 200 and GET /api/balance: caddy.md's warning no longer holds", st, line)
		}
	})
}

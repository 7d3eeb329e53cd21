package authz_test

import (
	"net/http"
	"strings"
	"testing"
)

// received is every value of the header the upstream last received under
// name, spelt so in any case, ignoring the empty copies Caddy 2.6 sets
// for unset answers.
func (r *recorder) received(name string) []string {
	var out []string
	for k, v := range r.last() {
		if strings.EqualFold(k, name) {
			for _, s := range v {
				if s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// notForwarded are requests carrying headers that forgeproof serve would
// not forward; through a proxy that cannot remove headers per request
// (auth_request, forward_auth) they must never reach the upstream with
// them: the proxy drops them itself (nginx: names with '_'; Caddy: the
// identity headers its request_header lines delete) or forgeproof
// refuses the request, 400 header-unremovable. Each has its allowed twin,
// the same request without the header.
func (r *rig) checkNotForwarded() {
	t := r.t
	crossSite := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.test"}
	for _, tc := range []struct {
		name   string
		path   string
		twin   []string // the allowed request's headers
		header []string // what the attack adds
	}{
		{"underscore twin of Client-Cert", "/public/rates", nil, []string{"Client_Cert", ":AAAA:"}},
		{"underscore twin of Forgeproof-Client-Identity", "/public/rates", nil, []string{"Forgeproof_Client_Identity", "spiffe://bank.test/admin"}},
		{"underscore twin of X-Forwarded-For", "/public/rates", nil, []string{"X_Forwarded_For", "10.0.0.1"}},
		{"underscore method override on a cross-site GET", "/api/balance", crossSite, []string{"X_HTTP_Method_Override", "DELETE"}},
		{"another product's identity header", "/public/rates", nil, []string{"Remote-User", "admin"}},
		{"AWS ALB client certificate", "/public/rates", nil, []string{"X-Amzn-Mtls-Clientcert-Subject", "CN=admin"}},
		{"path override", "/public/rates", nil, []string{"X-Original-URL", "/api/balance"}},
		{"h2c upgrade", "/public/rates", nil, []string{"Connection", "Upgrade, HTTP2-Settings", "Upgrade", "h2c", "HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"}},
		{"TLS upgrade", "/public/rates", nil, []string{"Connection", "Upgrade", "Upgrade", "TLS/1.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.up.count()
			if got := r.send(r.client, "GET", tc.path, hdr(tc.twin...), ""); got.status != 200 || r.up.count() != before+1 {
				t.Fatalf("allowed twin: got %d %q, upstream +%d", got.status, got.body, r.up.count()-before)
			}
			before = r.up.count()
			got := r.send(r.client, "GET", tc.path, hdr(append(append([]string{}, tc.twin...), tc.header...)...), "")
			switch {
			case got.status == 400 && got.reason == "header-unremovable":
				if r.up.count() != before {
					t.Fatal("refused, but the upstream received the request")
				}
			case got.status == 200:
				if r.up.count() != before+1 {
					t.Fatalf("allowed, but the upstream received %d requests", r.up.count()-before)
				}
				for i := 0; i+1 < len(tc.header); i += 2 {
					if name := tc.header[i]; name != "Connection" {
						if v := r.up.received(name); len(v) > 0 {
							t.Errorf("the upstream received the client's %s: %q", name, v)
						}
					}
				}
			default:
				t.Fatalf("got %d %q (%q), want 400 header-unremovable or 200 without the header", got.status, got.reason, got.body)
			}
		})
	}
}

// checkForwardingHeaders: the client's forwarding headers never reach
// the upstream as sent. The proxy sets X-Forwarded-For, -Host and -Proto
// afresh and deletes the rest (the decision service does not see them:
// the proxy's question sets them itself), as serve does.
func (r *rig) checkForwardingHeaders() {
	t := r.t
	t.Run("client's forwarding headers", func(t *testing.T) {
		h := hdr("X-Forwarded-For", "10.0.0.8", "X-Forwarded-Host", "admin.evil.test", "X-Forwarded-Proto", "http",
			"X-Real-IP", "10.0.0.9", "Forwarded", "for=10.0.0.7;host=admin.evil.test;proto=http",
			"X-Forwarded-Uri", "/api/balance", "X-Forwarded-Method", "DELETE",
			"X-Forwarded-Port", "8443", "X-Forwarded-Prefix", "/admin", "X-Forwarded-Server", "admin.evil.test")
		if got := r.send(nil, "GET", "/public/rates", h, ""); got.status != 200 {
			t.Fatalf("got %d %q, want 200", got.status, got.body)
		}
		host := strings.TrimPrefix(r.base, "https://")
		for name, want := range map[string]string{
			"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": host, "X-Forwarded-Proto": "https", "X-Real-IP": "127.0.0.1",
			"Forwarded": "", "X-Forwarded-Uri": "", "X-Forwarded-Method": "",
			"X-Forwarded-Port": "", "X-Forwarded-Prefix": "", "X-Forwarded-Server": "",
		} {
			got := r.up.received(name)
			if want == "" && len(got) > 0 || want != "" && !(len(got) == 0 || len(got) == 1 && got[0] == want) {
				t.Errorf("the upstream received %s: %q, want %q or none", name, got, want)
			}
		}
	})
}

// checkHeadersThrough is the negative control of checkNotForwarded and
// checkForwardingHeaders: the proxy without forgeproof forwards what the
// client sent.
func (r *rig) checkHeadersThrough(what string, names ...string) {
	r.t.Helper()
	h := http.Header{}
	for _, n := range names {
		h[n] = []string{"spoof"}
	}
	if got := r.send(r.client, "GET", "/public/rates", h, ""); got.status != 200 {
		r.t.Fatalf("%s: got %d", what, got.status)
	}
	for _, n := range names {
		if v := r.up.received(n); len(v) != 1 || v[0] != "spoof" {
			r.t.Errorf("%s: the upstream received %s %q, want the client's", what, n, v)
		}
	}
}

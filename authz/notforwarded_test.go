package authz_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
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
			if tc.name == "TLS upgrade" && r.upgradesUnseen != "" {
				t.Skip(r.upgradesUnseen)
			}
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
// the upstream as sent, and the ones the upstream relies on always reach
// it as the proxy saw the request. The proxy sets X-Forwarded-For, -Host
// and -Proto afresh and deletes the rest (the decision service does not
// see them: the proxy's question sets them itself), as serve does. A
// missing X-Forwarded-* is a failure, not a pass: an upstream told to
// trust its proxy falls back on the proxy's own address (127.0.0.1, to
// many an "internal" caller), its own scheme and Host when one is absent.
// The twin: a request without forwarding headers gets the same ones.
func (r *rig) checkForwardingHeaders() { r.checkForwardingHeadersWith(nil) }

// checkForwardingHeadersWith is checkForwardingHeaders for a proxy that
// sets more of them itself (Traefik): own are their values, which replace
// "none" in what the upstream must receive.
func (r *rig) checkForwardingHeadersWith(own map[string]string) {
	t := r.t
	host := strings.TrimPrefix(r.base, "https://")
	want := map[string]string{
		"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": host, "X-Forwarded-Proto": "https",
		"X-Real-IP": "", "Forwarded": "", "X-Forwarded-Uri": "", "X-Forwarded-Method": "",
		"X-Forwarded-Port": "", "X-Forwarded-Prefix": "", "X-Forwarded-Server": "",
	}
	maps.Copy(want, own)
	for _, tc := range []struct {
		name string
		h    http.Header
	}{
		{"client's forwarding headers", hdr("X-Forwarded-For", "10.0.0.8", "X-Forwarded-Host", "admin.evil.test", "X-Forwarded-Proto", "http",
			"X-Real-IP", "10.0.0.9", "Forwarded", "for=10.0.0.7;host=admin.evil.test;proto=http",
			"X-Forwarded-Uri", "/api/balance", "X-Forwarded-Method", "DELETE",
			"X-Forwarded-Port", "8443", "X-Forwarded-Prefix", "/admin", "X-Forwarded-Server", "admin.evil.test")},
		{"no forwarding headers", hdr()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.send(nil, "GET", "/public/rates", tc.h, ""); got.status != 200 {
				t.Fatalf("got %d %q, want 200", got.status, got.body)
			}
			for _, p := range forwardingProblems(r.up.received, want) {
				t.Error(p)
			}
		})
	}
}

// forwardingProblems says how the headers an upstream received (every
// value of a name: received) differ from want: exactly one value, want's,
// for a name with a value; none for a name without.
func forwardingProblems(received func(name string) []string, want map[string]string) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		got, w := received(name), want[name]
		switch {
		case w == "" && len(got) > 0:
			out = append(out, fmt.Sprintf("the upstream received %s: %q, want none", name, got))
		case w != "" && (len(got) != 1 || got[0] != w):
			out = append(out, fmt.Sprintf("the upstream received %s: %q, want exactly %q", name, got, w))
		}
	}
	return out
}

// TestForwardingProblems is checkForwardingHeaders' negative control,
// without a proxy: it must fail when a header the upstream relies on is
// missing (it once passed then), repeated or the client's, or when one
// that should be gone arrived; the twin, what nginx and Caddy send as
// configured, passes.
func TestForwardingProblems(t *testing.T) {
	want := map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https", "X-Real-IP": ""}
	for _, tc := range []struct {
		name     string
		received http.Header
		problems int
	}{
		{"as configured", http.Header{"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Proto": {"https"}}, 0},
		{"X-Forwarded-Proto missing", http.Header{"X-Forwarded-For": {"127.0.0.1"}}, 1},
		{"nothing set", http.Header{}, 2},
		{"the client's X-Forwarded-For kept", http.Header{"X-Forwarded-For": {"10.0.0.8, 127.0.0.1"}, "X-Forwarded-Proto": {"https"}}, 1},
		{"X-Forwarded-Proto twice", http.Header{"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Proto": {"http", "https"}}, 1},
		{"the client's X-Real-IP kept", http.Header{"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Proto": {"https"}, "X-Real-Ip": {"10.0.0.9"}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := forwardingProblems(func(name string) []string { return tc.received.Values(name) }, want)
			if len(got) != tc.problems {
				t.Errorf("got %d problems %q, want %d", len(got), got, tc.problems)
			}
		})
	}
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

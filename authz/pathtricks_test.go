package authz_test

import (
	"net/url"
	"strings"
	"testing"
)

// pathTricks are request targets that name a private route (/api/…)
// through the public one (/public): dot segments, plain and escaped,
// ';' parameters, backslashes, escaped slashes, doubled slashes, the
// absolute form. Without a certificate, each must be refused, or reach
// the upstream as a path that every reader takes for /public/…: never
// may the proxy and forgeproof decide on different paths.
var pathTricks = []string{
	"/public/../api/balance",
	"/public/%2e%2e/api/balance",
	"/public/%2E%2E/api/balance",
	"/public/.%2e/api/balance",
	"/public/./../api/balance",
	"/public/rates/../../api/balance",
	"//public/../api/balance",
	"/public;x/../api/balance",
	"/public/..;/api/balance",
	"/public;/api/balance",
	"/public%2F..%2Fapi/balance",
	"/public%2fapi/balance",
	"/public/%2e%2e%2fapi/balance",
	`/public\..\api/balance`,
	"/public/%5c..%5capi/balance",
	"/public/%252e%252e/api/balance",
	"/public%00/../api/balance",
	"https://localhost/public/../api/balance",
	"/public/%2e%2e/%2e%2e/api/balance?x=1",
}

// publicToEveryReader reports whether an upstream's request line asks for
// a path under /public/ however it is read: decoded once or twice, with
// '\' as '/' and ';' parameters cut, and without dot segments.
func publicToEveryReader(line string) bool {
	_, rest, _ := strings.Cut(line, " ")
	target, _, _ := strings.Cut(rest, " ")
	p, _, _ := strings.Cut(target, "?")
	for range 2 {
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
	}
	p = strings.ReplaceAll(p, `\`, "/")
	if !strings.HasPrefix(p, "/public/") {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		seg, _, _ = strings.Cut(seg, ";")
		if seg == ".." || seg == "." || strings.ContainsRune(seg, 0) {
			return false
		}
	}
	return true
}

// checkPathTricks sends each of pathTricks without a certificate, after
// its allowed twin /public/rates.
func (r *rig) checkPathTricks(u *wireUpstream) {
	t := r.t
	for _, target := range append([]string{"/public/rates"}, pathTricks...) {
		t.Run(target, func(t *testing.T) {
			before := len(u.all())
			st, reason := r.sendRaw(nil, "GET "+target+" HTTP/1.1\r\nHost: "+r.hostPort()+"\r\nConnection: close\r\n\r\n")
			got := u.all()[before:]
			if target == "/public/rates" {
				if st != 200 || len(got) != 1 {
					t.Fatalf("the allowed twin: got %d %q, the upstream received %d requests", st, reason, len(got))
				}
				return
			}
			for _, q := range got {
				if !publicToEveryReader(q.line) {
					t.Errorf("got %d %q, and the upstream received %q, which is not /public/… to every reader", st, reason, q.line)
				}
			}
			if st == 200 && len(got) != 1 {
				t.Errorf("allowed, but the upstream received %d requests", len(got))
			}
		})
	}
}

// TestPublicToEveryReader: the check above must be able to fail.
func TestPublicToEveryReader(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"GET /public/rates HTTP/1.1", true},
		{"GET /public/rates?x=/../api HTTP/1.1", true},
		{"GET /api/balance HTTP/1.1", false},
		{"GET /public/../api/balance HTTP/1.1", false},
		{"GET /public/%2e%2e/api/balance HTTP/1.1", false},
		{"GET /public/%252e%252e/api/balance HTTP/1.1", false},
		{"GET /public/..;/api/balance HTTP/1.1", false},
		{`GET /public\..\api/balance HTTP/1.1`, false},
		{"GET /public%2F..%2Fapi/balance HTTP/1.1", false},
	} {
		if got := publicToEveryReader(tc.line); got != tc.want {
			t.Errorf("%q: got %v, want %v", tc.line, got, tc.want)
		}
	}
}

// newWireRig is a rig whose upstream is a wireUpstream.
func newWireRig(t *testing.T) (*rig, *wireUpstream) {
	r := newRig(t)
	u := newWireUpstream(t)
	r.upstream = u.ln.Addr().String()
	return r, u
}

func TestNginxPathTricks(t *testing.T) {
	r, u := newWireRig(t)
	r.startAuthz("../docs/integrations/nginx.md")
	r.startNginx(true)
	r.checkPathTricks(u)
}

func TestCaddyPathTricks(t *testing.T) {
	r, u := newWireRig(t)
	r.startAuthz("../docs/integrations/caddy.md")
	r.startCaddy(true)
	r.checkPathTricks(u)
}

func TestTraefikPathTricks(t *testing.T) {
	r, u := newWireRig(t)
	r.startAuthz("../docs/integrations/nginx.md", "proxy: nginx", "proxy: traefik")
	r.startTraefik(true)
	r.checkPathTricks(u)
}

// TestNginxPathTricksWithoutAuthz is checkPathTricks' negative control
// with a real proxy: nginx without auth_request forwards the tricks as
// sent, and the check's predicate says they are not /public/….
func TestNginxPathTricksWithoutAuthz(t *testing.T) {
	r, u := newWireRig(t)
	r.startNginx(false, `proxy_set_header X-Forwarded-Uri "";`, "")
	for _, target := range []string{"/public/%2e%2e/api/balance", "/public/..;/api/balance"} {
		before := len(u.all())
		if st, _ := r.sendRaw(nil, "GET "+target+" HTTP/1.1\r\nHost: "+r.hostPort()+"\r\nConnection: close\r\n\r\n"); st != 200 {
			t.Fatalf("%s: got %d, want the trick through", target, st)
		}
		if got := u.all()[before:]; len(got) != 1 || publicToEveryReader(got[0].line) {
			t.Fatalf("%s: the upstream received %v, want one request that is not /public/…", target, got)
		}
	}
}

// checkAuthorityHost: a target starting with "//" names a host to the
// URL parsers applications run on it: Node's new URL(req.url, base)
// reads "//admin.example/x" as /x on admin.example, whatever the Host,
// and an application serving hosts by url.hostname served admin's /x to
// a client that forgeproof authorized on the Host's route (nginx and
// Caddy forward the target as sent). With a route for admin.example
// that the client's certificate may not use, it is refused and never
// reaches the upstream; its twin, an authority naming the Host, passes.
func (r *rig) checkAuthorityHost(u *wireUpstream) {
	for _, tc := range []struct {
		target  string
		refused bool
	}{
		{"//localhost/x", false},
		{"//admin.example/x", true},
		{"///ADMIN.example./x", true},
		{"//u@admin.example:443/x", true},
	} {
		before := len(u.all())
		st, reason := r.sendRaw(r.client, "GET "+tc.target+" HTTP/1.1\r\nHost: "+r.hostPort()+"\r\nConnection: close\r\n\r\n")
		got := u.all()[before:]
		if !tc.refused {
			if st != 200 || len(got) != 1 {
				r.t.Errorf("%s: got %d %q, the upstream received %d requests; want 200 and one", tc.target, st, reason, len(got))
			}
			continue
		}
		if st == 200 || reason != "path-ambiguous" || len(got) != 0 {
			r.t.Errorf("%s: got %d %q, the upstream received %v; want path-ambiguous and nothing", tc.target, st, reason, got)
		}
	}
}

// adminHostRoute adds to an authz.yaml of the docs a route for
// admin.example that r.client's certificate may not use.
const adminHostRoute = "routes:\n  - name: admin-host\n    host: admin.example\n    allow: {spiffe-ids: [spiffe://bank.test/admin]}\n"

func TestNginxAuthorityHost(t *testing.T) {
	r, u := newWireRig(t)
	r.startAuthz("../docs/integrations/nginx.md", "routes:\n", adminHostRoute)
	r.startNginx(true)
	r.checkAuthorityHost(u)
}

func TestCaddyAuthorityHost(t *testing.T) {
	r, u := newWireRig(t)
	r.startAuthz("../docs/integrations/caddy.md", "routes:\n", adminHostRoute)
	r.startCaddy(true)
	r.checkAuthorityHost(u)
}

package gateway_test

import (
	"strings"
	"testing"
)

// TestPathAuthorityReading: a request target that starts with "//" is a
// network-path reference to URL parsers that applications run on it
// (Node documents new URL(req.url, base) for reading req.url; WHATWG
// skips every leading slash): "//x/admin/secret" is /admin/secret on host
// x to them, while the gateway routes it under "/" (merged or not, its
// segments are x, admin, secret). So it is refused (400 path-ambiguous)
// over HTTP/1.1 (origin and absolute form) and HTTP/2, and nothing
// reaches the upstream; its twin, whose path after the authority is
// under "/" too, is forwarded as sent.
func TestPathAuthorityReading(t *testing.T) {
	t.Parallel()
	w, _, gw, u, _ := normalizeWorld(t)
	for _, tt := range []struct {
		target  string
		refused bool
	}{
		{"//x/admin/secret", true},
		{"///x/admin", true},
		{"//localhost/admin", true},
		{"https://localhost//x/admin", true},
		{"//x/public/page", false}, // twin: / and /public are one policy
		{"//x/y", false},
	} {
		resp, body := gw.rawExchange(t, w.web, "GET "+tt.target+" HTTP/1.1\r\nHost: localhost\r\n\r\n")
		heads := u.heads()
		if tt.refused {
			if resp.StatusCode != 400 || !strings.Contains(body, "path-ambiguous") {
				t.Errorf("HTTP/1.1 %s: got %d %q, want 400 path-ambiguous", tt.target, resp.StatusCode, body)
			}
			if len(heads) != 0 {
				t.Errorf("HTTP/1.1 %s: upstream received %q", tt.target, heads)
			}
			continue
		}
		want := "GET " + strings.TrimPrefix(tt.target, "https://localhost") + " HTTP/1.1\r\n"
		if resp.StatusCode != 200 || len(heads) != 1 || !strings.HasPrefix(heads[0], want) {
			t.Errorf("HTTP/1.1 %s: got %d, upstream %q; want 200 and %q", tt.target, resp.StatusCode, heads, want)
		}
	}
	h := dialH2Raw(t, gw, "localhost", w.web)
	defer h.conn.Close()
	h.request(1, get("localhost", "//x/admin/secret")...)
	if a, err := h.answer(1); err != nil || a.status != 400 || a.reason != "path-ambiguous" {
		t.Errorf("HTTP/2 //x/admin/secret: got %+v, %v; want 400 path-ambiguous", a, err)
	}
	h.request(3, get("localhost", "//x/y")...)
	if a, err := h.answer(3); err != nil || a.status != 200 {
		t.Errorf("HTTP/2 //x/y: got %+v, %v; want 200", a, err)
	}
	if heads := u.heads(); len(heads) != 1 || !strings.HasPrefix(heads[0], "GET //x/y HTTP/1.1\r\n") {
		t.Errorf("HTTP/2: upstream received %q, want only GET //x/y", heads)
	}
}

// TestPathAuthorityHost: the authority cut off a leading "//" names the
// host to the parsers that cut it: Node's new URL(req.url, base) reads
// "GET //admin.example/x" with Host: localhost as /x on admin.example,
// and an application that serves hosts by url.hostname serves admin's
// /x. The gateway routed the cut form under the Host (the "any" route,
// which the web client may use) and forwarded it. Refused (400
// path-ambiguous) when the authority's host selects a route of another
// policy, however WHATWG spells it (case, trailing dot, userinfo, port,
// percent-encoding, full-width letters it maps by IDNA, backslashes);
// twins: an authority whose host selects the same policy, and the admin
// host's own client sending the admin host's authority.
func TestPathAuthorityHost(t *testing.T) {
	t.Parallel()
	w, _, gw, u, _ := normalizeWorld(t)
	for _, tt := range []struct {
		host, target string
		admin        bool // the admin client (else the web client)
		refused      bool
	}{
		{"localhost", "//admin.example/x", false, true},
		{"localhost", "///admin.example/x", false, true},
		{"localhost", "//ADMIN.EXAMPLE./x", false, true},
		{"localhost", "//u:p@admin.example:443/x", false, true},
		{"localhost", "//admin%2Eexample/x", false, true},
		{"localhost", "/%2F/admin.example/x", false, true},
		{"localhost", `/\admin.example/x`, false, true},
		{"localhost", "//\uff41\uff44\uff4d\uff49\uff4e.example/x", false, true},
		{"localhost", "//0x7f.1/x", false, true}, // a number: any host
		{"localhost", "//localhost/x", false, false},
		{"localhost", "//app.example/public/x", false, false},
		{"admin.example", "//admin.example/x", true, false},
	} {
		cert := w.web
		if tt.admin {
			cert = w.admin
		}
		resp, body := gw.rawExchange(t, cert, "GET "+tt.target+" HTTP/1.1\r\nHost: "+tt.host+"\r\n\r\n")
		heads := u.heads()
		if tt.refused {
			if resp.StatusCode != 400 || !strings.Contains(body, "path-ambiguous") {
				t.Errorf("%s on %s: got %d %q, want 400 path-ambiguous", tt.target, tt.host, resp.StatusCode, body)
			}
			if len(heads) != 0 {
				t.Errorf("%s on %s: upstream received %q", tt.target, tt.host, heads)
			}
			continue
		}
		if resp.StatusCode != 200 || len(heads) != 1 {
			t.Errorf("%s on %s: got %d %q, upstream %q; want 200", tt.target, tt.host, resp.StatusCode, body, heads)
		}
	}
	h := dialH2Raw(t, gw, "localhost", w.web)
	defer h.conn.Close()
	h.request(1, get("localhost", "//admin.example/x")...)
	if a, err := h.answer(1); err != nil || a.status != 400 || a.reason != "path-ambiguous" {
		t.Errorf("HTTP/2 //admin.example/x: got %+v, %v; want 400 path-ambiguous", a, err)
	}
	h.request(3, get("localhost", "//localhost/x")...)
	if a, err := h.answer(3); err != nil || a.status != 200 {
		t.Errorf("HTTP/2 //localhost/x: got %+v, %v; want 200", a, err)
	}
	if heads := u.heads(); len(heads) != 1 || !strings.HasPrefix(heads[0], "GET //localhost/x HTTP/1.1\r\n") {
		t.Errorf("HTTP/2: upstream received %q, want only GET //localhost/x", heads)
	}
}

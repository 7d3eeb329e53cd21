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

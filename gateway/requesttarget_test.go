package gateway_test

import (
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestRequestTargetNotAPath (redteam finding): net/http's server accepts
// a request target "a:admin/secret" (a URL with a scheme and an opaque
// part, no path) or "*" on a GET. The gateway routed them by their empty
// path (or "*") to a catch-all route open to anyone, and the upstream
// received "GET admin/secret" or "GET /%2A": a server that reads a
// relative target as a path (or resolves it against "/") serves
// /admin/secret to a client the /admin route refuses. A request target
// that is neither a path nor an absolute URL with one is refused before
// routing (400 path-invalid). Allowed twins: the origin form, and an
// absolute URL without a path (its path is "/"). Negative control: with
// the request checks off, the opaque target reaches the upstream.
func TestRequestTargetNotAPath(t *testing.T) {
	tests := []struct {
		name, target string
		check        bool
		want         int
		upstream     string // request line the upstream gets; "" for none
	}{
		{"scheme and opaque part", "a:admin/secret", true, 400, ""},
		{"http: without //", "http:admin/secret", true, 400, ""},
		{"https: without //", "https:admin", true, 400, ""},
		{"asterisk on GET", "*", true, 400, ""},
		{"origin form", "/x", true, 200, "GET /x HTTP/1.1"},
		{"absolute URL without a path", "https://localhost", true, 200, "GET / HTTP/1.1"},
		{"negative control: opaque target, checks off", "a:admin/secret", false, 502, "GET admin/secret HTTP/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, gw, u := rawWorldWith(t, respondOK, func(cfg *gateway.Config) {
				cfg.Routes = append(cfg.Routes, gateway.Route{Name: "root", PathPrefix: "/", Allow: gateway.Allow{Unauthenticated: true}})
			})
			gateway.SetRequestChecks(gw.g, tt.check)
			c := gw.dialRaw(t, nil)
			c.send("GET " + tt.target + " HTTP/1.1\r\nHost: localhost\r\n\r\n")
			resp, body := c.read()
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want == 400 && !strings.Contains(body, "path-invalid") {
				t.Errorf("got %s, want reason path-invalid", body)
			}
			c.Close()
			got := received(u.wait())
			if line, _, _ := strings.Cut(got, "\r\n"); line != tt.upstream {
				t.Errorf("upstream got %q, want %q", line, tt.upstream)
			}
		})
	}
}

// TestHTTP2RequestLineSpaces (redteam finding): net/http's HTTP/2 server
// takes any :method and a :path whose query has a space (HTTP/2 fields
// may hold spaces; its HTTP/1.x server refuses both), and the gateway
// wrote them into the upstream's HTTP/1.1 request line as they were:
// :method "GET /admin/secret" on :path "/public/x" went out as
// "GET /admin/secret /public/x HTTP/1.1", checked as an unauthenticated
// /public request, read by an upstream that takes the second word as
// the target as /admin/secret. Both are refused (400 method-invalid, 400
// path-invalid). Allowed twins: other token methods (lower case too), an
// escaped space. Negative control: with the request checks off, the
// split request line reaches the upstream.
func TestHTTP2RequestLineSpaces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, path string
		check              bool
		want               int
		reason             string
		upstream           string // request line the upstream gets; "" for none
	}{
		{"space in the method", "GET /admin/secret", "/public/x", true, 400, "method-invalid", ""},
		{"tab in the method", "GET\t/admin/secret", "/public/x", true, 400, "method-invalid", ""},
		{"obs-text in the method", "GET\xa0/admin", "/public/x", true, 400, "method-invalid", ""},
		{"space in the query", "GET", "/public/x?a /admin/y", true, 400, "path-invalid", ""},
		{"token method", "PROPFIND", "/public/x", true, 200, "", "PROPFIND /public/x HTTP/1.1"},
		{"lower-case method", "get", "/public/x", true, 200, "", "get /public/x HTTP/1.1"},
		{"escaped space in the query", "GET", "/public/x?a=%20b+c", true, 200, "", "GET /public/x?a=%20b+c HTTP/1.1"},
		{"space in the path: escaped", "GET", "/public/x y", true, 200, "", "GET /public/x%20y HTTP/1.1"},
		{"negative control: space in the method, checks off", "GET /admin/secret", "/public/x", false, 502, "upstream-unavailable", "GET /admin/secret /public/x HTTP/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, gw, u := rawWorld(t, respondOK)
			gateway.SetRequestChecks(gw.g, tt.check)
			h := dialH2Raw(t, gw, "localhost", w.web)
			h.request(1, ":method", tt.method, ":scheme", "https", ":authority", "localhost", ":path", tt.path, "accept", "application/json")
			a, err := h.answer(1)
			if err != nil {
				t.Fatal(err)
			}
			if a.status != tt.want || a.reason != tt.reason {
				t.Errorf("got %d %q, want %d %q", a.status, a.reason, tt.want, tt.reason)
			}
			h.conn.Close()
			got := received(u.wait())
			if line, _, _ := strings.Cut(got, "\r\n"); line != tt.upstream {
				t.Errorf("upstream got %q, want %q", line, tt.upstream)
			}
		})
	}
}

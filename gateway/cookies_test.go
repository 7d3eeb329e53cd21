package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestCookieHardening runs a real gateway in front of an upstream that
// sets a bare session cookie and echoes the Cookie header it receives.
// The hardened route adds Secure, HttpOnly and SameSite, moves the cookie
// under __Host- and drops a tossed bare copy on the way in; the route
// without cookie settings (the negative control) passes both through. The
// upstream's deletion of a copy under another path, in the answer that
// sets the session, stays under the bare name: moved under __Host- with
// Path=/ it would delete the session.
func TestCookieHardening(t *testing.T) {
	w := newWorld(t)
	app := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Add("Set-Cookie", "session=abc123; Domain=localhost; Path=/hardened")
		rw.Header().Add("Set-Cookie", "session=; Path=/old; Max-Age=0")
		rw.Header().Add("Set-Cookie", "theme=dark; SameSite=Strict")
		io.WriteString(rw, r.Header.Get("Cookie"))
	}))
	t.Cleanup(app.Close)
	cfg := w.config()
	cfg.Routes = []gateway.Route{
		{Name: "hardened", PathPrefix: "/hardened", Upstream: app.URL, Allow: gateway.Allow{AnyVerified: true},
			Cookies: gateway.Cookies{Secure: true, HTTPOnly: true, SameSite: gateway.SameSiteLax, HostPrefix: "session"}},
		{Name: "plain", PathPrefix: "/plain", Upstream: app.URL, Allow: gateway.Allow{AnyVerified: true}},
	}
	r := w.start(cfg)
	c := r.client(w.web)

	get := func(path, cookie string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", r.base+path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	tests := []struct {
		name       string
		path       string
		wantCookie []string // Set-Cookie lines the browser gets
		sent       string   // Cookie header from the client
		wantSeen   string   // Cookie header the upstream got
	}{
		{"hardened", "/hardened", []string{
			"__Host-session=abc123; Path=/; Secure; HttpOnly; SameSite=Lax",
			"session=; Path=/old; Max-Age=0; Secure; HttpOnly; SameSite=Lax",
			"theme=dark; SameSite=Strict; Secure; HttpOnly",
		}, "session=tossed; __Host-session=abc123; theme=dark", "session=abc123; theme=dark"},
		{"negative control: no cookie settings", "/plain", []string{
			"session=abc123; Domain=localhost; Path=/hardened",
			"session=; Path=/old; Max-Age=0",
			"theme=dark; SameSite=Strict",
		}, "session=tossed; __Host-session=abc123; theme=dark", "session=tossed; __Host-session=abc123; theme=dark"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, seen := get(tt.path, tt.sent)
			if got := resp.Header.Values("Set-Cookie"); strings.Join(got, "\n") != strings.Join(tt.wantCookie, "\n") {
				t.Errorf("Set-Cookie: got %q, want %q", got, tt.wantCookie)
			}
			if seen != tt.wantSeen {
				t.Errorf("upstream got Cookie %q, want %q", seen, tt.wantSeen)
			}
			for _, line := range resp.Header.Values("Set-Cookie") {
				if _, err := http.ParseSetCookie(line); err != nil {
					t.Errorf("%q does not parse: %v", line, err)
				}
			}
		})
	}
}

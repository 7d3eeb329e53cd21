package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestCookieTossingTwins (redteam finding): with cookies.host-prefix the
// browser holds the session as __Host-session, which no sibling host can
// set, and the gateway drops a tossed bare "session" cookie. But a
// sibling (or a plain-HTTP page) can toss the same cookie under another
// spelling that upstreams read as "session": PHP and Rack percent-decode
// cookie names (%73ession), PHP reads '.', ' ' and '[' as '_'
// (my.session is my_session), ASP.NET Core compares names without case
// (SESSION). Sent first (a longer Path), the twin is the session the
// upstream uses: session fixation through the hardening. Each twin is
// dropped; the allowed twins, cookies with other names, pass. Negative
// control: the route without host-prefix passes everything as sent.
func TestCookieTossingTwins(t *testing.T) {
	sessionTwins := []string{"%73ession=t1", "SESSION=t2", "Session=t3", "%2573ession=t4", "__host-session=t5", "__Host-%73ession=t6"}
	mySessionTwins := []string{"my.session=u1", "my%20session=u2", "my[session=u3", "MY_SESSION=u4", "my+session=u5", "my%2Esession=u6"}
	others := []string{"sessionx=k1", "my_sessions=k2", "theme=k3", "%zz=k4"}
	tests := []struct {
		name, path, prefixName string
		twins, kept            []string
	}{
		{"session", "/hardened/x", "session", sessionTwins, append(append([]string(nil), mySessionTwins...), others...)},
		{"my_session", "/hardened2/x", "my_session", mySessionTwins, append(append([]string(nil), sessionTwins...), others...)},
		{"negative control: no host-prefix", "/plain/x", "", nil, append(append(append([]string(nil), sessionTwins...), mySessionTwins...), others...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			u := newRawUpstream(t, respondOK)
			cfg := w.config()
			cfg.Routes = []gateway.Route{
				{Name: "hardened", PathPrefix: "/hardened", Upstream: u.URL, Allow: gateway.Allow{AnyVerified: true},
					Cookies: gateway.Cookies{Secure: true, HostPrefix: "session"}},
				{Name: "hardened2", PathPrefix: "/hardened2", Upstream: u.URL, Allow: gateway.Allow{AnyVerified: true},
					Cookies: gateway.Cookies{Secure: true, HostPrefix: "my_session"}},
				{Name: "plain", PathPrefix: "/plain", Upstream: u.URL, Allow: gateway.Allow{AnyVerified: true}},
			}
			gw := w.start(cfg)
			c := gw.dialRaw(t, w.web)
			pairs := append(append([]string(nil), tt.twins...), tt.kept...)
			if tt.prefixName != "" {
				pairs = append(pairs, "__Host-"+tt.prefixName+"=victim")
			}
			c.send("GET " + tt.path + " HTTP/1.1\r\nHost: localhost\r\nCookie: " + strings.Join(pairs, "; ") + "\r\n\r\n")
			if resp, body := c.read(); resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d %s, want 200", resp.StatusCode, body)
			}
			c.Close()
			conns := u.wait()
			got := "; " + conns[0].headers[0].Get("Cookie") + ";"
			for _, p := range tt.twins {
				if strings.Contains(got, "; "+p+";") {
					t.Errorf("tossed %q reached the upstream (Cookie %q)", p, got)
				}
			}
			for _, p := range tt.kept {
				if !strings.Contains(got, "; "+p+";") {
					t.Errorf("%q did not reach the upstream (Cookie %q)", p, got)
				}
			}
			if want := "; " + tt.prefixName + "=victim;"; tt.prefixName != "" && !strings.Contains(got, want) {
				t.Errorf("upstream Cookie %q lacks the renamed %q", got, want)
			}
		})
	}
}

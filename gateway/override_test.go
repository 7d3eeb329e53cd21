package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
)

// Method overrides (redteam finding): upstream frameworks read _method or
// X-HTTP-Method-Override (Rack, Laravel, Symfony, Express, Slim, CakePHP,
// some on every method), so a GET, or a CORS preflight, can be a DELETE to
// the upstream. The gateway decides on the method the upstream may read:
// the csrf package checks such a GET as unsafe, and such an OPTIONS is no
// preflight (it needs an identity). Each case shows what the raw upstream
// received.

// overrideWorld is a gateway whose routes all go to one raw upstream,
// plus "spa" (/spa, admin only, with allow.cors-preflights).
func overrideWorld(t *testing.T) (*world, *running, *rawUpstream) {
	t.Helper()
	return rawWorldWith(t, respondOK, func(cfg *gateway.Config) {
		cfg.Routes = append(cfg.Routes, gateway.Route{Name: "spa", PathPrefix: "/spa",
			Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://test.example/admin"}, CORSPreflights: true}})
	})
}

// TestMethodOverrideGateway: a cross-site GET that an override makes a
// DELETE is refused before the upstream; the same GET from the page's own
// origin, and a cross-site GET without the override, reach it. Negative
// control: on the route with CSRF off, the cross-site GET and its
// override reach the upstream as sent.
func TestMethodOverrideGateway(t *testing.T) {
	tests := []struct {
		name, target, headers string
		want                  int
	}{
		{"cross-site GET, X-HTTP-Method-Override: DELETE", "/api/x", "Sec-Fetch-Site: cross-site\r\nX-HTTP-Method-Override: DELETE\r\n", 403},
		{"cross-site GET, ?_method=DELETE", "/api/x?_method=DELETE", "Sec-Fetch-Site: cross-site\r\n", 403},
		{"GET from another Origin, ?%5Fmethod=put", "/api/x?%5Fmethod=put", "Origin: https://evil.example\r\n", 403},
		{"cross-site HEAD, X-Method-Override: POST", "/api/x", "Sec-Fetch-Site: cross-site\r\nX-Method-Override: POST\r\n", 403},
		{"cross-site GET, ?_method[]=DELETE", "/api/x?_method[]=DELETE", "Sec-Fetch-Site: cross-site\r\n", 403},
		{"cross-site GET, ?%255Fmethod=DELETE", "/api/x?%255Fmethod=DELETE", "Sec-Fetch-Site: cross-site\r\n", 403},
		{"cross-site GET, ?.method=+delete", "/api/x?.method=+delete", "Sec-Fetch-Site: cross-site\r\n", 403},
		{"cross-site GET, X-HTTP-Method-Override: GET, delete", "/api/x", "Sec-Fetch-Site: cross-site\r\nX-HTTP-Method-Override: GET, delete\r\n", 403},
		{"same-origin GET, ?_method=DELETE", "/api/x?_method=DELETE", "Sec-Fetch-Site: same-origin\r\n", 200},
		{"cross-site GET, ?_method[]=get", "/api/x?_method[]=get", "Sec-Fetch-Site: cross-site\r\n", 200},
		{"cross-site GET, ?%255Fmethod=HEAD", "/api/x?%255Fmethod=HEAD", "Sec-Fetch-Site: cross-site\r\n", 200},
		{"cross-site GET without an override", "/api/x?method=DELETE", "Sec-Fetch-Site: cross-site\r\n", 200},
		{"negative control: CSRF off, ?_method[]=DELETE", "/nocsrf/x?_method[]=DELETE", "Sec-Fetch-Site: cross-site\r\n", 200},
		{"negative control: CSRF off", "/nocsrf/x?_method=DELETE", "Sec-Fetch-Site: cross-site\r\nX-HTTP-Method-Override: DELETE\r\n", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw, u := overrideWorld(t)
			method := "GET"
			if strings.HasPrefix(tt.name, "cross-site HEAD") {
				method = "HEAD"
			}
			c := gw.dialRaw(t, w.web)
			c.send(method + " " + tt.target + " HTTP/1.1\r\nHost: localhost\r\n" + tt.headers + "\r\n")
			resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d, want %d", resp.StatusCode, tt.want)
			}
			c.Close()
			got := received(u.wait())
			if reached := strings.HasPrefix(got, method+" "+tt.target+" "); reached != (tt.want == 200) {
				t.Errorf("upstream got %q, want the request: %v", got, tt.want == 200)
			}
		})
	}
}

// TestPreflightMethodOverride: on a route with allow.cors-preflights, an
// OPTIONS that carries an unsafe method override is not let through as a
// preflight without a certificate (403 identity-missing, nothing reaches
// the upstream): an upstream that honours the override on every method
// would read a DELETE from nobody. The twin, a genuine preflight, passes,
// and reaches the upstream without the Cookie and Authorization that no
// browser sends on a preflight; an ordinary OPTIONS with the allowed
// certificate keeps them.
func TestPreflightMethodOverride(t *testing.T) {
	const preflight = "Origin: https://app.example\r\nAccess-Control-Request-Method: DELETE\r\nCookie: session=victim\r\nAuthorization: Bearer victim\r\n"
	tests := []struct {
		name, target, headers string
		admin                 bool
		want                  int
	}{
		{"X-HTTP-Method-Override: DELETE", "/spa/x", preflight + "X-HTTP-Method-Override: DELETE\r\n", false, 403},
		{"X-HTTP-Method: delete", "/spa/x", preflight + "X-HTTP-Method: delete\r\n", false, 403},
		{"?_method=DELETE", "/spa/x?_method=DELETE", preflight, false, 403},
		{"?_method[]=DELETE", "/spa/x?_method[]=DELETE", preflight, false, 403},
		{"?%255Fmethod=delete", "/spa/x?%255Fmethod=delete", preflight, false, 403},
		{"preflight with ?_method[]=OPTIONS", "/spa/x?_method[]=OPTIONS", preflight, false, 200},
		{"genuine preflight", "/spa/x", preflight, false, 200},
		{"X-HTTP-Method-Override: OPTIONS", "/spa/x", preflight + "X-HTTP-Method-Override: OPTIONS\r\n", false, 200},
		{"with the allowed certificate", "/spa/x", "Cookie: session=victim\r\nAuthorization: Bearer victim\r\nSec-Fetch-Site: same-origin\r\nX-HTTP-Method-Override: DELETE\r\n", true, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, gw, u := overrideWorld(t)
			var cert *pki.Cert
			if tt.admin {
				cert = w.admin
			}
			c := gw.dialRaw(t, cert)
			c.send("OPTIONS " + tt.target + " HTTP/1.1\r\nHost: localhost\r\n" + tt.headers + "\r\n")
			resp, body := c.read()
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want == 403 && !strings.Contains(body, "identity-missing") {
				t.Errorf("got %s, want reason identity-missing", body)
			}
			c.Close()
			conns := u.wait()
			got := received(conns)
			if reached := got != ""; reached != (tt.want == 200) {
				t.Fatalf("upstream got %q, want the request: %v", got, tt.want == 200)
			}
			if tt.want != 200 {
				return
			}
			h := conns[0].headers[0]
			if creds := h.Get("Cookie") != "" || h.Get("Authorization") != ""; creds != tt.admin {
				t.Errorf("upstream got Cookie %q, Authorization %q; want them: %v", h.Get("Cookie"), h.Get("Authorization"), tt.admin)
			}
		})
	}
}

// TestMethodOverrideUnderscoreTwin: the CSRF guard decides on
// X-HTTP-Method-Override, so its underscore twin, which CGI, PHP
// (CakePHP reads HTTP_X_HTTP_METHOD_OVERRIDE) and Rack read as the same
// header, is dropped even on a route that allows '_' in names: a
// cross-site GET carrying X_HTTP_Method_Override: DELETE reaches the
// upstream as a plain GET. The allowed twin: another underscore name
// passes on that route. Negative control: with the underscore check off,
// the override twin reaches the upstream beside a GET the guard let
// through as safe.
func TestMethodOverrideUnderscoreTwin(t *testing.T) {
	for _, check := range []bool{true, false} {
		t.Run(map[bool]string{true: "checked", false: "negative control"}[check], func(t *testing.T) {
			w, gw, u := rawWorld(t, respondOK)
			gateway.SetUnderscoreCheck(gw.g, check)
			got := forwardOK(t, gw.dialRaw(t, w.web), u, "GET /legacy/x HTTP/1.1\r\nHost: localhost\r\nSec-Fetch-Site: cross-site\r\n"+
				"X_HTTP_Method_Override: DELETE\r\nX_Method_Override: PUT\r\nX_HTTP_Method: PATCH\r\nX_Custom: kept\r\n\r\n")
			for _, v := range []string{"DELETE", "PUT", "PATCH"} {
				if reached := strings.Contains(got, ": "+v+"\r\n"); reached == check {
					t.Errorf("override twin naming %s reached the upstream: %v, want %v (%q)", v, reached, !check, got)
				}
			}
			if !strings.Contains(got, "X_custom: kept\r\n") && !strings.Contains(got, "X_Custom: kept\r\n") {
				t.Errorf("X_Custom did not reach the upstream on the route allowing '_': %q", got)
			}
		})
	}
}

package e2e_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestCookieHardeningInBrowser checks routes[].cookies
// against what Chromium's cookie store makes of the Set-Cookie lines the
// gateway sends, not against the gateway's own reading of them. The
// upstream sets cookies whose attributes the gateway read as present but
// Chromium ignores: Secure or HttpOnly with a value over 1024 bytes
// (RFC 6265bis 5.6: such an attribute is ignored), and a SameSite whose
// name or value is spelled with U+0130 (which Go's Unicode lower-casing
// makes "samesite", "strict"; browsers compare ASCII only). Each must be
// stored Secure, HttpOnly and SameSite Lax or Strict, as the route
// promises; the allowed twins (the same attributes within the limits, in
// ASCII) pass with or without the fix. Negative control: the route
// without cookie settings, where a bare cookie is stored weak, which
// shows that the oracle sees a weak cookie.
func TestCookieHardeningInBrowser(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	ca, _, dir := gatewayFiles(t, "localhost")
	alice, err := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}).PKCS12("")
	if err != nil {
		t.Fatal(err)
	}

	long := func(n int) string { return strings.Repeat("a", n) }
	type cookieCase struct{ name, attrs string }
	cases := []cookieCase{
		// Refused before the fix: Chromium stores them weaker.
		{"long_secure", "; Secure=" + long(1025)},
		{"long_httponly", "; HttpOnly=" + long(1025)},
		{"dotted_i_value", "; SameSite=Str\u0130ct"},
		{"dotted_i_name", "; SameS\u0130te=Lax"},
		// Allowed twins.
		{"bare", ""},
		{"max_secure", "; Secure=" + long(1024)},
		{"max_httponly", "; HttpOnly=" + long(1024)},
		{"ascii_strict", "; SameSite=Strict"},
		{"ascii_lax", "; samesite=LAX"},
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		for _, c := range cases {
			if c.name == name {
				w.Header()["Set-Cookie"] = []string{c.name + "=1" + c.attrs}
			}
		}
		fmt.Fprint(w, "<!doctype html><title>app</title>ok")
	})
	up := httptest.NewServer(app)
	t.Cleanup(up.Close)

	yaml := fmt.Sprintf(`listeners:
  - address: "127.0.0.1:0"
    tls:
      cert-file: %q
      key-file: %q
      client-ca-files: [%q]
      client-auth: verify-if-given
routes:
  - name: hardened
    path-prefix: /h/
    upstream: %q
    allow:
      any-verified: true
    cookies:
      secure: true
      http-only: true
      same-site: lax
  - name: plain
    path-prefix: /p/
    upstream: %q
    allow:
      any-verified: true
admin:
  address: "off"
`, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"), filepath.Join(dir, "ca.pem"), up.URL, up.URL)
	cfg, err := gateway.ParseConfig("forgeproof.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	target := "https://localhost:" + serveGateway(t, g)

	b := startBrowser(t, tools, browser.Profile{
		CACertsPEM: pki.EncodeCertsPEM(ca.Cert),
		ClientP12:  alice,
		AutoSelect: []string{target},
		IssuerCN:   harnessCAName,
	})
	stored := func(t *testing.T, url, name string) *network.Cookie {
		t.Helper()
		if status, err := b.Navigate(t.Context(), url); err != nil || status != 200 {
			t.Fatalf("navigate to %s: %d %v", url, status, err)
		}
		cookies, err := b.Cookies(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cookies {
			if c.Name == name {
				return c
			}
		}
		return nil
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ck := stored(t, target+"/h/c/"+c.name, c.name)
			if ck == nil {
				t.Fatalf("%s=1%.40s… was not stored", c.name, c.attrs)
			}
			if !ck.Secure || !ck.HTTPOnly || (ck.SameSite != network.CookieSameSiteLax && ck.SameSite != network.CookieSameSiteStrict) {
				t.Errorf("upstream's %s=1%.40s…: Chromium stored Secure=%v HttpOnly=%v SameSite=%q, want Secure, HttpOnly, SameSite Lax or Strict",
					c.name, c.attrs, ck.Secure, ck.HTTPOnly, ck.SameSite)
			}
		})
	}
	t.Run("negative control: no cookie settings", func(t *testing.T) {
		ck := stored(t, target+"/p/c/bare", "bare")
		if ck == nil || ck.Secure || ck.HTTPOnly || ck.SameSite != "" {
			t.Errorf("bare=1 through the plain route: stored %+v, want a cookie without Secure, HttpOnly or SameSite", ck)
		}
	})
}

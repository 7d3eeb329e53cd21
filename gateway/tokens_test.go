package gateway_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// tokenWorld adds a token-mode route /forms (with SPA support) and a key
// ring to the standard config.
func tokenWorld(t *testing.T) (*world, *running) {
	w := newWorld(t)
	cfg := w.config()
	cfg.Tokens = gateway.Tokens{
		KeyFile:       w.write("csrf.key", []byte(base64.StdEncoding.EncodeToString(csrf.GenerateKey())+"\n")),
		SessionCookie: "sid",
	}
	cfg.Routes = append(cfg.Routes, gateway.Route{
		Name: "forms", PathPrefix: "/forms", Upstream: w.upstream.URL,
		Allow: gateway.Allow{AnyVerified: true, Unauthenticated: true},
		CSRF:  gateway.RouteCSRF{Mode: csrf.ModeOriginAndToken, SPA: true},
	})
	return w, w.start(cfg)
}

// tokenFor renders a page through the gateway and returns the token the
// upstream was handed, with the cookies the gateway set.
func tokenFor(t *testing.T, gw *running, c *http.Client, cookies string) (string, []*http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("GET", gw.base+"/forms/page", nil)
	req.Header.Set("Sec-Fetch-Site", "none")
	if cookies != "" {
		req.Header.Set("Cookie", cookies)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	seen := mustJSON(t, string(body))
	tok := strings.Join(seen.Header[gateway.HeaderCSRFToken], ",")
	if tok == "" {
		t.Fatalf("upstream got no %s header", gateway.HeaderCSRFToken)
	}
	return tok, resp.Cookies()
}

func TestTokensForUpstreamForms(t *testing.T) {
	t.Parallel()
	w, gw := tokenWorld(t)
	web := gw.client(w.web)
	other := gw.client(pkitest.SPIFFE(t, w.ca, "spiffe://test.example/other"))

	certTok, _ := tokenFor(t, gw, web, "")
	sessTok, _ := tokenFor(t, gw, web, "sid=alice-session")
	tossedTok, _ := tokenFor(t, gw, other, "sid=tossed-session")

	form := func(tok string) string { return url.Values{"csrf_token": {tok}, "amount": {"10"}}.Encode() }
	formHeader := func(cookie string) http.Header {
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}, "Accept": {"application/json"}}
		if cookie != "" {
			h.Set("Cookie", cookie)
		}
		return h
	}
	tests := []struct {
		name       string
		client     *http.Client
		header     http.Header
		body       string
		wantStatus int
		wantReason string
	}{
		{"form with the token bound to the certificate", web, formHeader(""), form(certTok), 200, ""},
		{"form without a token", web, formHeader(""), "amount=10", 403, "token-missing"},
		{"token replayed by another certificate", other, formHeader(""), form(certTok), 403, "token-invalid"},
		{"token in the X-CSRF-Token header", web, func() http.Header { h := formHeader(""); h.Set("X-CSRF-Token", certTok); return h }(), "amount=10", 200, ""},
		{"token bound to the session", web, formHeader("sid=alice-session"), form(sessTok), 200, ""},
		{"session token with another session", web, formHeader("sid=mallory-session"), form(sessTok), 403, "token-invalid"},
		{"certificate token once a session exists", web, formHeader("sid=alice-session"), form(certTok), 403, "token-invalid"},
		// Cookie tossing: a sibling plants its own session cookie and mints a
		// token for it with its own client; the victim's certificate must
		// not make that token good.
		{"planted session's token with the victim's certificate", web, formHeader("sid=tossed-session"), form(tossedTok), 403, "token-invalid"},
		{"planted session's token with the client that minted it", other, formHeader("sid=tossed-session"), form(tossedTok), 200, ""},
		{"garbage token", web, formHeader(""), form("not-a-token"), 403, "token-invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.upstream.count()
			status, body := do(t, tt.client, "POST", gw.base+"/forms/submit", tt.header, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if reached := w.upstream.count() > before; reached != (tt.wantStatus == 200) {
				t.Errorf("upstream reached: got %v, want %v", reached, tt.wantStatus == 200)
			}
			if tt.wantReason != "" && !strings.Contains(body, `"reason":"`+tt.wantReason+`"`) {
				t.Errorf("got body %s, want reason %q", body, tt.wantReason)
			}
		})
	}
}

func TestTokensAnonymousPreSessionAndSPA(t *testing.T) {
	t.Parallel()
	_, gw := tokenWorld(t)
	anon := gw.client(nil)
	tok, cookies := tokenFor(t, gw, anon, "")
	var pre, spa string
	for _, c := range cookies {
		switch c.Name {
		case csrf.PreSessionCookie:
			pre = c.Name + "=" + c.Value
		case csrf.SPACookie:
			spa = c.Value
		}
	}
	if pre == "" || spa == "" {
		t.Fatalf("got cookies %v, want %s and %s", cookies, csrf.PreSessionCookie, csrf.SPACookie)
	}
	tests := []struct {
		name       string
		header     http.Header
		body       string
		wantStatus int
	}{
		{"form token with the pre-session cookie", http.Header{"Cookie": {pre}}, "csrf_token=" + tok, 200},
		{"form token without the pre-session cookie", nil, "csrf_token=" + tok, 403},
		{"SPA header echoing the cookie", http.Header{"Cookie": {pre + "; XSRF-TOKEN=" + spa}, csrf.SPAHeader: {spa}}, "", 200},
		{"SPA header missing", http.Header{"Cookie": {pre + "; XSRF-TOKEN=" + spa}}, "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}}
			for k, v := range tt.header {
				h[k] = v
			}
			if status, body := do(t, anon, "POST", gw.base+"/forms/x", h, tt.body); status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
		})
	}
}

// A same-origin form refused for its missing token is told, in JSON and
// in text, that the page did not include the token and where the app
// finds it; it is not called cross-site (issue 12). Its twin, a
// cross-site form, is; the form with its token passes.
func TestTokenMissingRefusalText(t *testing.T) {
	t.Parallel()
	w, gw := tokenWorld(t)
	web := gw.client(w.web)
	tok, _ := tokenFor(t, gw, web, "")
	tests := []struct {
		name, site, body string
		wantStatus       int
		want, notWant    []string
	}{
		{"same-origin form without its token", "same-origin", "amount=10", 403,
			[]string{"token-missing", "did not include", gateway.HeaderCSRFToken, "csrf_token", "origin-only"}, []string{"cross-site", "forgery"}},
		{"cross-site form (the twin)", "cross-site", "amount=10", 403,
			[]string{"reason: cross-site", "cross-site request forgery"}, []string{gateway.HeaderCSRFToken}},
		{"same-origin form with its token (allowed)", "same-origin", "amount=10&csrf_token=" + url.QueryEscape(tok), 200, nil, nil},
	}
	for _, tt := range tests {
		for _, accept := range []string{"text/html", "application/json"} {
			t.Run(tt.name+", "+accept, func(t *testing.T) {
				h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {tt.site}, "Accept": {accept}}
				status, body := do(t, web, "POST", gw.base+"/forms/submit", h, tt.body)
				if status != tt.wantStatus {
					t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
				}
				if status == 200 {
					return
				}
				if accept == "application/json" {
					body = strings.ReplaceAll(body, `"reason":"`, "reason: ")
				}
				for _, s := range tt.want {
					if !strings.Contains(body, s) {
						t.Errorf("got %s, want %q in it", body, s)
					}
				}
				for _, s := range tt.notWant {
					if strings.Contains(body, s) {
						t.Errorf("got %s, want no %q in it", body, s)
					}
				}
			})
		}
	}
}

// TestHostPrefixSessionBinding: with tokens.session-cookie: sid and a
// route's cookies.host-prefix: sid (the setup config loading accepts; the
// client's __Host-sid name is refused: TestValidate), the gateway binds
// tokens to the session the client holds as __Host-sid: a token minted
// under one session is refused under another, and a tossed bare sid
// changes nothing. Negative control: the route without host-prefix, where
// __Host-sid is not the session cookie, binds to the certificate only and
// takes the token under another session.
func TestHostPrefixSessionBinding(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.Tokens = gateway.Tokens{
		KeyFile:       w.write("csrf.key", []byte(base64.StdEncoding.EncodeToString(csrf.GenerateKey())+"\n")),
		SessionCookie: "sid",
	}
	for _, r := range []struct {
		prefix  string
		cookies gateway.Cookies
	}{{"/prefixed", gateway.Cookies{HostPrefix: "sid"}}, {"/plain", gateway.Cookies{}}} {
		cfg.Routes = append(cfg.Routes, gateway.Route{
			Name: strings.TrimPrefix(r.prefix, "/"), PathPrefix: r.prefix, Upstream: w.upstream.URL,
			Allow: gateway.Allow{AnyVerified: true}, CSRF: gateway.RouteCSRF{Mode: csrf.ModeOriginAndToken},
			Cookies: r.cookies,
		})
	}
	gw := w.start(cfg)
	web := gw.client(w.web)
	mint := func(prefix, cookie string) string {
		t.Helper()
		_, body := do(t, web, "GET", gw.base+prefix+"/page", http.Header{"Sec-Fetch-Site": {"none"}, "Cookie": {cookie}}, "")
		tok := strings.Join(mustJSON(t, body).Header[gateway.HeaderCSRFToken], ",")
		if tok == "" {
			t.Fatalf("upstream got no %s header", gateway.HeaderCSRFToken)
		}
		return tok
	}
	prefixedTok := mint("/prefixed", "__Host-sid=alice")
	plainTok := mint("/plain", "__Host-sid=alice")
	for _, tt := range []struct {
		name, prefix, tok, cookie string
		want                      int
	}{
		{"same session", "/prefixed", prefixedTok, "__Host-sid=alice", 200},
		{"another session", "/prefixed", prefixedTok, "__Host-sid=mallory", 403},
		{"no session", "/prefixed", prefixedTok, "", 403},
		{"tossed bare copy beside the session", "/prefixed", prefixedTok, "sid=mallory; __Host-sid=alice", 200},
		{"tossed bare copy alone", "/prefixed", prefixedTok, "sid=alice", 403},
		{"negative control: no host-prefix, another session", "/plain", plainTok, "__Host-sid=mallory", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}, "Accept": {"application/json"}}
			if tt.cookie != "" {
				h.Set("Cookie", tt.cookie)
			}
			status, body := do(t, web, "POST", gw.base+tt.prefix+"/submit", h, url.Values{"csrf_token": {tt.tok}}.Encode())
			if status != tt.want {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.want, body)
			}
			if tt.want == 403 && !strings.Contains(body, `"reason":"token-invalid"`) {
				t.Errorf("got body %s, want reason token-invalid", body)
			}
		})
	}
}

package csrf_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// A guest token is never accepted on a request with a session: the kind
// of binding a token is checked against comes from the request (the
// binding function's answer), never from the token, so a pre-session
// token, valid for the pre-session cookie the browser still sends after
// login, fails once the binding function reports a session (gurenjs/guren
// #307 chose the kind from the token and accepted guest tokens on
// logged-in requests). Twin: the same token and cookie without a session
// pass. Negative control: the session's own token on the same request.
func TestPreSessionTokenRefusedOnSessionRequest(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	pre := strings.Repeat("v", 32)
	other := strings.Repeat("m", 32)
	mintPre := func(value string) string {
		r := request("GET", app+"/", "Cookie", csrf.PreSessionCookie+"="+value)
		tok, err := p.Token(r)
		must(t, err)
		return tok
	}
	guest, mallorys := mintPre(pre), mintPre(other)
	aliceTok := mintFor(t, p, "alice")
	for _, tt := range []struct {
		name, session, tok string
		want               csrf.Reason
	}{
		{"pre-session token, no session", "", guest, ""},
		{"pre-session token, session", "alice", guest, csrf.ReasonTokenInvalid},
		{"another pre-session's token, no session", "", mallorys, csrf.ReasonTokenInvalid},
		{"negative control: the session's token", "alice", aliceTok, ""},
	} {
		h := []string{"Cookie", csrf.PreSessionCookie + "=" + pre, csrf.HeaderName, tt.tok}
		if tt.session != "" {
			h = append(h, "X-Test-Session", tt.session)
		}
		if got := reasonOf(p.Check(request("POST", app+"/", h...))); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestTokenPlacePrecedence: of the places a token may be in, the first
// that holds one (X-CSRF-Token, then X-XSRF-TOKEN with SPA on, then the
// csrf_token field of the body) is the only one checked: a bad token
// there is refused even when a later place holds a good one, and a good
// one passes whatever the later places hold. The query string is never
// read, parsed or not (a token there would leak in Referer and logs).
func TestTokenPlacePrecedence(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	p.SetSPA(true)
	good := mintFor(t, p, "alice")
	bad := flip(good, 50)
	form := func(tok string) string { return url.Values{csrf.FormField: {tok}}.Encode() }
	for _, tt := range []struct {
		name, target, header, spa, body string
		want                            csrf.Reason
		wantWhere                       string
	}{
		{"negative control: form alone", "/", "", "", form(good), "", ""},
		{"good header, bad form", "/", good, "", form(bad), "", ""},
		{"bad header, good form", "/", bad, "", form(good), csrf.ReasonTokenInvalid, csrf.HeaderName},
		{"good header, bad SPA header", "/", good, bad, "", "", ""},
		{"bad header, good SPA header", "/", bad, good, "", csrf.ReasonTokenInvalid, csrf.HeaderName},
		{"bad SPA header, good form", "/", "", bad, form(good), csrf.ReasonTokenInvalid, csrf.SPAHeader},
		{"good token in the query, none in the body", "/?" + form(good), "", "", "amount=1", csrf.ReasonTokenMissing, ""},
		{"good token in the query, no body", "/?" + form(good), "", "", "", csrf.ReasonTokenMissing, ""},
	} {
		h := []string{"X-Test-Session", "alice", "Content-Type", "application/x-www-form-urlencoded"}
		if tt.header != "" {
			h = append(h, csrf.HeaderName, tt.header)
		}
		if tt.spa != "" {
			h = append(h, csrf.SPAHeader, tt.spa)
		}
		r := request("POST", app+tt.target, h...)
		r.Body = io.NopCloser(strings.NewReader(tt.body))
		err := p.Check(r)
		if got := reasonOf(err); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
			continue
		}
		var e *csrf.Error
		if errors.As(err, &e) && e.Reason == csrf.ReasonTokenInvalid && e.Header != tt.wantWhere {
			t.Errorf("%s: refused for %q, want %q", tt.name, e.Header, tt.wantWhere)
		}
	}
}

// TestPreSessionCookieOnlyUnderHostPrefix: a sibling subdomain can set a
// cookie for the parent domain under any name but a "__Host-" one, so
// the pre-session value is read from the exact "__Host-forgeproof-csrf"
// name only: a token minted for a value that arrives under another
// spelling (the development name, another case that a browser matching
// prefixes case-sensitively would let a sibling set, "__Secure-") has no
// binding. The development name is read only on plain-HTTP localhost
// with SetInsecureLocalhostHTTP on (the negative control), never over
// HTTPS or on another host.
func TestPreSessionCookieOnlyUnderHostPrefix(t *testing.T) {
	p := csrf.New()
	must(t, p.SetMode(csrf.ModeOriginAndToken))
	p.SetKeyRing(testRing(t))
	p.SetInsecureLocalhostHTTP(true)
	v := strings.Repeat("f", 32)
	mint := func(target, cookie string) string {
		tok, err := p.Token(request("GET", target, "Cookie", cookie))
		must(t, err)
		return tok
	}
	tok := mint(app+"/", csrf.PreSessionCookie+"="+v)
	const local = "http://localhost:8080"
	for _, tt := range []struct {
		name, target, cookie, tok string
		want                      csrf.Reason
	}{
		{"__Host- name", app + "/", csrf.PreSessionCookie + "=" + v, tok, ""},
		{"development name over HTTPS", app + "/", "forgeproof-csrf=" + v, tok, csrf.ReasonBindingUnavailable},
		{"lower-case prefix", app + "/", strings.ToLower(csrf.PreSessionCookie) + "=" + v, tok, csrf.ReasonBindingUnavailable},
		{"__Secure- prefix", app + "/", "__Secure-forgeproof-csrf=" + v, tok, csrf.ReasonBindingUnavailable},
		{"unprefixed copy first, __Host- second", app + "/", "forgeproof-csrf=" + strings.Repeat("m", 32) + "; " + csrf.PreSessionCookie + "=" + v, tok, ""},
		{"negative control: development name on plain-HTTP localhost", local + "/", "forgeproof-csrf=" + v, mint(local+"/", "forgeproof-csrf="+v), ""},
	} {
		r := request("POST", tt.target, "Sec-Fetch-Site", "same-origin", "Cookie", tt.cookie, csrf.HeaderName, tt.tok)
		if strings.HasPrefix(tt.target, "http:") {
			r.TLS = nil
		}
		if got := reasonOf(p.Check(r)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestBindingKindsNeedPrefixes pins the advice in SetBinding's doc: a
// binding function that returns a session cookie's value for some
// requests and a certificate's key hash for others must keep the two
// apart. A client chooses its own cookie's value, and another user's
// certificate, so its key hash, is no secret: with bare values, a client
// holding no session but "sid=<victim's key hash>" gets a token that
// verifies for the victim's certificate (the negative control, a hazard of
// the caller's function, not of the token format); prefixed as the gateway
// prefixes them, it fails. Twin: the victim's own token passes.
func TestBindingKindsNeedPrefixes(t *testing.T) {
	// X-Test-Cert stands in for the verified certificate's key hash, in
	// the hex an application might log or compare it in.
	victimKey := strings.Repeat("ab", 32)
	bare := func(r *http.Request) ([]byte, error) {
		if c, err := r.Cookie("sid"); err == nil {
			return []byte(c.Value), nil
		}
		if v := r.Header.Get("X-Test-Cert"); v != "" {
			return []byte(v), nil
		}
		return nil, nil
	}
	prefixed := func(r *http.Request) ([]byte, error) {
		if c, err := r.Cookie("sid"); err == nil {
			return []byte("session:" + c.Value), nil
		}
		if v := r.Header.Get("X-Test-Cert"); v != "" {
			return []byte("spki-sha256:" + v), nil
		}
		return nil, nil
	}
	for _, tt := range []struct {
		name    string
		binding func(*http.Request) ([]byte, error)
		mintH   []string
		want    csrf.Reason
	}{
		{"prefixed: the victim's own token", prefixed, []string{"X-Test-Cert", victimKey}, ""},
		{"prefixed: a cookie spelled as the victim's key", prefixed, []string{"Cookie", "sid=" + victimKey}, csrf.ReasonTokenInvalid},
		{"negative control, bare: a cookie spelled as the victim's key", bare, []string{"Cookie", "sid=" + victimKey}, ""},
	} {
		p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
		p.SetBinding(tt.binding)
		tok, err := p.Token(request("GET", app+"/", tt.mintH...))
		must(t, err)
		victim := request("POST", app+"/", "X-Test-Cert", victimKey, csrf.HeaderName, tok)
		if got := reasonOf(p.Check(victim)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

package csrf

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
)

// Names of the cookies, header and form field. The token header and form
// field are what a non-Go upstream embeds in its pages and forms.
const (
	// HeaderName carries a token on requests (and, from the gateway, to the
	// upstream).
	HeaderName = "X-CSRF-Token"
	// FormField is the form field a token is read from.
	FormField = "csrf_token"
	// PreSessionCookie holds the random value tokens are bound to when
	// the binding function reports no session (login forms, anonymous
	// visitors): Secure, HttpOnly, Path=/, SameSite=Lax, no Domain, no
	// Max-Age (it ends with the browser session).
	PreSessionCookie = "__Host-forgeproof-csrf"
	// SPACookie holds a token that JavaScript reads and echoes in
	// SPAHeader (see [Protection.SetSPA]). It is not HttpOnly, by design;
	// it is Secure, Path=/, SameSite=Lax, with no Domain. It keeps the
	// name frameworks look for rather than a "__Host-" prefix: a token is
	// bound to the session, so a cookie planted by a sibling subdomain
	// carries a token that fails for the victim.
	SPACookie = "XSRF-TOKEN"
	// SPAHeader is the header a single-page application echoes the
	// SPACookie token in.
	SPAHeader = "X-XSRF-TOKEN"

	// devPreSessionCookie replaces PreSessionCookie on plain-HTTP
	// localhost when SetInsecureLocalhostHTTP is on.
	devPreSessionCookie = "forgeproof-csrf"
)

// A pre-session value is preSessionRandom random bytes, and its cookie
// their preSessionLen characters of unpadded base64url. Tokens are bound
// to those characters, as sent: no decoding per request, and a 32-byte
// binding keeps a token's MAC input in one SHA-256 block. 192 bits are
// far beyond guessing.
const (
	preSessionRandom = 24
	preSessionLen    = preSessionRandom * 4 / 3
)

// ErrNoKeys is returned by Token when no key ring is set.
var ErrNoKeys = errors.New("csrf: no key ring set: tokens are off")

var errNoPreSession = errors.New("no pre-session cookie: the request did not pass through Protection.Handler and has no " + PreSessionCookie + " cookie")

// answer is the binding function's answer for a request, kept so the
// function is called once per request: a session lookup may cost.
type answer struct {
	called  bool
	session []byte
	err     error
}

// requestState is what deciding on one request has learned so far: the
// binding function's answer and the pre-session value, once read.
type requestState struct {
	bind          answer
	preSession    [preSessionLen]byte
	hasPreSession bool
}

// answerKey names the answer of one Protection's binding function: with
// two Protections in a chain, each has its own.
type answerKey struct{ p *Protection }

// answerContext carries the binding function's answer from p's Handler to
// p's Token, TemplateField and Rotate.
type answerContext struct {
	context.Context
	p    *Protection
	bind answer
}

func (c *answerContext) Value(key any) any {
	if key == (answerKey{c.p}) {
		return &c.bind
	}
	return c.Context.Value(key)
}

// stateFrom returns a state holding the answer of p's binding function
// when p's Handler passed one on with r.
func (p *Protection) stateFrom(r *http.Request) requestState {
	var st requestState
	if a, ok := r.Context().Value(answerKey{p}).(*answer); ok {
		st.bind = *a
	}
	return st
}

// callBinding asks the binding function, unless st holds its answer.
func (c *config) callBinding(r *http.Request, st *requestState) {
	if c.binding != nil && !st.bind.called {
		st.bind.session, st.bind.err = c.binding(r)
		st.bind.called = true
	}
}

// bindingFor returns the value r's tokens are bound to and its kind: the
// session the binding function reports, else the pre-session value from
// st, or else from r's cookie, which is then kept in st. The value
// returned may point into st.
func (c *config) bindingFor(r *http.Request, st *requestState) (byte, []byte, error) {
	c.callBinding(r, st)
	if st.bind.err != nil {
		return 0, nil, st.bind.err
	}
	if len(st.bind.session) > 0 {
		return kindSession, st.bind.session, nil
	}
	if !st.hasPreSession {
		st.hasPreSession = c.readPreSession(r, &st.preSession)
	}
	if st.hasPreSession {
		return kindPreSession, st.preSession[:], nil
	}
	return 0, nil, errNoPreSession
}

// devCookies is small enough to inline, so that the usual answer (off, or
// TLS) costs no call on the token path.
func (c *config) devCookies(r *http.Request) bool {
	return c.insecureLocalhostHTTP && r.TLS == nil && isLocalhost(r.Host)
}

// isLocalhost reports whether a Host header names localhost, 127.0.0.1 or
// ::1, with or without a port.
func isLocalhost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if host == "[::1]" {
		host = "::1" // http://[::1]/ has no port to split off
	}
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func (c *config) preSessionName(r *http.Request) string {
	if c.devCookies(r) {
		return devPreSessionCookie
	}
	return PreSessionCookie
}

// readPreSession copies r's pre-session cookie into dst and reports
// whether it holds a valid one: preSessionLen characters of base64url. dst
// is left alone when not.
func (c *config) readPreSession(r *http.Request, dst *[preSessionLen]byte) bool {
	v, cls, ok := cookieClass(r, c.preSessionName(r))
	if !ok || len(v) != preSessionLen || cls&isBase64URL == 0 {
		return false
	}
	copy(dst[:], v)
	return true
}

// setPreSession makes a new pre-session value in dst, sets its cookie on
// w, and returns the cookie as r's Cookie header would carry it.
func (c *config) setPreSession(w http.ResponseWriter, r *http.Request, dst *[preSessionLen]byte) (pair string) {
	var random [preSessionRandom]byte
	rand.Read(random[:])
	base64.RawURLEncoding.Encode(dst[:], random[:])
	ck := &http.Cookie{
		Name:     c.preSessionName(r),
		Value:    string(dst[:]),
		Path:     "/",
		Secure:   !c.devCookies(r),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	http.SetCookie(w, ck)
	return ck.Name + "=" + ck.Value
}

// putCookieFirst puts the cookie pair ("name=value") before every other
// cookie in h's Cookie header, where [cookie] and (*http.Request).Cookie
// look first. The header's slice is replaced, not written to.
func putCookieFirst(h http.Header, pair string) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		h["Cookie"] = []string{pair}
		return
	}
	first := make([]string, len(lines))
	copy(first, lines)
	first[0] = pair + "; " + lines[0]
	h["Cookie"] = first
}

func (c *config) setSPACookie(w http.ResponseWriter, r *http.Request, tok string) {
	http.SetCookie(w, &http.Cookie{
		Name:     SPACookie,
		Value:    tok,
		Path:     "/",
		Secure:   !c.devCookies(r),
		SameSite: http.SameSiteLaxMode,
	})
}

// Token returns a fresh masked token for r: a different string on every
// call, each valid for r's binding until the key that signed it leaves the
// key ring. Put it in forms (field csrf_token) or the X-CSRF-Token header.
// It returns [ErrNoKeys] when tokens are off, and an error when r has no
// binding (the binding function failed, or r has no pre-session cookie and
// did not pass through Handler).
func (p *Protection) Token(r *http.Request) (string, error) {
	var enc [TokenLength]byte
	if err := p.mintTo(&enc, r); err != nil {
		return "", err
	}
	return string(enc[:]), nil
}

// mintTo is Token writing into dst.
func (p *Protection) mintTo(dst *[TokenLength]byte, r *http.Request) error {
	c := p.load()
	if c.keys == nil {
		return ErrNoKeys
	}
	st := p.stateFrom(r)
	kind, v, err := c.bindingFor(r, &st)
	if err != nil {
		return fmt.Errorf("csrf: cannot mint a token: %w", err)
	}
	c.keys.mintTo(dst, kind, v)
	return nil
}

// TemplateField returns a hidden form field holding a fresh token, for
// html/template:
//
//	tmpl.Funcs(template.FuncMap{"csrfField": func() (template.HTML, error) { return p.TemplateField(r) }})
//	<form method="post">{{csrfField}} …</form>
//
// Its error is that of Token.
func (p *Protection) TemplateField(r *http.Request) (template.HTML, error) {
	const before, after = `<input type="hidden" name="` + FormField + `" value="`, `">`
	var field [len(before) + TokenLength + len(after)]byte
	copy(field[:], before)
	if err := p.mintTo((*[TokenLength]byte)(field[len(before):]), r); err != nil {
		return "", err
	}
	copy(field[len(before)+TokenLength:], after)
	// The token is base64url: no character needs escaping in an attribute.
	return template.HTML(field[:]), nil
}

// Rotate sets a new pre-session cookie on w, so every token bound to the
// old one stops working; call it when a user logs in or out, inside Handler
// and before writing the response. It also puts the new cookie first in
// r's Cookie header, as the browser will send it from now on, so tokens
// from Token(r) after Rotate use the new value (and the SPA cookie, when
// on, is replaced); do not use r from other goroutines meanwhile. When the
// binding function reports a session, rotating that session (a new session
// ID at login) is the caller's part; Token(r) after Rotate asks the
// function again rather than reuse the answer Handler got before the
// login or logout. Like Handler, it adds "Cache-Control: no-store" unless
// w has a Cache-Control already. It returns an error, and changes
// nothing, when no key ring is set.
func (p *Protection) Rotate(w http.ResponseWriter, r *http.Request) error {
	c := p.load()
	if c.keys == nil {
		return errors.New("csrf: Rotate needs a key ring set")
	}
	if a, ok := r.Context().Value(answerKey{p}).(*answer); ok {
		// The session it reports is the one before the login or logout.
		// Written in place: r is not shared with other goroutines now.
		*a = answer{}
	}
	var pre [preSessionLen]byte
	pair := c.setPreSession(w, r, &pre)
	noStore(w)
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	putCookieFirst(r.Header, pair)
	if c.spa {
		st := p.stateFrom(r)
		if kind, v, err := c.bindingFor(r, &st); err == nil {
			c.setSPACookie(w, r, c.keys.mint(kind, v))
		}
	}
	return nil
}

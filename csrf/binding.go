package csrf

import (
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
	preSessionSize      = 32
)

// ErrNoKeys is returned by Token when no key ring is set.
var ErrNoKeys = errors.New("csrf: no key ring set: tokens are off")

var errNoPreSession = errors.New("no pre-session cookie: the request did not pass through Protection.Handler and has no " + PreSessionCookie + " cookie")

// requestState is what Handler stores in the request context for Token,
// TemplateField and Rotate: the pre-session value the response carries
// when it differs from the request's cookie.
type requestState struct {
	preSession []byte
}

type stateKey struct{}

func stateFrom(r *http.Request) *requestState {
	st, _ := r.Context().Value(stateKey{}).(*requestState)
	return st
}

// bindingFor returns the value r's tokens are bound to and its kind.
func (c *config) bindingFor(r *http.Request, st *requestState) (byte, []byte, error) {
	if c.binding != nil {
		v, err := c.binding(r)
		if err != nil {
			return 0, nil, err
		}
		if len(v) > 0 {
			return kindSession, v, nil
		}
	}
	if st != nil && st.preSession != nil {
		return kindPreSession, st.preSession, nil
	}
	if v, ok := c.readPreSession(r); ok {
		return kindPreSession, v, nil
	}
	return 0, nil, errNoPreSession
}

func (c *config) devCookies(r *http.Request) bool {
	if !c.insecureLocalhostHTTP || r.TLS != nil {
		return false
	}
	host := r.Host
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

func (c *config) readPreSession(r *http.Request) ([]byte, bool) {
	ck, err := r.Cookie(c.preSessionName(r))
	if err != nil {
		return nil, false
	}
	v, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(v) != preSessionSize {
		return nil, false
	}
	return v, true
}

// setPreSession makes a new pre-session value, sets its cookie on w and
// returns it.
func (c *config) setPreSession(w http.ResponseWriter, r *http.Request) []byte {
	v := make([]byte, preSessionSize)
	rand.Read(v)
	http.SetCookie(w, &http.Cookie{
		Name:     c.preSessionName(r),
		Value:    base64.RawURLEncoding.EncodeToString(v),
		Path:     "/",
		Secure:   !c.devCookies(r),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return v
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
	c := p.load()
	if c.keys == nil {
		return "", ErrNoKeys
	}
	kind, v, err := c.bindingFor(r, stateFrom(r))
	if err != nil {
		return "", fmt.Errorf("csrf: cannot mint a token: %w", err)
	}
	return c.keys.mint(kind, v), nil
}

// TemplateField returns a hidden form field holding a fresh token, for
// html/template:
//
//	tmpl.Funcs(template.FuncMap{"csrfField": func() (template.HTML, error) { return p.TemplateField(r) }})
//	<form method="post">{{csrfField}} …</form>
//
// Its error is that of Token.
func (p *Protection) TemplateField(r *http.Request) (template.HTML, error) {
	tok, err := p.Token(r)
	if err != nil {
		return "", err
	}
	// The token is base64url: no character needs escaping in an attribute.
	return template.HTML(`<input type="hidden" name="` + FormField + `" value="` + tok + `">`), nil
}

// Rotate sets a new pre-session cookie on w, so every token bound to the
// old one stops working; call it when a user logs in or out, inside Handler
// and before writing the response. Tokens from Token(r) after Rotate use the
// new value (and the SPA cookie, when on, is replaced). When the binding
// function reports a session, rotating that session (a new session ID at
// login) is the caller's part.
func (p *Protection) Rotate(w http.ResponseWriter, r *http.Request) error {
	c := p.load()
	st := stateFrom(r)
	if st == nil || c.keys == nil {
		return errors.New("csrf: Rotate needs a request that passed through Protection.Handler with a key ring set")
	}
	st.preSession = c.setPreSession(w, r)
	if c.spa {
		if kind, v, err := c.bindingFor(r, st); err == nil {
			c.setSPACookie(w, r, c.keys.mint(kind, v))
		}
	}
	return nil
}

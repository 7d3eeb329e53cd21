package gateway

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/forgeproof/forgeproof/internal/ascii"
	"github.com/forgeproof/forgeproof/internal/setcookie"
)

// Cookie hardening (Route.Cookies): the gateway adds the attributes an
// application forgot to the cookies it sets, as nginx's proxy_cookie_flags
// does, and can move a session cookie under the __Host- prefix.
//
// The Set-Cookie line is rewritten as text: attributes are appended or
// removed, everything else the upstream wrote (unknown attributes,
// Partitioned, Priority, the value's exact bytes) stays. Browsers use the
// last occurrence of an attribute (RFC 6265bis, section 5.7), and so does
// net/http's ParseSetCookie, so an appended SameSite wins over an earlier
// one; the gateway only ever appends a stricter one.
//
// The gateway reads attribute names and values as browsers do
// (internal/setcookie): without case in ASCII only (Go's Unicode
// lower-casing makes "SameS\u0130te" and "Str\u0130ct" read as "samesite"
// and "strict", which Chromium and net/http do not), and an attribute
// whose value is over setcookie.MaxAttributeValue bytes as absent
// (Chromium ignores "Secure=" followed by 1025 bytes:
// TestCookieHardeningInBrowser).

// HostPrefix is the cookie-name prefix browsers accept only on cookies
// with Secure, Path=/ and no Domain (RFC 6265bis, section 4.1.3.2): no
// other host, not even a sibling subdomain, can set or overwrite them.
const HostPrefix = "__Host-"

// SameSite is Cookies.SameSite: the SameSite attribute the gateway adds
// to cookies without a valid one. It reads itself from "lax", "strict"
// or "off", in any case, and writes itself in lower case. The zero value
// adds none, like SameSiteOff; a config file's cookies mapping without
// same-site gets SameSiteLax.
type SameSite int

// Values of Cookies.SameSite.
const (
	SameSiteLax SameSite = iota + 1
	SameSiteStrict
	SameSiteOff
)

var sameSites = [...]string{"", "lax", "strict", "off"}

// MarshalText returns s's name, "" for the zero value; it fails for a
// value that is none of the constants.
func (s SameSite) MarshalText() ([]byte, error) {
	return enumText(sameSites[:], s, "SameSite value")
}

// UnmarshalText sets s from its name. "none" is refused: it would weaken
// the upstream's cookies.
func (s *SameSite) UnmarshalText(text []byte) error {
	v := strings.ToLower(string(text))
	if i := enumIndex(sameSites[:], v); i >= 0 {
		*s = SameSite(i)
		return nil
	}
	if v == "none" {
		return fmt.Errorf("%q would weaken the upstream's cookies: want lax, strict or off", text)
	}
	return fmt.Errorf("unknown value %q: want lax, strict or off", text)
}

// sameSiteRank orders SameSite values by strength. An absent or
// unrecognised attribute ranks with None: Firefox and Safari treat such a
// cookie as None, and Chromium sends it on cross-site POSTs for two
// minutes after it is set.
func sameSiteRank(v string) int {
	switch {
	case ascii.EqualFold(v, "lax"):
		return 2
	case ascii.EqualFold(v, "strict"):
		return 3
	}
	return 0
}

// cookieRules is a route's compiled Cookies.
type cookieRules struct {
	secure   bool
	httpOnly bool
	// sameSite is the attribute added ("Lax" or "Strict"), "" for none.
	sameSite string
	// overrideSameSite raises a weaker SameSite the upstream set.
	overrideSameSite bool
	// hostPrefix is the upstream's name of the cookie the client sees as
	// HostPrefix+hostPrefix; "" for none.
	hostPrefix string
}

// p.cookies compiles a route's Cookies; nil when it changes nothing.
func (p *compiler) cookies(key string, c Cookies) *cookieRules {
	r := &cookieRules{secure: c.Secure, httpOnly: c.HTTPOnly, overrideSameSite: c.OverrideSameSite}
	switch c.SameSite {
	case 0, SameSiteOff:
	case SameSiteLax:
		r.sameSite = "Lax"
	case SameSiteStrict:
		r.sameSite = "Strict"
	default: // a Config built in Go: files are checked as they are decoded
		_, err := c.SameSite.MarshalText()
		p.add(key+".same-site", "%v", err)
	}
	if c.OverrideSameSite && r.sameSite == "" {
		p.add(key+".override-same-site", "needs same-site lax or strict: the value that replaces a weaker one")
	}
	if n := c.HostPrefix; n != "" {
		switch {
		case !validCookieName(n):
			p.add(key+".host-prefix", "invalid cookie name %q", n)
		case strings.HasPrefix(strings.ToLower(n), "__host-") || strings.HasPrefix(strings.ToLower(n), "__secure-"):
			p.add(key+".host-prefix", "%q already has a prefix: name the cookie as the upstream sets it", n)
		}
		r.hostPrefix = n
	}
	if !r.secure && !r.httpOnly && r.sameSite == "" && r.hostPrefix == "" {
		return nil
	}
	return r
}

// sessionCookieSeen refuses a tokens.session-cookie that a route with
// host-prefix never passes to the CSRF check: the client's __Host-NAME
// reaches it renamed to NAME (rewriteRequest, which runs first), and every
// other spelling of either is dropped. Tokens there would be bound to no
// session, silently: an error, not a warning, as the setting cannot do
// what it says on this route.
func (p *compiler) sessionCookieSeen(key, hostPrefix string) {
	sc := p.cfg.Tokens.SessionCookie
	if hostPrefix == "" || sc == "" || sc == hostPrefix {
		return
	}
	if k := cookieNameKey(sc); k == cookieNameKey(hostPrefix) || k == cookieNameKey(HostPrefix+hostPrefix) {
		p.add(key, "tokens.session-cookie %q never reaches the CSRF check on this route: the gateway passes the client's %s%s on as %q and drops other spellings, so tokens would be bound to no session (set tokens.session-cookie: %s)",
			sc, HostPrefix, hostPrefix, hostPrefix, hostPrefix)
	}
}

// validCookieName reports whether s is a cookie name (an RFC 7230 token).
func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// rewriteResponse hardens every Set-Cookie header of an upstream
// response.
func (r *cookieRules) rewriteResponse(h http.Header) {
	lines := h["Set-Cookie"]
	if len(lines) == 0 {
		return
	}
	// The paths of the host-prefix name's lines, read once, and the
	// session's: that of its last line with a value (otherCopy). Only an
	// answer with several lines can hold another copy.
	var paths []string
	var sessionPath string
	session := false
	if r.hostPrefix != "" && len(lines) > 1 {
		paths = make([]string, len(lines))
		for i, l := range lines {
			nameValue, name := setcookie.Split(l)
			if name != r.hostPrefix {
				continue
			}
			paths[i] = setcookie.Read(l).Path
			if _, v, _ := strings.Cut(nameValue, "="); setcookie.TrimWS(v) != "" {
				sessionPath, session = paths[i], true
			}
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = r.rewriteSetCookie(l, session && paths[i] != sessionPath)
	}
	h["Set-Cookie"] = out
}

// dropTrailerCookies takes every Set-Cookie out of an upstream answer's
// trailer, on a route that hardens cookies: its announcement in
// resp.Trailer now, before a proxy announces the trailer to the client,
// and its values when the body's end fills resp.Trailer in (a chunked
// HTTP/1.1 answer's and any HTTP/2 answer's may carry fields it did not
// announce). Dropped rather than hardened, as a 1xx's (recorder's
// WriteHeader): browsers do not act on trailer fields, so only other
// clients would get them, unhardened; an upstream sets its cookies in the
// answer's header, which rewriteResponse hardens. Both proxies
// (ReverseProxy and the direct path) read resp.Trailer only after
// closing the body, and relay undeclared fields under http.TrailerPrefix,
// declared ones by adding them to the answer's header map, where a
// Set-Cookie would join the final answer's own (already sent) under the
// same name.
func dropTrailerCookies(resp *http.Response) {
	deleteSetCookie(resp.Trailer)
	if resp.StatusCode == http.StatusSwitchingProtocols || resp.Body == nil || resp.Body == http.NoBody ||
		resp.ProtoMajor < 2 && resp.ContentLength >= 0 {
		// A 101's body is the connection (ReverseProxy needs it
		// writable); an HTTP/1.x body of known length has no trailer.
		return
	}
	resp.Body = &trailerCookieFilter{ReadCloser: resp.Body, resp: resp}
}

// trailerCookieFilter is an answer's body that deletes Set-Cookie from
// the answer's trailer once the body has filled it in: at the end of the
// body (net/http's HTTP/1 and HTTP/2 readers fill it in before their
// Read returns io.EOF), and after Close.
type trailerCookieFilter struct {
	io.ReadCloser
	resp *http.Response
}

func (b *trailerCookieFilter) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		deleteSetCookie(b.resp.Trailer)
	}
	return n, err
}

func (b *trailerCookieFilter) Close() error {
	err := b.ReadCloser.Close()
	deleteSetCookie(b.resp.Trailer)
	return err
}

// deleteSetCookie deletes Set-Cookie from h under any spelling.
func deleteSetCookie(h http.Header) {
	for k := range h {
		if ascii.EqualFold(k, "Set-Cookie") {
			delete(h, k)
		}
	}
}

// rewriteSetCookie returns line with the rules' attributes added. It
// never removes an attribute the upstream set except, on the cookie moved
// under HostPrefix, Domain and Path, which that prefix forbids (Path
// becomes "/").
//
// Every line for the host-prefix name moves under HostPrefix, whatever
// its Path: an app mounted under a path (a servlet context) sets and
// deletes its session with that Path, and a line left under the bare
// name would never come back (rewriteRequest drops the bare name): a
// login loop, or a logout that leaves the session. The one exception,
// otherCopy: in an answer that also sets the name with a value, a line
// for it under another Path (an old-path copy the upstream deletes while
// it sets the session) is for another copy and keeps its name; moved,
// it would overwrite or delete the session just set. A deletion of an
// old-path copy in an answer of its own still moves, and logs the user
// out: that fails closed.
func (r *cookieRules) rewriteSetCookie(line string, otherCopy bool) string {
	nameValue, name := setcookie.Split(line)
	_, _, hasEq := strings.Cut(nameValue, "=")
	// What the upstream set, read as a browser (and net/http) reads it:
	// the last occurrence of an attribute wins.
	var secure, httpOnly, hasSameSite bool
	sameSite := ""
	// best is the strongest SameSite of any occurrence, quotes removed:
	// net/http skips a value it cannot parse and keeps an earlier one,
	// and unquotes; browsers take the last one as written. An added
	// SameSite is never weaker than best, so that it weakens the cookie
	// for neither reader.
	best := 0
	// net/http trims the attribute, not the name before '=' nor the
	// value after it (setcookie.Attributes); browsers trim both. An
	// attribute counts as set only when both read it so; otherwise ours
	// is appended, which changes nothing for a reader that already saw
	// it.
	for k, v := range setcookie.Attributes(line) {
		// A Secure or HttpOnly with an over-long value is none to
		// browsers, and one with a value net/http cannot parse (a
		// quote, a backslash, a byte outside ASCII) none to net/http:
		// ours is appended. (Such a SameSite value is one they do not
		// know, below: ours is appended too.)
		valueOK := len(setcookie.TrimWS(v)) <= setcookie.MaxAttributeValue && validAttributeValue(v)
		switch {
		case ascii.EqualFold(k, "secure"):
			secure = secure || valueOK
		case ascii.EqualFold(k, "httponly"):
			httpOnly = httpOnly || valueOK
		case ascii.EqualFold(k, "samesite"):
			hasSameSite = true
			sameSite = v
		}
		if ascii.EqualFold(setcookie.TrimWS(k), "samesite") {
			best = max(best, sameSiteRank(strings.Trim(setcookie.TrimWS(v), `"`)))
		}
	}
	var b strings.Builder
	b.Grow(len(line) + 40)
	if r.hostPrefix != "" && hasEq && name == r.hostPrefix && !otherCopy {
		// __Host- requires Secure, Path=/ and no Domain: drop the
		// upstream's Domain and Path and add what the prefix needs, or
		// the browser would refuse the cookie.
		b.WriteString(HostPrefix)
		b.WriteString(strings.TrimLeft(nameValue, " \t\r\n"))
		_, attrs, _ := strings.Cut(line, ";")
		for a := range strings.SplitSeq(attrs, ";") {
			k, _, _ := strings.Cut(a, "=")
			if k = setcookie.TrimWS(k); k == "" || ascii.EqualFold(k, "domain") || ascii.EqualFold(k, "path") {
				continue
			}
			b.WriteByte(';')
			b.WriteString(a)
		}
		b.WriteString("; Path=/")
		if !secure {
			b.WriteString("; Secure")
			secure = true
		}
	} else {
		b.WriteString(line)
	}
	if r.secure && !secure {
		b.WriteString("; Secure")
	}
	if r.httpOnly && !httpOnly {
		b.WriteString("; HttpOnly")
	}
	if r.sameSite != "" {
		have, want := sameSiteRank(sameSite), sameSiteRank(r.sameSite)
		add := r.sameSite
		if best > want {
			add = "Strict"
		}
		switch {
		case !hasSameSite || have == 0 && !ascii.EqualFold(sameSite, "none"):
			// None set, or a value browsers do not know: add ours.
			b.WriteString("; SameSite=" + add)
		case r.overrideSameSite && have < want:
			b.WriteString("; SameSite=" + add)
		}
	}
	return b.String()
}

// validAttributeValue reports whether net/http's Set-Cookie parser
// accepts v as an attribute's value (its validCookieValueByte, without
// quotes): it skips an attribute with any other value.
func validAttributeValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}

// rewriteRequest renames the client's HostPrefix cookie back to the name
// the upstream set and deletes every cookie the client sent under the
// upstream's bare name, or under any spelling an upstream reads as that
// name or as the prefixed one (cookieNameKey): such a copy could have
// been set by a sibling host (cookie tossing), which is what the prefix
// is there to prevent.
func (r *cookieRules) rewriteRequest(h http.Header) {
	if r.hostPrefix == "" {
		return
	}
	lines := h["Cookie"]
	if len(lines) == 0 {
		return
	}
	prefixed := HostPrefix + r.hostPrefix
	bareKey, prefixedKey := cookieNameKey(r.hostPrefix), cookieNameKey(prefixed)
	var b strings.Builder
	for _, l := range lines {
		for pair := range strings.SplitSeq(l, ";") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			name, value, _ := strings.Cut(pair, "=")
			name = strings.TrimSpace(name)
			switch name {
			case r.hostPrefix:
				continue
			case prefixed:
				pair = r.hostPrefix + "=" + value
			default:
				if k := cookieNameKey(name); k == bareKey || k == prefixedKey {
					continue // a twin: %73ession, SESSION, my.session
				}
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(pair)
		}
	}
	if b.Len() == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{b.String()}
}

// cookieNameKey is a cookie name as the most lenient common upstream
// reads it: percent-decoded, twice at most, with '+' as a space, invalid
// escapes kept (PHP, Rack; a stack of them), ' ', '.' and '[' as '_'
// (PHP), and without case (ASP.NET Core). Two names with the same key may
// be the same cookie to an upstream.
func cookieNameKey(name string) string {
	for range 2 {
		if !strings.ContainsAny(name, "%+") {
			break
		}
		// '+' is a space, as to PHP's urldecode; decodeAll keeps invalid
		// escapes.
		name = decodeAll(strings.ReplaceAll(name, "+", " "))
	}
	// No allocation for a lower-case name without ' ', '.' or '[' (the
	// usual cookie, on every request of a route with host-prefix).
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '[':
			return '_'
		}
		return r
	}, strings.ToLower(name))
}

package csrf

import (
	"net/http"
	"net/textproto"
	"strings"
)

// maxCookies is net/http's default limit on the cookies of a request
// (defaultCookieMaxNum): past it, (*Request).Cookie finds none.
const maxCookies = 3000

// cookie returns the value of r's cookie called name as r.Cookie(name)
// does, without parsing every cookie of the request into an *http.Cookie:
// the first cookie with exactly that name (case-sensitive) whose value is
// valid wins, surrounding double quotes removed; with more than maxCookies
// cookies there is none. name must be a valid cookie name (a token).
//
// It is readCookies from net/http/cookie.go with the name filter applied
// first; FuzzCookie compares the two. One difference: a GODEBUG
// httpcookiemaxnum setting, which bounds net/http's allocations, does not
// change maxCookies here (this scan allocates nothing).
func cookie(r *http.Request, name string) (string, bool) {
	v, _, ok := cookieClass(r, name)
	return v, ok
}

// cookieClass is cookie, and also reports the classes of the value's bytes
// (the bits of cookieByte every byte has), so that a caller that wants a
// narrower alphabet (the pre-session value is base64url) does not loop
// over the value a second time.
func cookieClass(r *http.Request, name string) (string, uint8, bool) {
	lines := r.Header["Cookie"]
	size := 0
	for _, line := range lines {
		size += len(line) + 1
	}
	// A line of n bytes holds at most n+1 cookies: only long headers
	// need counting.
	if size > maxCookies {
		n := 0
		for _, line := range lines {
			n += strings.Count(line, ";") + 1
		}
		if n > maxCookies {
			return "", 0, false
		}
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		for len(line) > 0 {
			// strings.IndexByte rather than strings.Cut, which goes
			// through strings.Index: this runs for every cookie.
			part := line
			if i := strings.IndexByte(line, ';'); i >= 0 {
				part, line = line[:i], line[i+1:]
			} else {
				line = ""
			}
			part = textproto.TrimString(part)
			if !strings.HasPrefix(part, name) {
				// Its name, which starts where part does, is another.
				continue
			}
			// net/http cuts part at its first '=' and trims the name:
			// this is the cookie when name is followed by nothing, or
			// by optional space and '=' (name, a token, has no '=').
			// A name equal to name is a valid one: net/http's isToken
			// check is implied.
			var v string
			switch rest := textproto.TrimString(part[len(name):]); {
			case rest == "":
			case rest[0] == '=':
				v = rest[1:]
			default:
				continue
			}
			if v, cls := cookieValue(v); cls&isCookieOctet != 0 {
				return v, cls, true
			}
		}
	}
	return "", 0, false
}

// cookieValue is net/http's parseCookieValue(raw, true): one pair of
// surrounding double quotes is removed, and every byte left must be a
// cookie-octet or space or comma. It returns the value and the classes
// all its bytes share: the value is valid when that has isCookieOctet.
func cookieValue(raw string) (string, uint8) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	// Four bytes a step: the and of their four classes is one step of
	// the dependency chain through cls, rather than four.
	t := &cookieByte
	cls := isCookieOctet | isBase64URL
	s := raw
	for len(s) >= 4 {
		cls &= t[s[0]] & t[s[1]] & t[s[2]] & t[s[3]]
		s = s[4:]
	}
	for i := 0; i < len(s); i++ {
		cls &= t[s[i]]
	}
	if cls&isCookieOctet == 0 {
		return "", 0
	}
	return raw, cls
}

// Classes of cookie value bytes.
const (
	isCookieOctet uint8 = 1 << iota // accepted by cookieValue
	isBase64URL                     // in the base64url alphabet
)

// cookieByte gives each byte its classes: a table, because this loop runs
// over every byte of the cookies tokens are bound to.
var cookieByte = func() (t [256]uint8) {
	for b := 0x20; b < 0x7f; b++ {
		if b != '"' && b != ';' && b != '\\' {
			t[b] = isCookieOctet
		}
	}
	for _, b := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[b] |= isBase64URL
	}
	return t
}()

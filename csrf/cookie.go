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
			return "", false
		}
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
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
			if v, ok := cookieValue(v); ok {
				return v, true
			}
		}
	}
	return "", false
}

// cookieValue is net/http's parseCookieValue(raw, true): one pair of
// surrounding double quotes is removed, and every byte left must be a
// cookie-octet or space or comma.
func cookieValue(raw string) (string, bool) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	for i := 0; i < len(raw); i++ {
		if !cookieValueByte[raw[i]] {
			return "", false
		}
	}
	return raw, true
}

// cookieValueByte says which bytes cookieValue accepts: a table, because
// this loop runs over every byte of the cookies tokens are bound to.
var cookieValueByte = func() (t [256]bool) {
	for b := 0x20; b < 0x7f; b++ {
		t[b] = b != '"' && b != ';' && b != '\\'
	}
	return t
}()

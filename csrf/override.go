package csrf

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/forgeproof/forgeproof/internal/ascii"
)

// Method overrides. Many frameworks let a request say it is another
// method than the one on its request line: Rack::MethodOverride, Laravel,
// Symfony, Express's method-override, Spring's HiddenHttpMethodFilter,
// Slim, CakePHP, Yii and hand-written middleware read a _method parameter
// or an X-HTTP-Method-Override (X-HTTP-Method, X-Method-Override) header.
// Most do so on POST only (Rack, Symfony, Express by default, Spring,
// ASP.NET Core, gorilla/handlers), but Slim 4, CakePHP and Yii read the
// header on every method, Express's takes {methods: null}, and hand-written
// middleware reads $_GET['_method'] or params[:_method] on a GET. A GET that
// such an application reads as DELETE would pass a check that looked at
// the request line only, as a safe method. So a safe method counts as safe
// only when no override names an unsafe one: the request is checked as the
// method the application may read (one meaning per request,
// docs/security-model.md).
//
// Where in doubt this fails closed: a parameter counts as the override
// when any common reader of the query takes its name for _method (see
// isOverrideKey), and an override is safe only when every element of it is
// exactly GET, HEAD or OPTIONS in ASCII letters of any case, with ASCII
// spaces around it. Anything else (DELETE, " delete", "GET, DELETE",
// "GETX", garbage) is checked as unsafe: the worst a false alarm does is
// refuse a cross-site GET that carries a strange override.

// overrideHeaders are the method-override headers in canonical form. Their
// underscore twins (X_HTTP_Method_Override, which CGI, PHP and Rack read as
// the same header) are not looked at: Go applications do not read them,
// and the gateway drops them (gateway/headers.go).
var overrideHeaders = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// overrideParam is the override parameter; isOverrideKey says which
// spellings of it count.
const overrideParam = "_method"

// maxDecodes is how many times a query parameter is decoded to look for
// an override: once as every parser does, and twice or three times as an
// application that decodes a name again, or a proxy that decodes the query
// before the application does, reads ?%255Fmethod=DELETE as _method. Three
// cover any stack we know of and bound the work to four passes over the
// query.
const maxDecodes = 3

// UnsafeMethodOverride reports whether r carries a method override that
// names a method other than GET, HEAD or OPTIONS: an
// X-HTTP-Method-Override, X-HTTP-Method or X-Method-Override header (every
// line, every comma-separated element, in any case), or a _method query
// parameter in any spelling that a common framework reads as _method: any
// case, percent-encoded once or more (%5F, %255F, %u005F), as an array
// (_method[], _method[0]), with PHP's readings (.method, leading spaces,
// a NUL ending the name) or Rack 2's (stray brackets), or hidden in a
// parameter that decodes to "&_method=" for a reader that decodes before
// it splits. [Protection.Check] checks a GET, HEAD or OPTIONS request for
// which it reports true as an unsafe one; a proxy that lets some safe
// requests skip other checks (CORS preflights without a client
// certificate) uses it to do the same. Form bodies are not read: no
// browser sends a form with a safe method. Parameters with other names
// (method, _HttpMethod, …), which some middleware can be configured to
// read, are not looked at.
//
// It does not allocate unless a query parameter's name has a '%' or its
// value an encoded '&', ';', '%' or %u escape.
func UnsafeMethodOverride(r *http.Request) bool {
	return methodOverridden(r, "")
}

// methodOverridden reports whether r's override headers or query carry an
// override that changes the method: with own "", one naming a method other
// than GET, HEAD or OPTIONS (unsafeOverride); else, for a request on a
// bypass pattern that names own, its method, any value but exactly own or
// a safe method's name (changesMethod).
func methodOverridden(r *http.Request, own string) bool {
	h := r.Header
	if len(h) > 0 {
		// Three lookups of absent keys on every safe request: the common
		// case.
		for _, name := range &overrideHeaders {
			if v, ok := h[name]; ok && overridesAny(v, own) {
				return true
			}
		}
	}
	if q := r.URL.RawQuery; len(q) >= len(overrideParam) {
		return overriddenInQuery(q, own)
	}
	return false
}

// overridesAny reports whether any of the values v changes the method (see
// methodOverridden for own).
func overridesAny(v []string, own string) bool {
	for _, s := range v {
		if overrides(s, own) {
			return true
		}
	}
	return false
}

// overrides reports whether the decoded override value v changes the
// method (see methodOverridden for own).
func overrides[T text](v T, own string) bool {
	if own == "" {
		return unsafeOverride(v)
	}
	return changesMethod(v, own)
}

// text is the raw query and its decoded copies.
type text interface{ ~string | ~[]byte }

// overriddenInQuery reports whether the raw query q has an override
// parameter naming an unsafe method. Both '&' and ';' separate parameters
// (Rack 2, Rails, Python before 3.9.2 split at ';' too). A parameter whose
// name has a '%', or whose value has an encoded separator or '%', is
// decoded and read again (overriddenDecoded).
func overriddenInQuery(q, own string) bool {
	for len(q) > 0 {
		var kv string
		kv, q = nextParam(q)
		k, v := cutParam(kv)
		if isOverrideKey(k) && overrideValue(v, own) {
			return true
		}
		if (strings.IndexByte(k, '%') >= 0 || encodesSeparator(v)) && overriddenDecoded(kv, own) {
			return true
		}
	}
	return false
}

// overriddenDecoded reports whether the parameter kv, decoded once, twice
// or up to maxDecodes times, reads as one or more parameters (a reader
// that decodes the query before it splits it sees "&" and "=" in it) of
// which one is an override naming an unsafe method. kv is decoded in place
// in a copy on the stack, unless it is long.
func overriddenDecoded(kv, own string) bool {
	var buf [128]byte
	b := append(buf[:0], kv...)
	for range maxDecodes {
		n := len(b)
		b = unescapeInPlace(b)
		if len(b) == n {
			return false // nothing left to decode
		}
		for q := b; len(q) > 0; {
			var p []byte
			p, q = nextParam(q)
			if k, v := cutParam(p); isOverrideKey(k) && overrideValue(v, own) {
				return true
			}
		}
	}
	return false
}

// nextParam splits the query q at its first '&' or ';' into the first
// parameter and the rest.
func nextParam[T text](q T) (param, rest T) {
	for i := 0; i < len(q); i++ {
		if c := q[i]; c == '&' || c == ';' {
			return q[:i], q[i+1:]
		}
	}
	return q, q[len(q):]
}

// cutParam splits a parameter at its first '=' into name and value.
func cutParam[T text](p T) (k, v T) {
	for i := 0; i < len(p); i++ {
		if p[i] == '=' {
			return p[:i], p[i+1:]
		}
	}
	return p, p[len(p):]
}

// isOverrideKey reports whether the parameter name k (as sent, or decoded)
// is read as _method by some common query parser, case aside (Slim reads
// _METHOD, Symfony _method). Beyond "_method" itself:
//
//   - PHP drops leading spaces from a name, reads '.' and ' ' in it as
//     '_', ends it at a NUL (names are C strings) and reads _method[…] as
//     an array named _method; Rack, qs (Express) and Rails read _method[]
//     and _method[0] as arrays too, and qs takes its first element;
//   - Rack 2 drops spaces after a separator and brackets around a name
//     ([_method], _method]);
//   - '+' is a space to every form decoder.
//
// The set is a superset of these readings (leading spaces, '+', '[', ']'
// and '?' are all skipped; after the name, only the end, a bracket, a NUL
// or spaces may follow), so that no reader sees an override the check
// missed.
func isOverrideKey[T text](k T) bool {
	if len(k) < len(overrideParam) {
		return false
	}
	i := 0
	for i < len(k) && isKeyFiller(k[i]) {
		i++
	}
	k = k[i:]
	if len(k) < len(overrideParam) {
		return false
	}
	if c := k[0]; c != '_' && c != '.' {
		return false
	}
	if !ascii.EqualFold(k[1:len(overrideParam)], overrideParam[1:]) {
		return false
	}
	rest := k[len(overrideParam):]
	if len(rest) == 0 {
		return true
	}
	switch rest[0] {
	case '[', ']', 0:
		return true
	}
	for i := 0; i < len(rest); i++ {
		if !isSpace(rest[i]) && rest[i] != '+' {
			return false
		}
	}
	return true
}

// isKeyFiller reports whether c may come before a parameter name without
// changing it for some parser (see isOverrideKey).
func isKeyFiller(c byte) bool {
	return isSpace(c) || c == '+' || c == '[' || c == ']' || c == '?'
}

// isSpace reports whether c is ASCII white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// encodesSeparator reports whether the raw value v has an escape that
// decodes to '&', ';' or '%', or a %u escape: decoded before the query is
// split, or decoded again, it can hold another parameter.
func encodesSeparator(v string) bool {
	for {
		i := strings.IndexByte(v, '%')
		if i < 0 || i+2 >= len(v) {
			return false
		}
		switch a, b := v[i+1], v[i+2]|0x20; {
		case a == 'u' || a == 'U':
			return true
		case a == '2' && (b == '6' || b == '5'), a == '3' && b == 'b':
			return true
		}
		v = v[i+1:]
	}
}

// unescapeInPlace decodes b as a form decoder would, leniently, and
// returns the decoded prefix of b: "%XX" is a byte, "%uXXXX" (ASP.NET,
// JavaScript's escape) a UTF-8 encoded rune, '+' a space, and a '%' that
// starts no escape stays as it is (PHP, Node and qs keep it rather than
// refusing the parameter). No output is longer than its input, so the
// writes never overtake the reads.
func unescapeInPlace(b []byte) []byte {
	w := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(b) && ishex(b[i+1]) && ishex(b[i+2]):
			c = unhex(b[i+1])<<4 | unhex(b[i+2])
			i += 2
		case c == '%' && i+5 < len(b) && b[i+1]|0x20 == 'u' &&
			ishex(b[i+2]) && ishex(b[i+3]) && ishex(b[i+4]) && ishex(b[i+5]):
			r := rune(unhex(b[i+2]))<<12 | rune(unhex(b[i+3]))<<8 | rune(unhex(b[i+4]))<<4 | rune(unhex(b[i+5]))
			i += 5
			w += utf8.EncodeRune(b[w:], r)
			continue
		}
		b[w] = c
		w++
	}
	return b[:w]
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// overrideValue reports whether the raw value of an override parameter
// changes the method (see methodOverridden for own), decoded once as every
// parser decodes it. Where parsers differ on a malformed escape ("%zz", "%u0047"), the
// lenient reading names no method, or the one the others see as garbage:
// never DELETE where another sees GET. Decoding once more could only turn
// garbage into a method name, never DELETE into GET.
func overrideValue[T text](v T, own string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '%' || c == '+' {
			var buf [32]byte
			return overrides(unescapeInPlace(append(buf[:0], v...)), own)
		}
	}
	return overrides(v, own)
}

// unsafeOverride reports whether an override value names a method other
// than GET, HEAD or OPTIONS. A list counts when any element does (Express
// takes the first, others the whole line); an empty value, or element,
// names none. Only ASCII spaces are trimmed and only ASCII letters folded:
// "OPTIONſ" (a long s, which Unicode folds to s) is no safe method.
func unsafeOverride[T text](v T) bool {
	for len(v) > 0 {
		m := v
		v = v[len(v):]
		for i := 0; i < len(m); i++ {
			if m[i] == ',' {
				m, v = m[:i], m[i+1:]
				break
			}
		}
		m = trimSpace(m)
		if len(m) > 0 && !isSafeName(m) {
			return true
		}
	}
	return false
}

// changesMethod reports whether the override value v, on a request whose
// method own a bypass pattern names, may make the application serve
// another method: any value but an empty one, exactly own, or GET, HEAD or
// OPTIONS in ASCII letters of any case. This is stricter than
// unsafeOverride, which decides whether a safe method stays safe: echo's
// MethodOverride takes any value but one that folds to a safe method's
// name as the method, spaces and case as sent, so a POST with
// _method=" GET" or "post" reaches a route for any method (a ServeMux
// pattern without one) as a method the bypass pattern never named, where
// Rack, Symfony and Express upper-case "post" back to POST and ignore
// " GET". And _method=POST on a POST names the pattern's own method (a
// form that always sends _method), which no reader turns into another.
func changesMethod[T text](v T, own string) bool {
	if len(v) == 0 || isSafeName(v) {
		return false
	}
	if len(v) != len(own) {
		return true
	}
	for i := 0; i < len(v); i++ {
		if v[i] != own[i] {
			return true
		}
	}
	return false
}

func trimSpace[T text](s T) T {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// isSafeName reports whether m is GET, HEAD or OPTIONS in ASCII letters of
// any case.
func isSafeName[T text](m T) bool {
	return ascii.EqualFold(m, "GET") || ascii.EqualFold(m, "HEAD") || ascii.EqualFold(m, "OPTIONS")
}

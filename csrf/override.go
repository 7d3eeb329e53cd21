package csrf

import (
	"net/http"
	"net/url"
	"strings"
)

// Method overrides. Many frameworks let a request say it is another
// method than the one on its request line: Rack::MethodOverride, Laravel,
// Symfony, Express's method-override, Spring's HiddenHttpMethodFilter,
// Slim, CakePHP and hand-written middleware read a _method parameter or
// an X-HTTP-Method-Override (X-HTTP-Method, X-Method-Override) header,
// some on every method. A GET that such an application reads as DELETE
// would pass a check that looked at the request line only, as a safe
// method. So a safe method counts as safe only when no override names an
// unsafe one: the request is checked as the method the application may
// read (one meaning per request, docs/security-model.md).

// overrideHeaders are the method-override headers in canonical form.
var overrideHeaders = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// overrideParam is the override parameter, compared case-insensitively
// (Slim reads _METHOD).
const overrideParam = "_method"

// UnsafeMethodOverride reports whether r carries a method override that
// names a method other than GET, HEAD or OPTIONS: an
// X-HTTP-Method-Override, X-HTTP-Method or X-Method-Override header (every
// line, every comma-separated element, in any case) or a _method query
// parameter (any case, percent-encoded or not). [Protection.Check] checks
// a GET, HEAD or OPTIONS request for which it reports true as an unsafe
// one; a proxy that lets some safe requests skip other checks (CORS
// preflights without a client certificate) uses it to do the same. Form
// bodies are not read: no browser sends a form with a safe method.
func UnsafeMethodOverride(r *http.Request) bool {
	h := r.Header
	if len(h) > 0 {
		// Three lookups of absent keys on every safe request: the common
		// case.
		for _, name := range &overrideHeaders {
			if v, ok := h[name]; ok && unsafeOverrides(v) {
				return true
			}
		}
	}
	if q := r.URL.RawQuery; len(q) >= len(overrideParam) {
		return overriddenInQuery(q)
	}
	return false
}

func unsafeOverrides(v []string) bool {
	for _, s := range v {
		if unsafeOverride(s) {
			return true
		}
	}
	return false
}

// overriddenInQuery reports whether the raw query q has a _method
// parameter naming an unsafe method. Both '&' and ';' separate
// parameters (older parsers split at ';' too). Only keys of the length
// of "_method", or longer with a '%', can be it: the others are skipped
// without decoding.
func overriddenInQuery(q string) bool {
	for len(q) > 0 {
		end := len(q)
		eq := -1
		for i := 0; i < len(q); i++ {
			c := q[i]
			if c == '&' || c == ';' {
				end = i
				break
			}
			if c == '=' && eq < 0 {
				eq = i
			}
		}
		kv := q[:end]
		if end < len(q) {
			q = q[end+1:]
		} else {
			q = ""
		}
		k, v := kv, ""
		if eq >= 0 {
			k, v = kv[:eq], kv[eq+1:]
		}
		switch {
		case len(k) == len(overrideParam):
			if !strings.EqualFold(k, overrideParam) {
				continue
			}
		case len(k) > len(overrideParam) && strings.IndexByte(k, '%') >= 0:
			dk, err := url.QueryUnescape(k)
			if err != nil || !strings.EqualFold(dk, overrideParam) {
				continue
			}
		default:
			continue
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if unsafeOverride(v) {
			return true
		}
	}
	return false
}

// unsafeOverride reports whether an override value names a method other
// than GET, HEAD or OPTIONS (in any case: upstreams upper-case it). A list
// counts when any element does; an empty value names none.
func unsafeOverride(v string) bool {
	for m := range strings.SplitSeq(v, ",") {
		m = strings.TrimSpace(m)
		if m != "" && !isSafe(strings.ToUpper(m)) {
			return true
		}
	}
	return false
}

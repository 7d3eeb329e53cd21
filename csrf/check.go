package csrf

import (
	"net/http"
	"strings"

	"github.com/forgeproof/forgeproof/internal/wsupgrade"
)

// Check applies the checks to r and returns nil when it may proceed, or an
// *[Error] saying why not. It ignores report-only mode, calls neither the
// deny handler nor the observer, and sets no cookies; [Protection.Handler]
// does those.
//
// When a token is required and no token header is sent, Check reads a form
// body (up to the limit of [Protection.SetMaxFormBytes]) to find the
// csrf_token field, and puts the bytes back in r.Body.
func (p *Protection) Check(r *http.Request) error {
	c := p.load()
	if c.keys == nil {
		// No tokens: no state to keep (and none to clear on the hot
		// path).
		if e := c.check(r, nil); e != nil {
			return e
		}
		return nil
	}
	var st requestState
	if e := c.check(r, &st); e != nil {
		return e
	}
	return nil
}

func isSafe(method string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS":
		return true
	}
	return false
}

// check decides on r. st receives what the token check learns, if it runs:
// the binding function's answer and the pre-session value. st may be nil
// when c has no key ring (the token check then refuses before using it).
func (c *config) check(r *http.Request, st *requestState) *Error {
	if isSafe(r.Method) && !UnsafeMethodOverride(r) {
		// Safe methods must not change state; an application that lets
		// them is outside what any CSRF defence can fix. One that a method
		// override (_method, X-HTTP-Method-Override) turns into another
		// method is checked as that method (override.go).
		if r.Method == http.MethodGet && wsupgrade.Requested(r.Header) {
			// A WebSocket handshake is a GET, yet a browser sends a
			// cross-site one with the client certificate and cookies,
			// and many WebSocket servers accept any Origin (cross-site
			// WebSocket hijacking): the origin checks of an unsafe
			// request. No token: a handshake cannot carry one.
			if e, _ := c.checkOrigin(r); e != nil && !c.bypassed(r) {
				return e
			}
		}
		return nil
	}
	e, browserless := c.checkOrigin(r)
	if e != nil {
		if c.bypassed(r) {
			return nil
		}
		return e
	}
	if c.tokenRequired(browserless) && !c.bypassed(r) {
		return c.checkToken(r, st)
	}
	return nil
}

// tokenRequired fails closed: a mode it does not know requires a token.
func (c *config) tokenRequired(browserless bool) bool {
	switch c.mode {
	case ModeOriginOnly:
		// The origin checks are the whole defence; header-less requests
		// pass (see checkOrigin's last comment).
		return false
	case ModeTokenIfNoBrowserHeaders:
		return browserless
	}
	return true
}

// checkOrigin decides from Sec-Fetch-Site, then Origin, then Referer.
// browserless reports that neither Sec-Fetch-Site nor Origin was sent.
//
// It reads the three headers once each (the rest of the ladder gets their
// values: this runs on every unsafe request), and refuses a request that
// carries one of them more than once: on separate lines, or joined into
// one value with a comma as a proxy folding the lines would. No Origin or
// Sec-Fetch-Site value has a comma; a Referer URL may, so for it only a
// comma followed by another absolute URL ("scheme://") counts, and only
// when the Referer decides (neither Sec-Fetch-Site nor Origin sent): a
// browser's one Referer is the page's URL, whose query may hold
// ",https://".
func (c *config) checkOrigin(r *http.Request) (e *Error, browserless bool) {
	sv, ov, rv := r.Header["Sec-Fetch-Site"], r.Header["Origin"], r.Header["Referer"]
	site, origin, referer := only(sv), only(ov), only(rv)
	fetch := fetchSiteOf(site)
	// Two copies of a header the decision rests on: whichever copy is read
	// here, something behind may read the other. The values browsers send
	// in Sec-Fetch-Site need no comma scan, nor does an absent Referer
	// (programs; pages with a no-referrer policy).
	switch {
	case len(sv) > 1 || fetch == fetchOther && strings.IndexByte(site, ',') >= 0:
		return repeated("Sec-Fetch-Site", sv), false
	case len(ov) > 1 || strings.IndexByte(origin, ',') >= 0:
		return repeated("Origin", ov), false
	case len(rv) > 1 || referer != "" && fetch == fetchAbsent && origin == "" && joinedURLs(referer):
		return repeated("Referer", rv), false
	}
	switch fetch {
	case fetchAbsent:
		// Not sent: an old browser, a plain-HTTP page on a non-local host,
		// or no browser at all. The Origin decides, or the Referer.
		return c.checkOriginReferer(r, origin, referer)
	case fetchAllowed:
		// "same-origin", or "none": a navigation the user started (a
		// bookmark, the address bar): no other page caused it.
		return nil, false
	case fetchSameSite:
		if c.allowSameSite || c.trustedOriginHeader(origin) {
			return nil, false
		}
		return &Error{Reason: ReasonSameSite, Header: "Sec-Fetch-Site", Value: site}, false
	case fetchCrossSite:
		if c.trustedOriginHeader(origin) {
			return nil, false
		}
		return &Error{Reason: ReasonCrossSite, Header: "Sec-Fetch-Site", Value: site}, false
	}
	if c.trustedOriginHeader(origin) {
		return nil, false
	}
	return &Error{Reason: ReasonFetchSiteInvalid, Header: "Sec-Fetch-Site", Value: site}, false
}

// checkOriginReferer is the rest of the ladder, for a request without
// Sec-Fetch-Site: origin and referer are its headers' values ("" when
// absent), already checked for copies. A function of its own so that
// checkOrigin, which decides the usual request from Sec-Fetch-Site, stays
// small (a few percent faster on a same-origin POST than with this inline).
func (c *config) checkOriginReferer(r *http.Request, origin, referer string) (e *Error, browserless bool) {
	if origin != "" {
		if origin == "null" {
			return &Error{Reason: ReasonOriginNull, Header: "Origin", Value: origin}, false
		}
		scheme, host, e := c.ownOrigin(r)
		if e != nil {
			return e, false
		}
		if sameOrigin(origin, scheme, host) || c.trusted(origin) {
			return nil, false
		}
		if _, _, ok := splitOrigin(origin); !ok {
			return &Error{Reason: ReasonOriginInvalid, Header: "Origin", Value: origin}, false
		}
		return &Error{Reason: ReasonOriginMismatch, Header: "Origin", Value: origin}, false
	}

	if referer != "" {
		// Strict Referer checking, as Django does on HTTPS, applied on
		// both schemes: a browser that sends neither Sec-Fetch-Site nor
		// Origin still names the page that sent the request here.
		o, ok := refererOrigin(referer)
		if !ok {
			return &Error{Reason: ReasonRefererInvalid, Header: "Referer", Value: referer}, true
		}
		scheme, host, e := c.ownOrigin(r)
		if e != nil {
			return e, true
		}
		if sameOrigin(o, scheme, host) || c.trusted(o) {
			return nil, true
		}
		return &Error{Reason: ReasonRefererMismatch, Header: "Referer", Value: referer}, true
	}

	// Fail open, deliberately: with no Sec-Fetch-Site, Origin or Referer
	// the request comes from a program (curl, a service client), not a
	// page a victim visits, so there is no forgery to stop. Every browser
	// since 2023 sends Sec-Fetch-Site on HTTPS; a deployment that must
	// cover older ones or stripping proxies requires a token here
	// (ModeTokenIfNoBrowserHeaders or ModeOriginAndToken).
	return nil, true
}

// fetchSite classes a Sec-Fetch-Site value, so the ladder compares the
// string once.
type fetchSite uint8

const (
	fetchAbsent    fetchSite = iota // not sent
	fetchAllowed                    // "same-origin" or "none"
	fetchSameSite                   // "same-site"
	fetchCrossSite                  // "cross-site"
	fetchOther                      // anything else: invalid
)

func fetchSiteOf(v string) fetchSite {
	switch v {
	case "":
		return fetchAbsent
	case "same-origin", "none":
		return fetchAllowed
	case "same-site":
		return fetchSameSite
	case "cross-site":
		return fetchCrossSite
	}
	return fetchOther
}

// only is a header's value when it came on one line, else "".
func only(v []string) string {
	if len(v) == 1 {
		return v[0]
	}
	return ""
}

// repeated is the refusal of a repeated header: its value is the last copy
// (with two lines, the one a first-value reader would not see).
func repeated(name string, v []string) *Error {
	return &Error{Reason: ReasonHeaderRepeated, Header: name, Value: v[len(v)-1]}
}

// joinedURLs reports whether v holds a comma followed, after optional
// spaces or tabs, by "scheme://": two URLs joined into one value.
func joinedURLs(v string) bool {
	for {
		i := strings.IndexByte(v, ',')
		if i < 0 {
			return false
		}
		v = strings.TrimLeft(v[i+1:], " \t")
		j := 0
		for j < len(v) && (isAlpha(v[j]) || j > 0 && (isDigit(v[j]) || v[j] == '+' || v[j] == '-' || v[j] == '.')) {
			j++
		}
		if j > 0 && strings.HasPrefix(v[j:], "://") {
			return true
		}
	}
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// header is r.Header.Get for a key already in canonical form, without
// canonicalizing it again on every call: the accept path is hot.
func header(r *http.Request, canonicalKey string) string {
	if v := r.Header[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// trustedOriginHeader reports whether o, the request's Origin ("" when
// absent), is a trusted origin.
func (c *config) trustedOriginHeader(o string) bool {
	if len(c.exact) == 0 && len(c.wildcards) == 0 {
		return false
	}
	return o != "" && c.trusted(o)
}

// ownOrigin returns the scheme and host of the origin r was sent to, from
// the canonical origins when there are any, else from the connection (never
// from r.URL, which is empty on server requests: the gorilla/csrf and
// nosurf 2025 CVEs) and Host, or from a trusted proxy's headers.
func (c *config) ownOrigin(r *http.Request) (scheme, host string, e *Error) {
	if len(c.canonical) == 1 {
		return c.canonical[0].scheme, c.canonical[0].host, nil
	}
	if len(c.canonical) > 1 {
		for _, o := range c.canonical {
			// Host names compare case-insensitively (RFC 3986 §3.2.2).
			if strings.EqualFold(stripDefaultPort(r.Host, o.scheme), o.host) {
				return o.scheme, o.host, nil
			}
		}
		// No own origin: only trusted origins can pass.
		return "", "", nil
	}
	scheme, host = "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if len(c.proxies) > 0 && c.fromTrustedProxy(r) {
		fs, fh, e := forwardedOrigin(r.Header, scheme, host)
		if e != nil {
			return "", "", e
		}
		if fs != "" {
			scheme = fs
		}
		if fh != "" {
			host = fh
		}
	}
	return scheme, stripDefaultPort(host, scheme), nil
}

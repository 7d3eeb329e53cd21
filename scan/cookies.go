package scan

import (
	"net/http"
	"regexp"

	"github.com/forgeproof/forgeproof/internal/ascii"
	"github.com/forgeproof/forgeproof/internal/printable"
	"github.com/forgeproof/forgeproof/internal/setcookie"
)

// maxCookies bounds the cookies a jar keeps, as Chromium keeps 180 per
// domain: a service that sets thousands (new names on every answer)
// would otherwise grow each request and slow each lookup without bound.
const maxCookies = 180

// A jar holds one browser's cookies for the target, with the attributes
// they were set with, in the order they were first set.
type jar struct {
	cookies []*http.Cookie
	dropped bool // a new cookie came when maxCookies were kept
}

// set stores cookies from a response, replacing same-named ones and
// dropping expired ones, and new ones past maxCookies.
func (j *jar) set(cs []*http.Cookie) {
	for _, c := range cs {
		i := j.index(c.Name)
		expired := c.MaxAge < 0 || c.Value == "" && c.MaxAge == 0 && !c.Expires.IsZero()
		switch {
		case expired && i >= 0:
			j.cookies = append(j.cookies[:i], j.cookies[i+1:]...)
		case expired:
		case i >= 0:
			j.cookies[i] = c
		case len(j.cookies) >= maxCookies:
			j.dropped = true // the first ones kept: the session's, likely
		default:
			j.cookies = append(j.cookies, c)
		}
	}
}

func (j *jar) index(name string) int {
	for i, c := range j.cookies {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// pick returns the cookies a browser would attach under rule r.
func (j *jar) pick(r cookieRule) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range j.cookies {
		if r.sends(c) {
			out = append(out, c)
		}
	}
	return out
}

// sessionLike matches cookie names that usually hold a session.
var sessionLike = regexp.MustCompile(`(?i)sess|sid|auth|login|remember|jwt|identity|user`)

// postureFindings checks the attributes of a session cookie as set by a
// response from pageURL, as a browser reads them (internal/setcookie):
// net/http's reading differs (it counts "Secure=" with a 1025-byte value,
// which browsers ignore, and folds Unicode case, so "SameSite=Str\u0130ct"
// is Strict to it and unknown to browsers).
func postureFindings(c *http.Cookie, pageURL string) []Finding {
	var out []Finding
	add := func(rule, evidence string) {
		out = append(out, newFinding(rule, Confirmed, OracleObserved, Finding{
			URL: pageURL, Cookie: c.Name, Evidence: evidence,
		}))
	}
	b := browserView(c)
	switch b.SameSite {
	case "none":
		add(RuleCookieSameSiteNone, "Set-Cookie "+c.Name+" has SameSite=None.")
	case "":
		add(RuleCookieNoSameSite, "Set-Cookie "+c.Name+" has no (valid) SameSite attribute.")
	}
	if !b.Secure {
		add(RuleCookieNotSecure, "Set-Cookie "+c.Name+" has no Secure attribute.")
	}
	// Browsers match the prefix without case in ASCII (Chromium 156
	// refuses "__HOST-x=1; Path=/" without Secure, as "__Host-x").
	if len(c.Name) < len("__Host-") || !ascii.EqualFold(c.Name[:len("__Host-")], "__Host-") {
		add(RuleCookieNoHostPrefix, "The cookie is named "+c.Name+", without the __Host- prefix.")
	}
	if !b.HTTPOnly {
		add(RuleCookieNotHTTPOnly, "Set-Cookie "+c.Name+" has no HttpOnly attribute.")
	}
	if b.Domain != "" {
		// The service chose the value: quoted when it is not printable.
		add(RuleCookieWideDomain, "Set-Cookie "+c.Name+" has Domain="+printable.Quote(b.Domain)+".")
	}
	return out
}

// browserView is what a browser makes of c's attributes: read from the
// Set-Cookie line c was parsed from, or, for a cookie built otherwise,
// from its fields.
func browserView(c *http.Cookie) setcookie.Cookie {
	if c.Raw != "" {
		return setcookie.Read(c.Raw)
	}
	b := setcookie.Cookie{Name: c.Name, Secure: c.Secure, HTTPOnly: c.HttpOnly, Domain: c.Domain, Path: c.Path}
	switch c.SameSite {
	case http.SameSiteStrictMode:
		b.SameSite = "strict"
	case http.SameSiteLaxMode:
		b.SameSite = "lax"
	case http.SameSiteNoneMode:
		b.SameSite = "none"
	}
	return b
}

// newFinding fills the rule's title and severity into f.
func newFinding(rule string, conf Confidence, o Oracle, f Finding) Finding {
	r, _ := RuleByID(rule)
	f.Rule, f.Title, f.Severity, f.Confidence, f.Oracle = r.ID, r.Title, r.Severity, conf, o
	return f
}

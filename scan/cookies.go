package scan

import (
	"net/http"
	"regexp"
	"strings"
)

// A jar holds one browser's cookies for the target, with the attributes
// they were set with, in the order they were first set.
type jar struct {
	cookies []*http.Cookie
}

// set stores cookies from a response, replacing same-named ones and
// dropping expired ones.
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
// response from pageURL.
func postureFindings(c *http.Cookie, pageURL string) []Finding {
	var out []Finding
	add := func(rule, evidence string) {
		out = append(out, newFinding(rule, Confirmed, OracleObserved, Finding{
			URL: pageURL, Cookie: c.Name, Evidence: evidence,
		}))
	}
	switch c.SameSite {
	case http.SameSiteNoneMode:
		add(RuleCookieSameSiteNone, "Set-Cookie "+c.Name+" has SameSite=None.")
	case 0, http.SameSiteDefaultMode:
		add(RuleCookieNoSameSite, "Set-Cookie "+c.Name+" has no (valid) SameSite attribute.")
	}
	if !c.Secure {
		add(RuleCookieNotSecure, "Set-Cookie "+c.Name+" has no Secure attribute.")
	}
	if !strings.HasPrefix(c.Name, "__Host-") {
		add(RuleCookieNoHostPrefix, "The cookie is named "+c.Name+", without the __Host- prefix.")
	}
	if !c.HttpOnly {
		add(RuleCookieNotHTTPOnly, "Set-Cookie "+c.Name+" has no HttpOnly attribute.")
	}
	if c.Domain != "" {
		add(RuleCookieWideDomain, "Set-Cookie "+c.Name+" has Domain="+c.Domain+".")
	}
	return out
}

// newFinding fills the rule's title and severity into f.
func newFinding(rule string, conf Confidence, o Oracle, f Finding) Finding {
	r, _ := RuleByID(rule)
	f.Rule, f.Title, f.Severity, f.Confidence, f.Oracle = r.ID, r.Title, r.Severity, conf, o
	return f
}

package scan

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Header sets a browser really produces (DESIGN.md; the browser notes):
// each probe is one of these, never a combination no browser sends.

const (
	userAgent  = "Mozilla/5.0 (compatible; forgeproof-scan)"
	acceptHTML = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	// attackerOrigin is a cross-site origin that cannot exist (.invalid,
	// RFC 2606): it only ever appears in headers sent to the target.
	attackerOrigin = "https://attacker.invalid"
)

// A browserContext is where a request comes from, as the browser reports it, and
// which of the victim's cookies the browser attaches there.
type browserContext struct {
	name    string
	headers func(h http.Header, target *url.URL)
	cookies cookieRule
}

// inLaxPOSTWindow is c, a cross-site top-level POST, sent within
// Chromium's Lax+POST window: cookies without SameSite go along too. A
// page with Referrer-Policy: no-referrer (Origin: null) or on a
// look-alike origin posts at the top level like any other, so the
// window opens their forgeries as well (Chromium 156 sent such a cookie
// with a no-referrer page's Origin: null POST).
func inLaxPOSTWindow(c browserContext) browserContext {
	return browserContext{c.name + " in the Lax+POST window", c.headers, cookiesLaxPOSTWindow}
}

// cookieRule says which cookies a browser attaches in a context.
type cookieRule int

const (
	cookiesAll cookieRule = iota // same-origin and same-site requests
	// Cross-site top-level POST: SameSite=None only.
	cookiesCrossSitePOST
	// The same within Chromium's Lax+POST window: also cookies without a
	// SameSite attribute (and cookies whose attributes are unknown).
	cookiesLaxPOSTWindow
	// Cross-site top-level GET navigation: None, Lax and no attribute.
	cookiesCrossSiteGET
	// Cross-site fetch or image: SameSite=None only (as cookiesCrossSitePOST).
	cookiesCrossSiteSubresource
	// Legacy browsers without SameSite defaults: None and no attribute.
	cookiesLegacy
	cookiesNone
)

// sends reports whether a browser attaches c in a context with rule r,
// judging its SameSite as a browser reads it (browserView).
func (r cookieRule) sends(c *http.Cookie) bool {
	sameSite := browserView(c).SameSite
	switch r {
	case cookiesAll:
		return true
	case cookiesCrossSitePOST, cookiesCrossSiteSubresource:
		return sameSite == "none"
	case cookiesLaxPOSTWindow, cookiesLegacy:
		return sameSite == "none" || sameSite == ""
	case cookiesCrossSiteGET:
		return sameSite != "strict"
	}
	return false
}

// navigate is the header set of a top-level navigation; origin, if not
// empty, is an Origin header value or a placeholder of originFor.
func navigate(site, origin string) func(http.Header, *url.URL) {
	return func(h http.Header, t *url.URL) {
		h.Set("Accept", acceptHTML)
		h.Set("Sec-Fetch-Site", site)
		h.Set("Sec-Fetch-Mode", "navigate")
		h.Set("Sec-Fetch-Dest", "document")
		if origin != "" {
			h.Set("Origin", originFor(origin, t))
		}
	}
}

// fetch is the header set of a fetch() (or its CORS preflight) in the
// given mode; origin is as for navigate, but always sent.
func fetch(site, mode, origin string) func(http.Header, *url.URL) {
	return func(h http.Header, t *url.URL) {
		h.Set("Accept", "*/*")
		h.Set("Sec-Fetch-Site", site)
		h.Set("Sec-Fetch-Mode", mode)
		h.Set("Sec-Fetch-Dest", "empty")
		h.Set("Origin", originFor(origin, t))
	}
}

// originFor resolves the placeholder origins against the target.
func originFor(o string, t *url.URL) string {
	switch o {
	case "self":
		return origin(t)
	case "sibling":
		return siblingOrigin(t)
	case "http-self":
		return "http://" + t.Host
	case "lookalike-prefix":
		return lookalikePrefix(t)
	case "lookalike-suffix":
		return lookalikeSuffix(t)
	}
	return o
}

// crossSiteFrom is the header set of a form on a cross-site page of
// origin o (a placeholder of originFor), auto-submitted.
func crossSiteFrom(o string) func(http.Header, *url.URL) {
	return func(h http.Header, t *url.URL) {
		navigate("cross-site", o)(h, t)
		h.Set("Referer", originFor(o, t)+"/")
	}
}

var (
	// A legitimate form submission from the service's own page.
	ctxSameOrigin = browserContext{"same-origin form POST", func(h http.Header, t *url.URL) {
		navigate("same-origin", "self")(h, t)
		h.Set("Sec-Fetch-User", "?1")
		h.Set("Referer", origin(t)+"/")
	}, cookiesAll}
	// A legitimate fetch() from the service's own page. It carries the
	// page's URL as Referer (the default policy keeps it same-origin):
	// Django before 4.0 refuses an HTTPS POST without one.
	ctxSameOriginFetch = browserContext{"same-origin fetch", func(h http.Header, t *url.URL) {
		fetch("same-origin", "cors", "self")(h, t)
		h.Set("Referer", origin(t)+"/")
	}, cookiesAll}
	// The legitimate form submission from a browser that sends neither
	// Fetch Metadata nor Origin on same-origin POSTs (Firefox before 70):
	// only a required token tells it from a forgery whose Referer the
	// attacker's page suppressed.
	ctxSameOriginLegacy = browserContext{"same-origin form POST from a browser without Fetch Metadata or Origin", func(h http.Header, t *url.URL) {
		h.Set("Accept", acceptHTML)
		h.Set("Referer", origin(t)+"/")
	}, cookiesAll}
	// A same-origin page load (token pages, start pages).
	ctxPageLoad = browserContext{"page load", func(h http.Header, t *url.URL) {
		navigate("none", "")(h, t)
		h.Set("Sec-Fetch-User", "?1")
	}, cookiesAll}
	// An auto-submitted form on the attacker's page.
	ctxCrossSite = browserContext{"cross-site form POST", func(h http.Header, t *url.URL) {
		navigate("cross-site", attackerOrigin)(h, t)
		h.Set("Referer", attackerOrigin+"/")
	}, cookiesCrossSitePOST}
	ctxCrossSiteWindow = inLaxPOSTWindow(ctxCrossSite)
	// fetch(url, {method: "POST", mode: "no-cors", credentials: "include"}).
	ctxCrossSiteNoCORS = browserContext{"cross-site no-cors fetch", func(h http.Header, t *url.URL) {
		fetch("cross-site", "no-cors", attackerOrigin)(h, t)
		h.Set("Referer", attackerOrigin+"/")
	}, cookiesCrossSiteSubresource}
	// A form in a sandboxed iframe (or after a cross-site redirect).
	ctxOriginNull = browserContext{"cross-site form POST with Origin: null", navigate("cross-site", "null"), cookiesCrossSitePOST}
	// A browser without Fetch Metadata (Safari before 16.4, older
	// Chromium and Firefox) posting from the attacker's site.
	ctxLegacy = browserContext{"cross-site form POST from a browser without Fetch Metadata", func(h http.Header, t *url.URL) {
		h.Set("Accept", acceptHTML)
		h.Set("Origin", attackerOrigin)
		h.Set("Referer", attackerOrigin+"/")
	}, cookiesLegacy}
	// The same browser on an http:// page of the service's own host. To
	// browsers without schemeful same-site (Firefox, Safari) that page is
	// the same site, so every cookie goes along.
	ctxLegacyHTTP = browserContext{"form POST from http:// on the same host, without Fetch Metadata", func(h http.Header, t *url.URL) {
		h.Set("Accept", acceptHTML)
		h.Set("Origin", originFor("http-self", t))
		h.Set("Referer", originFor("http-self", t)+"/")
	}, cookiesAll}
	// A page on another site whose host begins with the service's own
	// (https://app.example.com.attacker.invalid), or ends with its
	// registrable domain (https://attackerexample.com): what a check by
	// prefix, suffix or unanchored pattern takes for the service's origin.
	ctxLookalikePrefix = browserContext{"cross-site form POST from an origin that begins with the service's", crossSiteFrom("lookalike-prefix"), cookiesCrossSitePOST}
	ctxLookalikeSuffix = browserContext{"cross-site form POST from an origin that ends with the service's domain", crossSiteFrom("lookalike-suffix"), cookiesCrossSitePOST}
	// A page on another site whose URL holds the service's origin, with
	// Referrer-Policy: unsafe-url so that the Referer is the whole URL
	// (https://attacker.invalid/?https://app.example.com): what a check
	// that the Referer contains the service's host or origin accepts
	// (referer.includes(host), an unanchored pattern).
	ctxLookalikeReferer = browserContext{"cross-site form POST from a page whose URL names the service", func(h http.Header, t *url.URL) {
		navigate("cross-site", attackerOrigin)(h, t)
		h.Set("Referer", attackerOrigin+"/?"+origin(t))
	}, cookiesCrossSitePOST}
	// Another origin of the same site (subdomain or port).
	ctxSameSite = browserContext{"same-site form POST from a sibling origin", func(h http.Header, t *url.URL) {
		navigate("same-site", "sibling")(h, t)
		h.Set("Referer", siblingOrigin(t)+"/")
	}, cookiesAll}
	// A link or window.open on the attacker's page: GETs send no Origin.
	ctxCrossSiteGET = browserContext{"cross-site GET navigation", func(h http.Header, t *url.URL) {
		navigate("cross-site", "")(h, t)
		h.Set("Sec-Fetch-User", "?1")
		h.Set("Referer", attackerOrigin+"/")
	}, cookiesCrossSiteGET}
	// fetch(url, {credentials: "include"}) from the attacker's page.
	ctxCORSRead = browserContext{"cross-site CORS fetch with credentials", func(h http.Header, t *url.URL) {
		fetch("cross-site", "cors", attackerOrigin)(h, t)
		h.Set("Referer", attackerOrigin+"/")
	}, cookiesCrossSiteSubresource}
	// A CORS preflight: never cookies, never a client certificate.
	ctxPreflight = browserContext{"CORS preflight", fetch("cross-site", "cors", attackerOrigin), cookiesNone}
)

// ctxCORSWriteFrom is fetch(url, {method, credentials: "include",
// headers: {"Content-Type": "application/json"}, body}) from a page on
// origin o ("null": a sandboxed iframe's, which sends no Referer): what a
// browser sends only after a preflight that allows it.
func ctxCORSWriteFrom(o string) browserContext {
	return browserContext{"cross-site CORS fetch with credentials", func(h http.Header, t *url.URL) {
		fetch("cross-site", "cors", o)(h, t)
		if o != "null" {
			h.Set("Referer", o+"/")
		}
	}, cookiesCrossSiteSubresource}
}

// siblingOrigin is an origin of the same site as t but not the same
// origin: another port on an IP address or single-label host, else a
// subdomain of the registrable domain.
func siblingOrigin(t *url.URL) string {
	host := t.Hostname()
	if net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		port, _ := strconv.Atoi(t.Port())
		if port == 0 {
			port = map[string]int{"https": 443, "http": 80}[t.Scheme]
		}
		other := port + 1
		if other > 65535 {
			other = port - 1
		}
		return t.Scheme + "://" + net.JoinHostPort(host, strconv.Itoa(other))
	}
	site, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		site = host
	}
	sib := "forgeproof-sibling." + site
	if strings.EqualFold(sib, host) {
		sib = "forgeproof-sibling2." + site
	}
	return t.Scheme + "://" + sib
}

// lookalikePrefix is a cross-site origin that begins with t's scheme and
// host, on t's port: https://app.example.com.attacker.invalid:8443. A
// check such as startsWith(origin, "https://app.example.com") or an
// unanchored pattern accepts it. It is "" for an IPv6 host, which no
// host name can begin with.
func lookalikePrefix(t *url.URL) string {
	host := t.Hostname()
	if strings.Contains(host, ":") {
		return ""
	}
	return t.Scheme + "://" + withPort(host+".attacker.invalid", t.Port())
}

// lookalikeSuffix is a cross-site origin whose host ends with t's
// registrable domain (t's host when it has none, such as localhost), on
// t's port: https://attackerexample.com for app.example.com. A check
// such as endsWith(origin, "example.com") accepts it. It is "" for an IP
// address: a host name that ends with one is not a valid URL host, so no
// browser sends it.
func lookalikeSuffix(t *url.URL) string {
	host := t.Hostname()
	if net.ParseIP(host) != nil {
		return ""
	}
	site, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		site = host
	}
	return t.Scheme + "://" + withPort("attacker"+site, t.Port())
}

func withPort(host, port string) string {
	if port == "" {
		return host
	}
	return net.JoinHostPort(host, port)
}

package scan

import (
	"net/http"
	"regexp"
	"strings"
)

// A Framework is the server-side framework a scan recognised from what
// the service sent (headers, cookie and field names), so that fix advice
// can name the setting to change. The zero value is FrameworkUnknown.
type Framework string

// The frameworks Advice knows.
const (
	FrameworkUnknown Framework = ""
	FrameworkGo      Framework = "go"
	FrameworkDjango  Framework = "django"
	FrameworkRails   Framework = "rails"
	FrameworkExpress Framework = "express"
)

// FrameworkHint is what the scan recognised, and from what.
type FrameworkHint struct {
	Name Framework `json:"name"`
	// Evidence names the header, cookie or field it was told by.
	Evidence string `json:"evidence"`
}

// adviceClass groups rules whose fix is the same change in a framework.
type adviceClass int

const (
	adviceOrigin    adviceClass = iota // the origin check is missing or weak
	adviceToken                        // the anti-CSRF token is weak
	adviceMethod                       // state changes over GET
	adviceOverride                     // _method overrides
	adviceCORS                         // CORS with credentials
	adviceCookie                       // session cookie attributes
	adviceWebSocket                    // the Origin of WebSocket handshakes
	adviceSession                      // the session ID kept at login
)

func classOf(rule string) adviceClass {
	switch rule {
	case RuleTokenEmpty, RuleTokenUnbound, RuleTokenNotRequired:
		return adviceToken
	case RuleMethodDowngrade, RuleGetStateChange:
		return adviceMethod
	case RuleMethodOverride:
		return adviceOverride
	case RuleCORSCredentials:
		return adviceCORS
	case RuleWebSocketCrossSite:
		return adviceWebSocket
	case RuleSessionNotRenewed:
		return adviceSession
	case RuleCookieSameSiteNone, RuleCookieNoSameSite, RuleCookieNotSecure,
		RuleCookieNoHostPrefix, RuleCookieNotHTTPOnly, RuleCookieWideDomain:
		return adviceCookie
	}
	return adviceOrigin
}

// frameworkAdvice is the one source of framework-specific advice, by
// framework and class of rule. A missing entry adds nothing.
var frameworkAdvice = map[Framework]map[adviceClass]string{
	FrameworkGo: {
		adviceOrigin:    "In Go, wrap the handlers in forgeproof's csrf package (csrf.New().Handler(mux)): it reads Sec-Fetch-Site, then the whole Origin, then the Referer; net/http's CrossOriginProtection compares only the Origin host when Sec-Fetch-Site is missing.",
		adviceToken:     "In Go, forgeproof's csrf package issues signed tokens bound to what Protection.SetBinding returns (the session ID, or the client certificate's SPKI hash).",
		adviceMethod:    "In Go, register the handler with a method pattern (mux.HandleFunc(\"POST /path\", …)) so that GET answers 405.",
		adviceOverride:  "In Go, drop the middleware that rewrites r.Method from a form field, or run csrf.Protection's check after it.",
		adviceCORS:      "In Go, give the CORS middleware a fixed list of allowed origins.",
		adviceCookie:    "In Go, set the attributes on the http.Cookie: Name \"__Host-…\", Path \"/\", Secure, HttpOnly, SameSite: http.SameSiteLaxMode, no Domain.",
		adviceWebSocket: "In Go, check the Origin in the upgrade handler: gorilla/websocket's Upgrader.CheckOrigin must not return true for every origin (its nil default compares with Host), coder/websocket's AcceptOptions must not set InsecureSkipVerify, and golang.org/x/net/websocket's Server needs a Handshake that checks Config.Origin.",
		adviceSession:   "In Go, start a new session with a new random ID (and cookie) when the login succeeds, and delete the old one from the store (alexedwards/scs: sessionManager.RenewToken(ctx)).",
	},
	FrameworkDjango: {
		adviceOrigin:    "In Django, keep django.middleware.csrf.CsrfViewMiddleware in MIDDLEWARE, remove @csrf_exempt from this view, and list only your own origins (with scheme) in CSRF_TRUSTED_ORIGINS.",
		adviceToken:     "In Django, render {% csrf_token %} with CsrfViewMiddleware on, and set CSRF_USE_SESSIONS = True to keep the token in the session instead of the csrftoken cookie.",
		adviceMethod:    "In Django, decorate the view with @require_POST (django.views.decorators.http) and change state only under request.method == \"POST\".",
		adviceOverride:  "In Django, do not map a _method field to another view method without CsrfViewMiddleware's check.",
		adviceCORS:      "In Django (django-cors-headers), set CORS_ALLOWED_ORIGINS to a fixed list; never CORS_ALLOW_ALL_ORIGINS with CORS_ALLOW_CREDENTIALS.",
		adviceCookie:    "In Django, set SESSION_COOKIE_SECURE = True, SESSION_COOKIE_HTTPONLY = True, SESSION_COOKIE_SAMESITE = \"Lax\", SESSION_COOKIE_NAME = \"__Host-sessionid\" and leave SESSION_COOKIE_DOMAIN = None.",
		adviceWebSocket: "In Django Channels, wrap the websocket application in channels.security.websocket.AllowedHostsOriginValidator (or OriginValidator with your own origins).",
		adviceSession:   "In Django, log users in with django.contrib.auth.login(), which calls request.session.cycle_key(); a custom login must call request.session.cycle_key() itself.",
	},
	FrameworkRails: {
		adviceOrigin:    "In Rails, keep protect_from_forgery with: :exception in ApplicationController (no skip_forgery_protection for this action; with: :null_session still runs the action, which a client certificate or an API token authenticates without the session) and set config.action_controller.forgery_protection_origin_check = true.",
		adviceToken:     "In Rails, render the form with form_with (or csrf_meta_tags) under protect_from_forgery: its per-session authenticity token is checked by verify_authenticity_token; do not skip that callback.",
		adviceMethod:    "In Rails, route the action with post, patch or delete only (not get, or match … via: :all).",
		adviceOverride:  "In Rails, Rack::MethodOverride turns _method into the verb: keep protect_from_forgery on for every overridden verb.",
		adviceCORS:      "In Rails (rack-cors), list fixed origins in allow do … origins; never a pattern that matches every origin with credentials: true.",
		adviceCookie:    "In Rails, configure the session store with key: \"__Host-…\", secure: true, httponly: true, same_site: :lax.",
		adviceWebSocket: "In Rails (Action Cable), set config.action_cable.allowed_request_origins to your own origins and keep disable_request_forgery_protection false.",
		adviceSession:   "In Rails, call reset_session before storing the user in the session at login (Devise does it through Warden).",
	},
	FrameworkExpress: {
		adviceOrigin:    "Express has no built-in CSRF defence (csurf is deprecated): mount a middleware before the routes that refuses state-changing requests whose Sec-Fetch-Site (or, without it, Origin) is not your own.",
		adviceToken:     "In Express, use a maintained signed double-submit library (csrf-csrf) whose getSessionIdentifier returns the session ID.",
		adviceMethod:    "In Express, register the handler with app.post (not app.get or app.all).",
		adviceOverride:  "In Express, mount method-override after the CSRF check, or not at all.",
		adviceCORS:      "In Express (cors), give origin a fixed list, not true or a function that accepts every origin, with credentials: true.",
		adviceCookie:    "In Express (express-session), set name: \"__Host-sid\" and cookie: {secure: true, httpOnly: true, sameSite: \"lax\"}.",
		adviceWebSocket: "In Node, check the Origin before the upgrade: ws's verifyClient (info.origin), or socket.io's allowRequest with cors.origin a fixed list.",
		adviceSession:   "In Express (express-session), call req.session.regenerate() when the login succeeds and store the user in the new session (Passport 0.6 and later do it in req.login()).",
	},
}

// forgeproofAdvice points at forgeproof itself, for the classes it fixes
// in front of any service.
var forgeproofAdvice = map[adviceClass]string{
	adviceOrigin:    "Or put forgeproof serve in front of the service (any language): it checks the origin of every state-changing browser request; Go services can use the csrf package directly.",
	adviceToken:     "Or put forgeproof serve in front with csrf mode origin-and-token; Go services can use the csrf package's bound tokens directly.",
	adviceOverride:  "forgeproof serve checks the origin of every POST, whatever _method says.",
	adviceWebSocket: "Or put forgeproof serve in front: it checks the Origin of every WebSocket handshake as it checks a POST.",
}

// forgeproofCookieAdvice is the route setting of forgeproof serve's
// cookie hardening (gateway.Cookies, docs/gateway.md) that fixes each
// cookie rule on the way out, for services whose code cannot change.
var forgeproofCookieAdvice = map[string]string{
	RuleCookieSameSiteNone: "Or let forgeproof serve harden it on the way out: cookies: {same-site: lax, override-same-site: true} on the route.",
	RuleCookieNoSameSite:   "Or let forgeproof serve harden it on the way out: cookies: {same-site: lax} on the route.",
	RuleCookieNotSecure:    "Or let forgeproof serve harden it on the way out: cookies: {secure: true} on the route.",
	RuleCookieNoHostPrefix: "Or let forgeproof serve rename it on the way out: cookies: {host-prefix: NAME} on the route gives browsers __Host-NAME and renames it back for the service.",
	RuleCookieNotHTTPOnly:  "Or let forgeproof serve harden it on the way out (if the pages' scripts never read it): cookies: {http-only: true} on the route.",
	RuleCookieWideDomain:   "Or let forgeproof serve drop the Domain on the way out: cookies: {host-prefix: NAME} on the route (__Host- cookies have no Domain).",
}

// Advice is the fix for a rule's finding on a service built with fw:
// the rule's Fix, the framework's own setting when fw is known, and
// where forgeproof (forgeproof serve, its cookie hardening, the csrf
// package) applies. It is
// what Finding.Fix holds.
func Advice(ruleID string, fw Framework) string {
	r, ok := RuleByID(ruleID)
	if !ok {
		return ""
	}
	parts := []string{r.Fix}
	c := classOf(ruleID)
	if a := frameworkAdvice[fw][c]; a != "" {
		parts = append(parts, a)
	}
	if a := forgeproofAdvice[c]; a != "" && !(fw == FrameworkGo && c == adviceToken) {
		parts = append(parts, a)
	}
	if a := forgeproofCookieAdvice[ruleID]; a != "" {
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// railsSession matches Rails' default session cookie name (_app_session).
var railsSession = regexp.MustCompile(`^_[A-Za-z0-9_]+_session$`)

// frameworkSigns are the hints a response gives, strongest first.
var frameworkSigns = []struct {
	fw    Framework
	match func(h http.Header, cookies []*http.Cookie, fields map[string]bool) string
}{
	{FrameworkDjango, func(h http.Header, cs []*http.Cookie, f map[string]bool) string {
		if f["csrfmiddlewaretoken"] {
			return "form field csrfmiddlewaretoken"
		}
		for _, c := range cs {
			if c.Name == "csrftoken" || c.Name == "sessionid" {
				return "cookie " + c.Name
			}
		}
		return ""
	}},
	{FrameworkRails, func(h http.Header, cs []*http.Cookie, f map[string]bool) string {
		if f["authenticity_token"] {
			return "form field authenticity_token"
		}
		for _, c := range cs {
			if railsSession.MatchString(c.Name) {
				return "cookie " + c.Name
			}
		}
		if h.Get("X-Runtime") != "" {
			return "header X-Runtime"
		}
		return ""
	}},
	{FrameworkExpress, func(h http.Header, cs []*http.Cookie, f map[string]bool) string {
		if strings.Contains(strings.ToLower(h.Get("X-Powered-By")), "express") {
			return "header X-Powered-By: Express"
		}
		for _, c := range cs {
			if c.Name == "connect.sid" {
				return "cookie connect.sid"
			}
		}
		return ""
	}},
	{FrameworkGo, func(h http.Header, cs []*http.Cookie, f map[string]bool) string {
		if f["gorilla.csrf.Token"] {
			return "form field gorilla.csrf.Token"
		}
		for _, c := range cs {
			if c.Name == "_gorilla_csrf" || c.Name == "__Host-forgeproof-csrf" {
				return "cookie " + c.Name
			}
		}
		return ""
	}},
}

// observeFramework notes the first framework hint that r gives.
func (sc *scanner) observeFramework(r *response, u string) {
	if sc.report.Framework != nil || r == nil {
		return
	}
	fields := map[string]bool{}
	if strings.Contains(strings.ToLower(r.Header.Get("Content-Type")), "html") {
		for _, f := range parseForms(r.Body, sc.target) {
			for k := range f.Fields {
				fields[k] = true
			}
		}
	}
	cs := r.cookies()
	for _, s := range frameworkSigns {
		if ev := s.match(r.Header, cs, fields); ev != "" {
			sc.report.Framework = &FrameworkHint{Name: s.fw, Evidence: ev + " from " + u}
			return
		}
	}
	// Go's net/http answers an unknown path with this exact body.
	if r.Status == http.StatusNotFound && string(r.Body) == "404 page not found\n" {
		sc.report.Framework = &FrameworkHint{Name: FrameworkGo, Evidence: "net/http's 404 body from " + u}
	}
}

// addFixes fills every finding's Fix for the framework recognised.
func (sc *scanner) addFixes() {
	fw := FrameworkUnknown
	if sc.report.Framework != nil {
		fw = sc.report.Framework.Name
	}
	for i := range sc.report.Findings {
		sc.report.Findings[i].Fix = Advice(sc.report.Findings[i].Rule, fw)
	}
}

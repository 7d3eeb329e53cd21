package scan

// A Rule is one kind of finding. Its ID is stable: scripts, SARIF
// consumers and suppressions rely on it.
type Rule struct {
	ID       string
	Title    string
	Severity Severity
	// Help says why it matters.
	Help string
	// Fix says what to change, for any framework. A finding's Fix adds
	// the advice for the framework the scan recognised (see Advice).
	Fix string
}

// The rule IDs.
const (
	RuleCrossSiteForgery   = "cross-site-forgery"
	RuleTextPlainJSON      = "text-plain-json"
	RuleOriginNull         = "origin-null"
	RuleOriginLookalike    = "origin-lookalike"
	RuleLegacyOrigin       = "legacy-origin"
	RuleOriginScheme       = "origin-scheme-mismatch"
	RuleSameSiteForgery    = "same-site-forgery"
	RuleTokenEmpty         = "token-empty"
	RuleTokenUnbound       = "token-unbound"
	RuleTokenNotRequired   = "token-not-required"
	RuleMethodDowngrade    = "method-downgrade"
	RuleMethodOverride     = "method-override"
	RuleGetStateChange     = "get-state-change"
	RuleCORSCredentials    = "cors-credentials"
	RuleLaxPostWindow      = "lax-post-window"
	RuleCertOnly           = "cert-only-authorization"
	RuleLoginCSRF          = "login-csrf"
	RuleCookieSameSiteNone = "cookie-samesite-none"
	RuleCookieNoSameSite   = "cookie-samesite-missing"
	RuleCookieNotSecure    = "cookie-not-secure"
	RuleCookieNoHostPrefix = "cookie-no-host-prefix"
	RuleCookieNotHTTPOnly  = "cookie-not-httponly"
	RuleCookieWideDomain   = "cookie-wide-domain"
	RulePreflightOnly      = "preflight-only"
	RuleWebSocketCrossSite = "websocket-cross-site"
	RuleSessionNotRenewed  = "session-not-renewed"
)

// Rules lists every rule the scanner can report, in a stable order.
var Rules = []Rule{
	{RuleCrossSiteForgery, "Cross-site form POST accepted", SeverityHigh,
		"A page on another site made the browser send this state-changing request, with the client certificate and the cookies a browser attaches, and the service accepted it.",
		"Check the origin of every state-changing browser request (Sec-Fetch-Site, then the full Origin) and refuse cross-site ones."},
	{RuleTextPlainJSON, "JSON endpoint accepts a cross-site text/plain body", SeverityHigh,
		"A cross-site HTML form with enctype=text/plain can send a JSON-shaped body without a CORS preflight. The endpoint parsed it as JSON.",
		"Require Content-Type: application/json (which forces a preflight) and check the origin."},
	{RuleOriginNull, "Request with Origin: null accepted", SeverityHigh,
		"Sandboxed iframes, data: URLs and some redirects send Origin: null, and any site can produce them; a page with Referrer-Policy: no-referrer sends it too, and no Referer, so a check that skips a missing Referer lets the request through as well.",
		"Never treat Origin: null as a trusted origin, nor a missing Referer as a same-origin one: refuse both on state-changing requests."},
	{RuleLegacyOrigin, "Cross-site Origin accepted without Fetch Metadata", SeverityHigh,
		"Browsers that do not send Sec-Fetch-Site still send Origin on cross-site POSTs. A defence that only reads Sec-Fetch-Site, and allows requests without it, lets them through.",
		"When Sec-Fetch-Site is absent, compare the full Origin with the service's own origin and refuse any other."},
	{RuleOriginScheme, "Origin compared by host only (http:// accepted on https://)", SeverityMedium,
		"An Origin with the service's host but the http scheme was accepted: the service does not compare whole origins (it compares hosts only, the weakness of CrossOriginProtection's fallback, or checks none: see the other findings of the endpoint). A network attacker who can answer for http://host can forge requests.",
		"Compare the whole origin: scheme, host and port."},
	{RuleSameSiteForgery, "Same-site sibling origin accepted", SeverityMedium,
		"A request from another origin of the same site (another subdomain or port) was accepted. Same-site requests carry even SameSite=Strict cookies and the client certificate; a compromised or user-controlled sibling can forge them.",
		"Refuse Sec-Fetch-Site: same-site unless that origin is trusted explicitly."},
	{RuleTokenEmpty, "Empty anti-CSRF token accepted", SeverityHigh,
		"A forged request with the token field present but empty was accepted.",
		"Reject empty tokens and compare tokens in constant time."},
	{RuleTokenUnbound, "Anti-CSRF token not bound to the session", SeverityHigh,
		"A token issued to another session (the attacker's own) was accepted for the victim's.",
		"Bind tokens to the session or to the client certificate (sign them) so that one session's token is worthless in another."},
	{RuleTokenNotRequired, "Anti-CSRF token served but not required", SeverityLow,
		"The page puts an anti-CSRF token in the form, but a same-origin submission without it, from a browser that sends neither Fetch Metadata nor Origin, was accepted: the token protects nothing, and only the origin check guards this endpoint. A forgery from such a browser (an old one, with the Referer suppressed) looks the same.",
		"Verify the token on every state-changing request that lacks Sec-Fetch-Site and Origin (forgeproof's token-if-no-browser-headers or origin-and-token mode), or stop serving it."},
	{RuleMethodDowngrade, "State change accepted over GET", SeverityHigh,
		"The endpoint's parameters sent as a cross-site GET navigation were accepted. Top-level GET navigations carry SameSite=Lax cookies and the client certificate, and most defences let GET through.",
		"Accept state changes on POST (or PUT, PATCH, DELETE) only; answer 405 to a GET."},
	{RuleMethodOverride, "Method override parameter honoured on a forged request", SeverityHigh,
		"A _method parameter let a cross-site form reach a method that a form cannot send.",
		"Disable method overrides for browser requests, or apply the origin check after the override."},
	{RuleGetStateChange, "State-changing GET accepted cross-site", SeverityHigh,
		"This state-changing endpoint is a GET and a cross-site navigation reached it. Origin checks skip GET by design.",
		"Move the state change to POST (and check its origin)."},
	{RuleCORSCredentials, "CORS reflects an arbitrary origin with credentials", SeverityHigh,
		"The response allowed an arbitrary origin with Access-Control-Allow-Credentials: true, so any site can read responses (tokens, balances) and send preflighted requests with the user's cookies and certificate.",
		"Allow a fixed list of origins; never echo the request's Origin with credentials."},
	{RuleLaxPostWindow, "Forgery works through the Lax+POST window", SeverityHigh,
		"The forgery succeeded only with a cookie that has no SameSite attribute. Chromium sends such cookies on cross-site top-level POSTs for two minutes after they are set (Lax+POST), so a user who just logged in is exposed.",
		"Set SameSite explicitly on the session cookie and check the origin."},
	{RuleCertOnly, "State change authorized by the client certificate alone", SeverityLow,
		"The endpoint accepted a request that carried the client certificate and no cookie. Browsers present the certificate on forged requests whatever SameSite says, so the origin check is the only defence here.",
		"Keep the origin check on, or also require a session."},
	{RuleWebSocketCrossSite, "WebSocket handshake accepted from another site (cross-site WebSocket hijacking)", SeverityHigh,
		"A page on another site opened this WebSocket as the user: browsers present the client certificate and SameSite=None cookies on a cross-site handshake, a GET that CORS does not restrict, and the page can then send messages on the socket and read the answers.",
		"Check the Origin of every WebSocket handshake against the service's own origin (and the ones it trusts) and refuse the others with 403, as forgeproof serve does on every route; in Go, run csrf.Protection's Check on the handshake as if it were a POST."},
	{RuleLoginCSRF, "Login accepts a cross-site POST (login CSRF)", SeverityMedium,
		"A cross-site page can log the victim into the attacker's account and watch what they do there.",
		"Check the origin on the login form too (and bind its token to a pre-session cookie)."},
	{RuleCookieSameSiteNone, "Session cookie is SameSite=None", SeverityMedium,
		"The cookie rides every cross-site request.",
		"Use SameSite=Lax or Strict."},
	{RuleCookieNoSameSite, "Session cookie has no SameSite attribute", SeverityLow,
		"Browsers differ on the default, and Chromium's Lax+POST exception sends it on cross-site POSTs for two minutes after it is set.",
		"Set SameSite=Lax or Strict."},
	{RuleCookieNotSecure, "Session cookie lacks Secure", SeverityMedium,
		"It can be sent over plain HTTP and overwritten by a network attacker.",
		"Set Secure."},
	{RuleCookieNoHostPrefix, "Session cookie does not use the __Host- prefix", SeverityLow,
		"Without __Host- a sibling subdomain or plain-HTTP page can set or shadow the cookie (cookie tossing), which defeats double-submit tokens.",
		"Name it __Host-… with Secure, Path=/ and no Domain."},
	{RuleCookieNotHTTPOnly, "Session cookie lacks HttpOnly", SeverityLow,
		"Script on any page of the site can read the session.",
		"Set HttpOnly."},
	{RuleCookieWideDomain, "Session cookie is shared with sibling hosts (Domain attribute)", SeverityLow,
		"A Domain attribute sends the cookie to every subdomain, so any of them can use or overwrite the session.",
		"Omit Domain."},
	// Added after the others, so that existing rules keep their SARIF
	// rule index.
	{RuleOriginLookalike, "Look-alike Origin accepted (prefix or suffix match)", SeverityHigh,
		"A cross-site form POST from an origin whose host begins with the service's host (https://app.example.com.attacker.invalid) or ends with its registrable domain (https://attackerexample.com) was accepted: the origin check matches a prefix, a suffix or an unanchored pattern, and an attacker can register such a domain (app.example.com.evil.net, evilexample.com). Or one from a page whose URL holds the service's origin (https://attacker.invalid/?https://app.example.com, sent whole as the Referer under Referrer-Policy: unsafe-url) was: the check looks for the service's host or origin anywhere in the Referer.",
		"Compare the whole Origin (scheme, host and port), or the Referer's origin, for equality with the service's origin or an entry of a fixed list; never with startsWith, endsWith, contains or an unanchored regular expression."},
	{RulePreflightOnly, "Only the CORS preflight protects this JSON endpoint (Content-Type check, closed CORS)", SeverityInfo,
		"Every cross-site form and no-cors fetch was refused, but the same JSON request from another site, which a browser sends only after a CORS preflight that allows it, was accepted. The endpoint is not exposed today: its only defence is that it refuses the Content-Type (or method) a page on another site can send without a preflight, and that its CORS policy stays closed. A preflight that comes to allow another origin with credentials, or a Content-Type check that comes to accept text/plain (a lax match, a JSON parser for any type), opens it.",
		"Check the origin of state-changing requests too (Sec-Fetch-Site, or Origin against the service's own), or require a custom header or token, so that the endpoint does not rest on its Content-Type check and CORS configuration alone."},
	{RuleSessionNotRenewed, "Session cookie not renewed at login (session fixation)", SeverityInfo,
		"The login kept the session cookie's value from before the login: the session ID that an anonymous visitor was given became the logged-in session. Whoever planted that ID (through a sibling subdomain, a plain-HTTP page, a URL that sets it) or read it before the login shares the session afterwards (OWASP: session fixation). It is no cross-site request forgery, and the scanner reports it for information.",
		"Issue a new session ID at login (and at any change of privilege), and drop the old one."},
}

// RuleByID returns the rule with the given ID.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

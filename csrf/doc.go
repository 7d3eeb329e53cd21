// Package csrf stops cross-site request forgery: it refuses state-changing
// requests that a browser was tricked into sending, and lets every other
// request through untouched.
//
// A browser attaches ambient credentials, cookies and TLS client
// certificates alike, to every request it sends to a host, including those a
// page on another site makes it send. SameSite filters cookies only. So a
// service that authenticates browsers by cookie or by client certificate
// must check where each state-changing request comes from; this package
// does, and optionally requires signed tokens bound to the session or to the
// client certificate.
//
// # Use
//
//	p := csrf.New() // the zero value works too
//	if err := p.AddTrustedOrigin("https://admin.example.com"); err != nil { … }
//	http.ListenAndServeTLS(addr, cert, key, p.Handler(mux))
//
// [Protection.Handler] is the middleware; [Protection.Check] is the same
// decision as a function returning an [*Error]. Every setter is safe to call
// while requests are being served.
//
// # Origin verification (always on)
//
// GET, HEAD and OPTIONS pass: they must not change state. Every other
// method, including unknown ones and TRACE, is checked, in this order
// (and a WebSocket handshake, a GET with Upgrade: websocket, by steps 0
// to 3, without a token: a browser sends a cross-site one with the client
// certificate and cookies, and many WebSocket servers accept any Origin):
//
//  0. A request that carries Sec-Fetch-Site, Origin or Referer more than
//     once (two lines, or two values joined with a comma; for Referer a
//     comma followed by another "scheme://", when neither Sec-Fetch-Site
//     nor Origin is sent: a page's URL may hold one) is refused with
//     [ReasonHeaderRepeated]: browsers send each once, and a check that
//     reads one copy while the application reads the other decides
//     nothing.
//  1. Sec-Fetch-Site: "same-origin" and "none" pass; "cross-site" is
//     refused; "same-site" (another port or subdomain of the same site) is
//     refused unless [Protection.SetAllowSameSite]; any other value is
//     refused. A trusted origin in the Origin header passes in every case.
//  2. Without Sec-Fetch-Site, the whole Origin (scheme, host and port) must
//     equal the request's own origin or a trusted one, so http://app posting
//     to https://app is refused (net/http's CrossOriginProtection compares
//     hosts only and lets it through). "Origin: null" is refused. Scheme
//     and host compare case-insensitively ("Host: APP.example", as some
//     proxies pass it, is the origin https://app.example).
//  3. Without either, the origin of the Referer must match the same way.
//  4. With none of the three, the request comes from a program, not a
//     page, and passes, unless the mode requires a token (see Modes).
//
// The request's own origin is, in order: the canonical origin
// ([Protection.AddCanonicalOrigin]); else https when the connection is TLS
// and http otherwise, with the Host header; where the TCP peer is a trusted
// proxy ([Protection.AddTrustedProxy]), its Forwarded or X-Forwarded-Proto
// and X-Forwarded-Host values override those (which values, and what is
// refused, is in its doc). The scheme is never taken from r.URL, which is
// empty on server requests (the 2025 gorilla/csrf and nosurf advisories),
// and trusted origins are whole origins, never bare hosts (CVE-2025-47909).
//
// Requests whose path matches a pattern given to
// [Protection.AddInsecureBypassPattern] skip every check (a path that
// matches only once cleaned, only with an encoded slash read as part
// of a segment, or only once an escape is decoded, does not; nor does a
// request whose method override names a method the pattern does not: see
// its doc).
//
// # Tokens (on when a key ring is set)
//
// A token is an HMAC-SHA256, truncated to 128 bits, over a random nonce, a
// key ID and a binding value: what [Protection.SetBinding] returns for the
// request (a session ID, or the SHA-256 of the client certificate's public
// key), or, when it returns nothing, a random pre-session value that
// Handler keeps in the "__Host-forgeproof-csrf" cookie (login forms,
// anonymous visitors). A token minted for one binding fails for every
// other. Each token handed out is masked with a fresh one-time pad, so no
// two responses contain the same bytes (BREACH), and checked in constant
// time.
//
// [Protection.Token] returns a token for a request; [Protection.TemplateField]
// a hidden form field for html/template; [Protection.Rotate] replaces the
// pre-session value at login. Tokens are read from the X-CSRF-Token header,
// then (with [Protection.SetSPA]) the X-XSRF-TOKEN header, then the
// csrf_token field of a urlencoded or multipart form body, which is read at
// most once from the network and given back to the handler in full. The
// first of these that holds a token is the only one checked; the query
// string is never read.
//
// Keys come in a [KeyRing]: the first key signs, all verify, so keys rotate
// without breaking open pages. A key file ([LoadKeyRing]) holds one base64
// key per line, the active key first; '#' starts a comment line. Keys
// shorter than 32 bytes are refused.
//
// # Modes
//
//   - [ModeOriginOnly] (default): origin verification only.
//   - [ModeOriginAndToken]: origin verification and a valid token on every
//     unsafe request, from browsers and programs alike.
//   - [ModeTokenIfNoBrowserHeaders]: a token only on requests with neither
//     Sec-Fetch-Site nor Origin (old browsers, programs).
//
// [Protection.SetReportOnly] computes every decision and reports refusals to
// the observer ([Protection.SetObserver]) but lets the requests through: roll
// out in report-only mode first.
//
// # Cookies
//
// The pre-session cookie is "__Host-" prefixed, Secure, HttpOnly, Path=/,
// SameSite=Lax, with no Domain. The SPA cookie "XSRF-TOKEN" is the same but
// readable by JavaScript and without the prefix (the name frameworks look
// for), so a sibling subdomain can plant one: its token fails for the
// victim's binding. Browsers may drop Secure and "__Host-" cookies on
// plain HTTP; for development on http://localhost, turn on
// [Protection.SetInsecureLocalhostHTTP], which drops both for plain-HTTP
// requests to localhost, 127.0.0.1 and [::1] only.
//
// # Refusals
//
// A refusal is an [*Error] with a stable [Reason] code ([ReasonOf] gets it
// from any error). The default response is 403 with an RFC 9457 problem
// document when the client accepts JSON, plain text otherwise, carrying the
// reason but never the request's header values; [Protection.SetDenyHandler]
// replaces it.
//
// # Caveats
//
// Safe methods are never checked, but for WebSocket handshakes' origin: a
// GET that changes state is unprotected.
// A GET, HEAD or OPTIONS whose method override (a _method query parameter,
// in any spelling a common parser reads as _method, or
// X-HTTP-Method-Override, X-HTTP-Method or X-Method-Override) names
// another method is checked as unsafe, since an application with
// method-override middleware reads it as that method
// ([UnsafeMethodOverride]).
// A same-site sibling (another subdomain or port) is a different origin and
// is refused by default; allow same-site only if every sibling is as trusted
// as this origin, since a taken-over subdomain could then forge requests.
// Behind a proxy that terminates TLS, configure canonical origins or trusted
// proxies, or every browser request without Sec-Fetch-Site from the https
// origin is refused (fail closed), while one whose Origin or Referer is the
// plain-HTTP twin (http://app, a page a network attacker can forge) passes,
// as the connection is plain HTTP too.
package csrf

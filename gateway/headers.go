package gateway

import (
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/forgeproof/forgeproof/internal/wsupgrade"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// What the gateway forwards (issue 11): no header may mean one thing to the
// gateway and another to the upstream. Before a request is forwarded,
// withoutClientHeaders drops
//
//   - every identity header of forgeproof and mtls (forwarded.HeaderNames,
//     Forgeproof-*), as before;
//   - identity-like headers of other products (identityLikeNames and
//     identityLikePrefixes, plus the config's strip-request-headers), under
//     any spelling: an upstream written for nginx, HAProxy, Apache, IIS,
//     a cloud load balancer or an identity-aware proxy may trust them;
//   - every header whose name has a character other than a letter, a digit
//     or '-' ("X_Forwarded_For"): CGI, WSGI, Rack and PHP map '-' and '_'
//     to the same variable, so the twin can override the gateway's own
//     header (Puma's CVE-2024-45614). A route with allow-underscore-headers
//     keeps them, except twins of a header the gateway sets, strips or
//     decides on (gatewayHeaders), which are always dropped;
//   - every Upgrade but a WebSocket handshake on GET (after its origin
//     check), HTTP2-Settings, and any mention of them in Connection
//     (forwardUpgrade): an h2c upgrade the upstream accepts would turn the
//     connection into a tunnel nothing checks.
//
// Names are compared normalised: lower case, every byte other than a
// letter or digit as '-' (normaliseName, as mtls compares them).

// identityLikeNames are normalised names of headers that carry a client
// certificate, its fields or its verification result, or a verified user,
// in other products. Keep docs/security-model.md in step (a test checks).
var identityLikeNames = []string{
	"x-ssl",                          // HAProxy convention: "1" when the client used TLS
	"x-ssl-cert",                     // nginx/HAProxy convention
	"x-client-verify",                // nginx/HAProxy convention ($ssl_client_verify)
	"x-client-dn",                    // nginx/HAProxy convention
	"x-client-s-dn",                  // nginx/HAProxy convention
	"x-client-i-dn",                  // nginx/HAProxy convention
	"x-client-subject",               // ad hoc
	"x-client-issuer",                // ad hoc
	"x-client-serial",                // ad hoc
	"x-client-fingerprint",           // ad hoc
	"x-arr-ssl",                      // IIS Application Request Routing
	"wl-proxy-ssl",                   // Oracle WebLogic proxy plug-in
	"x-remote-user",                  // Apache/nginx REMOTE_USER conventions
	"remote-user",                    // Apache/nginx REMOTE_USER conventions
	"x-forwarded-user",               // oauth2-proxy
	"x-forwarded-email",              // oauth2-proxy
	"x-forwarded-groups",             // oauth2-proxy
	"x-forwarded-preferred-username", // oauth2-proxy
	"x-goog-iap-jwt-assertion",       // Google Cloud IAP
	"remote-email",                   // Authelia (with Remote-User), Caddy forward_auth
	"remote-groups",                  // Authelia
	"remote-name",                    // Authelia
	"x-forwarded-access-token",       // oauth2-proxy
	"x-auth-username",                // Keycloak Gatekeeper / Louketo
	"x-auth-email",                   // Keycloak Gatekeeper / Louketo
	"x-auth-roles",                   // Keycloak Gatekeeper / Louketo
	"x-auth-groups",                  // Keycloak Gatekeeper / Louketo
	"x-auth-subject",                 // Keycloak Gatekeeper / Louketo
	"x-auth-userid",                  // Keycloak Gatekeeper / Louketo
	"x-credential-identifier",        // Kong
	"x-anonymous-consumer",           // Kong
	"x-userinfo",                     // Kong OpenID Connect
}

// identityLikePrefixes are normalised name prefixes of such headers.
var identityLikePrefixes = []string{
	"ssl-client-",                 // Apache mod_ssl variables passed as headers (SSL_CLIENT_CERT, SSL_CLIENT_S_DN, …), ingress-nginx ssl-client-*
	"x-ssl-client-",               // nginx/HAProxy conventions: X-SSL-Client-Cert, -DN, -Verify, -CN, …
	"x-client-cert",               // X-Client-Cert, X-Client-Certificate, Google Cloud LB mTLS X-Client-Cert-*
	"x-arr-clientcert",            // IIS ARR, Azure App Service
	"x-amzn-mtls-clientcert",      // AWS ALB mTLS: X-Amzn-Mtls-Clientcert and -Serial-Number, -Issuer, -Subject, -Validity, -Leaf
	"x-amzn-oidc-",                // AWS ALB authentication
	"x-forwarded-tls-client-cert", // Traefik: X-Forwarded-Tls-Client-Cert and -Info
	"cf-client-cert",              // Cloudflare mTLS
	"cf-access-",                  // Cloudflare Access: Cf-Access-Jwt-Assertion, -Authenticated-User-Email
	"x-ms-client-principal",       // Azure App Service authentication
	"x-goog-authenticated-user-",  // Google Cloud IAP
	"wl-proxy-client-",            // Oracle WebLogic: WL-Proxy-Client-Cert, -IP
	"x-tls-client-",               // ad hoc
	"x-mtls-",                     // ad hoc
	"x-auth-request-",             // oauth2-proxy (nginx auth_request)
	"x-webauth-",                  // Grafana and Gitea/Forgejo reverse-proxy authentication: X-WEBAUTH-USER, -EMAIL, -FULLNAME
	"x-pomerium-",                 // Pomerium: X-Pomerium-Jwt-Assertion, X-Pomerium-Claim-*
	"x-authentik-",                // authentik proxy outpost
	"tailscale-user-",             // Tailscale serve: Tailscale-User-Login, -Name, -Profile-Pic
	"x-consumer-",                 // Kong: X-Consumer-ID, -Custom-ID, -Username, -Groups
	"x-authenticated-",            // Kong OAuth2: X-Authenticated-Userid, -Scope; ad hoc X-Authenticated-User
	"x-ms-token-",                 // Azure App Service authentication tokens
}

// pathOverrideNames are normalised names of headers that name another
// path than the request line's, which some upstreams route by: IIS URL
// Rewrite and ARR, Symfony before CVE-2018-14773, Zend/Laminas and Drupal
// (X-Original-URL, X-Rewrite-URL), and conventions of nginx, Traefik and
// Envoy. The gateway chose the route from the request line, so they are
// dropped from every peer, trusted proxies included; and so is Proxy,
// which CGI-style upstreams expose as HTTP_PROXY, the variable their own
// HTTP clients take for an outgoing proxy (httpoxy). Keep
// docs/security-model.md in step (a test checks).
var pathOverrideNames = []string{
	"x-original-url",        // IIS URL Rewrite and ARR, Symfony, Zend/Laminas, Drupal
	"x-rewrite-url",         // IIS ISAPI_Rewrite, Symfony, Zend/Laminas
	"x-original-uri",        // nginx auth_request convention
	"x-forwarded-uri",       // Traefik
	"x-forwarded-path",      // ad hoc
	"x-envoy-original-path", // Envoy
	"x-script-name",         // Flask/WSGI "ReverseProxied" recipe: cut from PATH_INFO
	"proxy",                 // httpoxy (CVE-2016-5385): HTTP_PROXY in CGI, Rack and WSGI
}

// forwardingNames are normalised names of headers that a proxy sets to
// say where the request came from or how the client addressed it, and
// that upstreams believe: the client's IP (allow-lists, rate limits,
// audit logs) and the scheme, port, prefix or host to build URLs,
// redirects and cookies with. The gateway sets X-Forwarded-For, -Host and
// -Proto itself; these it drops unless the peer is a trusted proxy
// (trusted-proxies), as it drops those. Keep docs/security-model.md in
// step (a test checks).
var forwardingNames = []string{
	"x-real-ip",                  // nginx convention
	"x-client-ip",                // ad hoc, Apache mod_remoteip configurations
	"client-ip",                  // PHP's HTTP_CLIENT_IP, which a common idiom reads first
	"true-client-ip",             // Akamai, Cloudflare Enterprise
	"x-cluster-client-ip",        // Rackspace, Riverbed
	"cf-connecting-ip",           // Cloudflare
	"fastly-client-ip",           // Fastly
	"x-original-forwarded-for",   // ingress-nginx behind another proxy
	"x-forwarded",                // ad hoc
	"forwarded-for",              // ad hoc
	"x-envoy-external-address",   // Envoy
	"x-azure-clientip",           // Azure Front Door
	"x-forwarded-port",           // AWS ELB, Spring, Express
	"x-forwarded-prefix",         // Spring, Traefik, ASP.NET Core
	"x-forwarded-server",         // Apache mod_proxy
	"x-forwarded-ssl",            // Rack, Rails
	"x-forwarded-scheme",         // Rack, nginx conventions
	"x-forwarded-protocol",       // Microsoft conventions
	"x-url-scheme",               // Rack
	"front-end-https",            // Microsoft OWA, Rack
	"x-original-host",            // Azure, IIS ARR
	"x-host",                     // ad hoc, some PHP frameworks
	"x-scheme",                   // Tornado (xheaders), Flask "ReverseProxied" recipe
	"x-originating-ip",           // Microsoft Exchange/Outlook conventions, PHP idioms
	"x-remote-ip",                // ad hoc, PHP idioms
	"x-remote-addr",              // ad hoc, PHP idioms
	"x-proxyuser-ip",             // Google Cloud
	"x-appengine-user-ip",        // Google App Engine
	"cloudfront-forwarded-proto", // AWS CloudFront: the viewer's scheme
	"cf-visitor",                 // Cloudflare: {"scheme":"https"}, read by PHP apps and WordPress
}

// originNames are normalised names of the forwarding headers above that
// name the request's scheme, port or host another way than Forwarded and
// X-Forwarded-Proto/-Host, which the gateway sets, for a request from a
// trusted proxy, to the origin it read and checked (forwardOrigin).
// Upstreams read them first or instead: Rack X-Forwarded-Ssl, then
// X-Forwarded-Scheme (Rack 2: before X-Forwarded-Proto), then
// X-Forwarded-Port when the host names no port; Spring X-Forwarded-Ssl
// (without X-Forwarded-Proto) and X-Forwarded-Port; gunicorn
// X-Forwarded-Protocol and -Ssl; Tornado X-Scheme before
// X-Forwarded-Proto; Werkzeug's ProxyFix and Django X-Forwarded-Port. So
// from a trusted proxy one goes on only when every value agrees with the
// origin checked (withoutOtherOrigins); from any other peer it is dropped
// with the other forwarding headers. Keep docs/security-model.md in step
// (a test checks).
var originNames = map[string]originRule{
	"x-forwarded-ssl":            originOnOff,     // "on": https (Rack, Spring, gunicorn)
	"front-end-https":            originOnOff,     // "on": https (Microsoft OWA convention)
	"x-forwarded-scheme":         originScheme,    // Rack, nginx conventions
	"x-url-scheme":               originScheme,    // ad hoc
	"x-scheme":                   originScheme,    // Tornado (xheaders)
	"x-forwarded-protocol":       originProtocol,  // "ssl": https (gunicorn's secure_scheme_headers)
	"x-forwarded-port":           originPort,      // Rack, Spring, Django, Werkzeug ProxyFix
	"x-original-host":            originHost,      // Azure, IIS ARR
	"x-host":                     originHost,      // ad hoc, some PHP frameworks
	"cloudfront-forwarded-proto": originScheme,    // AWS CloudFront
	"cf-visitor":                 originCFVisitor, // Cloudflare
}

// An originRule is how an origin header's values are compared with the
// origin checked.
type originRule uint8

const (
	originOnOff     originRule = iota + 1 // "on" for https, "off" for http
	originScheme                          // the scheme
	originProtocol                        // the scheme, or "ssl" for https
	originPort                            // the host's port, else the scheme's default
	originHost                            // the host, default port aside
	originCFVisitor                       // {"scheme":"…"}, as Cloudflare writes it
)

// gatewayHeaders are normalised names of headers the gateway sets, strips
// or decides on: their twins with '_' are dropped even on a route that
// allows such names, since a CGI-style upstream would read the twin as the
// header the gateway vouched for (or removed).
var gatewayHeaders = []string{
	"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
	"x-forwarded-port", "x-forwarded-prefix", "x-forwarded-server",
	"x-forwarded-ssl", "x-forwarded-scheme", "x-real-ip", "forwarded",
	"host", "content-length", "transfer-encoding", "te", "trailer",
	"connection", "keep-alive", "proxy-connection", "upgrade",
	"http2-settings", "proxy-authorization", "proxy-authenticate",
	"origin", "referer", "sec-fetch-site", "sec-fetch-mode",
	"sec-fetch-dest", "sec-fetch-user", "cookie", "authorization",
	"x-csrf-token", "sec-websocket-key", "sec-websocket-version",
	"sec-websocket-protocol", "sec-websocket-extensions",
	// Method overrides, which the CSRF guard decides on (csrf.UnsafeMethodOverride).
	"x-http-method-override", "x-http-method", "x-method-override",
}

// A headerKind is what the lists above, and forwarded.HeaderNames, say
// of one normalised name; a name may be on several (x-real-ip is a
// forwarding header the gateway decides on).
type headerKind uint8

const (
	kindOwn          headerKind = 1 << iota // forwarded.HeaderNames: forgeproof's own identity headers
	kindIdentityLike                        // identityLikeNames
	kindPathOverride                        // pathOverrideNames
	kindForwarding                          // forwardingNames
	kindGateway                             // gatewayHeaders
	kindOrigin                              // originNames
)

// headerKinds maps every name on the lists above to its kinds, so that
// headerVerdict looks a request header up once instead of comparing it
// with each list.
var headerKinds = func() map[string]headerKind {
	m := map[string]headerKind{}
	for _, l := range []struct {
		names []string
		kind  headerKind
	}{{forwarded.HeaderNames(), kindOwn}, {identityLikeNames, kindIdentityLike}, {pathOverrideNames, kindPathOverride},
		{forwardingNames, kindForwarding}, {gatewayHeaders, kindGateway}} {
		for _, n := range l.names {
			m[n] |= l.kind
		}
	}
	for n := range originNames {
		m[n] |= kindOrigin
	}
	return m
}()

// identityLikeStems indexes identityLikePrefixes by their first
// stemLen bytes, the length of the shortest, so that a name is compared
// only with the prefixes that start as it does.
var identityLikeStems = func() map[string][]string {
	m := map[string][]string{}
	for _, p := range identityLikePrefixes {
		m[p[:stemLen]] = append(m[p[:stemLen]], p)
	}
	return m
}()

// stemLen is the length of the shortest of identityLikePrefixes
// (TestHeaderKinds checks).
const stemLen = len("x-mtls-")

// Kinds of dropped headers, the "kind" label of
// forgeproof_gateway_request_headers_dropped_total.
const (
	dropUnderscore   = "underscore"    // a name with '_' or other punctuation
	dropIdentityLike = "identity-like" // another product's identity header
	dropUpgrade      = "upgrade"       // an Upgrade that is not a WebSocket handshake, HTTP2-Settings
	dropForwarding   = "forwarding"    // a path override, or a forwarding header from an untrusted peer
)

// dropped counts what withoutClientHeaders and forwardUpgrade removed from
// one request, for the metric. origin is no count: a header of
// originNames was kept (from a trusted proxy), for rewriteFiltered to
// compare with the origin checked; it clears it.
type dropped struct {
	underscore, identityLike, upgrade, forwarding int
	origin                                        bool
}

// A check names one check that a test's negative control may turn off.
type check uint8

const (
	checkRequests     check = iota // the Host and path checks (host-invalid, path-ambiguous)
	checkRecheck                   // refusing open connections the re-check refused
	checkUpgrade                   // Upgrade stripping and the refusal of unasked 101s
	checkUnderscore                // dropping names with '_'
	checkIdentityLike              // dropping other products' identity headers
	checkChunkedClose              // closing after a chunked HTTP/1.1 request
	checkFraming                   // refusing Content-Length with Transfer-Encoding (framing-ambiguous)
	checkForwarding                // dropping path overrides and untrusted forwarding headers
	checkBodyFraming               // dropping Expect, closing after bodies of bodyless methods
	// checkFastUpstream is no check: off, every upstream request goes
	// through net/http's Transport instead of the gateway's own HTTP/1.1
	// connections (upstream.go), for the tests that compare the two.
	checkFastUpstream
	checkClientWatch // noticing a client gone while its handler runs (h1Server)
	// checkOwnServer is no check: off, HTTP/1.x connections are served by
	// net/http's server instead of the gateway's h1Server, for the tests
	// that compare the two.
	checkOwnServer
	// checkDirectProxy is no check: off, every request goes through
	// httputil.ReverseProxy instead of the direct path (direct.go), for
	// the tests that compare the two.
	checkDirectProxy
	checkKeepHeaders // keeping the gateway's own header fields across an upstream's 1xx (keepHeaders)
	// checkOwnContext is no check: off, h1Server gives each request a
	// context.WithCancel instead of an h1ReqCtx (h1context.go), for the
	// tests that compare the two.
	checkOwnContext
	checkCanonicalNames  // canonical field names of requests given to Handler (withCanonicalHeader)
	checkForwardedOrigin // refusing a trusted proxy's malformed or conflicting Forwarded, forwarding its last element only
	checkLogLimit        // limiting the log lines clients can cause at will (loglimit.go)
	numChecks
)

// checksOff holds the checks turned off, for the tests' negative controls
// only: a Gateway's own is set through export_test.go, never in
// production. The Gateway's compiled configurations point at it, so a
// switch holds across reloads, and tests of different Gateways can run in
// parallel. A nil *checksOff (Validate, the internal tests) has every
// check on.
type checksOff [numChecks]atomic.Bool

// off reports whether c is turned off.
func (o *checksOff) off(c check) bool { return o != nil && o[c].Load() }

// headerPolicy is the compiled header configuration: the extra names and
// prefixes of strip-request-headers, normalised.
type headerPolicy struct {
	names    map[string]bool
	prefixes []string
	// plain holds the names of commonHeaders that headerVerdict keeps
	// under every setting, so that it answers for them with one lookup
	// (normalising the name and looking it up in the lists took about
	// 70 ns per header). nil: none, every name takes the long way.
	plain map[string]bool
}

// commonHeaders are the names, in net/http's canonical spelling, of
// request headers that browsers and HTTP libraries send on most requests.
var commonHeaders = []string{
	"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
	"Content-Length", "Content-Type", "Dnt", "If-Modified-Since", "If-None-Match",
	"Pragma", "Priority", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform",
	"Sec-Fetch-Dest", "Sec-Fetch-User", "Upgrade-Insecure-Requests", "User-Agent",
	"Cookie", "Origin", "Referer", "Sec-Fetch-Mode", "Sec-Fetch-Site",
}

// plainNames returns the names of commonHeaders that headerVerdict keeps
// under its strictest settings (no underscore names allowed, no trusted
// peer, every check on), and so under every setting: each setting only
// spares a header a drop, it never adds one.
func (hp *headerPolicy) plainNames() map[string]bool {
	plain := map[string]bool{}
	for _, name := range commonHeaders {
		if drop, kind := hp.headerVerdict(name, false, false, nil); !drop && kind == "" {
			plain[name] = true
		}
	}
	return plain
}

// parseStripHeaders compiles strip-request-headers: header names, or
// prefixes ending in '*'.
func (p *compiler) parseStripHeaders(key string, list []string) headerPolicy {
	var hp headerPolicy
	for i, s := range list {
		name, prefix := strings.CutSuffix(s, "*")
		if name == "" || !validHeaderName(name) {
			p.add(key, "entry %d %q is not a header name or a prefix ending in '*'", i, s)
			continue
		}
		n := string(normaliseName(nil, name))
		if prefix {
			hp.prefixes = append(hp.prefixes, n)
			continue
		}
		if hp.names == nil {
			hp.names = map[string]bool{}
		}
		hp.names[n] = true
	}
	hp.plain = hp.plainNames()
	return hp
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return len(s) > 0
}

// normaliseName appends name to dst lower-cased, with every byte that is
// not a letter or digit written as '-'.
func normaliseName(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		dst = append(dst, normaliseByte(name[i]))
	}
	return dst
}

// normaliseByte is one byte of normaliseName.
func normaliseByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return c
	}
	return '-'
}

// punctuated reports whether name has a byte other than a letter, digit or
// '-': a name some upstream could read as a dashed one.
func punctuated(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return true
		}
	}
	return false
}

// identityLike reports whether the normalised name n, whose kinds in
// headerKinds are k, is an identity-like header: the default lists or the
// configured ones.
func (hp *headerPolicy) identityLike(n []byte, k headerKind) bool {
	if k&kindIdentityLike != 0 || hp.names[string(n)] {
		return true
	}
	if len(n) >= stemLen {
		for _, f := range identityLikeStems[string(n[:stemLen])] {
			if hasPrefix(n, f) {
				return true
			}
		}
	}
	for _, f := range hp.prefixes {
		if hasPrefix(n, f) {
			return true
		}
	}
	return false
}

// hasPrefix is strings.HasPrefix for a byte slice, without a conversion
// that allocates.
func hasPrefix(n []byte, prefix string) bool {
	return len(n) >= len(prefix) && string(n[:len(prefix)]) == prefix
}

// headerVerdict says whether a client-sent header name is dropped, and
// under which kind ("" when it is kept or is forgeproof's own identity
// header, which is not counted: it was always dropped). trustedPeer: the
// request's peer is a trusted proxy, whose forwarding headers are kept.
// checks are the Gateway's negative-control switches.
func (hp *headerPolicy) headerVerdict(name string, allowUnderscore, trustedPeer bool, checks *checksOff) (drop bool, kind string) {
	drop, kind, _ = hp.verdict(name, allowUnderscore, trustedPeer, checks)
	return drop, kind
}

// verdict is headerVerdict, with the kinds of the name's normalised form
// (0 for the plain names).
func (hp *headerPolicy) verdict(name string, allowUnderscore, trustedPeer bool, checks *checksOff) (drop bool, kind string, k headerKind) {
	if hp.plain[name] {
		return false, "", 0
	}
	var buf [64]byte
	n := normaliseName(buf[:0], name)
	k = headerKinds[string(n)]
	// forwarded.IsHeader(name), without normalising name a second time:
	// it compares names normalised as normaliseName does.
	if k&kindOwn != 0 || isOwnHeader(name) {
		return true, "", k
	}
	if !checks.off(checkIdentityLike) && hp.identityLike(n, k) {
		return true, dropIdentityLike, k
	}
	if (k&kindPathOverride != 0 || !trustedPeer && k&kindForwarding != 0) && !checks.off(checkForwarding) {
		return true, dropForwarding, k
	}
	if punctuated(name) && !checks.off(checkUnderscore) {
		if !allowUnderscore || k&kindGateway != 0 {
			return true, dropUnderscore, k
		}
	}
	return false, "", k
}

// withoutClientHeaders returns a copy of h, with room for room more,
// without the headers this file's doc lists (except the upgrade ones, see
// forwardUpgrade). The copy shares h's value slices.
func (hp *headerPolicy) withoutClientHeaders(h http.Header, room int, allowUnderscore, trustedPeer bool, checks *checksOff, d *dropped) http.Header {
	out := make(http.Header, len(h)+room)
	for name, v := range h {
		if hp.keep(name, allowUnderscore, trustedPeer, checks, d) {
			out[name] = v
		}
	}
	return out
}

// keep reports whether withoutClientHeaders keeps the client-sent header
// name, and counts it in d when it does not.
func (hp *headerPolicy) keep(name string, allowUnderscore, trustedPeer bool, checks *checksOff, d *dropped) bool {
	drop, kind, k := hp.verdict(name, allowUnderscore, trustedPeer, checks)
	if !drop && k&kindOrigin != 0 {
		d.origin = true
	}
	switch kind {
	case dropIdentityLike:
		d.identityLike++
	case dropUnderscore:
		d.underscore++
	case dropForwarding:
		d.forwarding++
	}
	return !drop
}

// forwardUpgrade decides what the upstream request out says about
// upgrades. ReverseProxy has already removed the hop-by-hop headers and,
// when the client's Connection named Upgrade, put back "Connection:
// Upgrade" and the client's first Upgrade value, and it relays a 101
// whose Upgrade equals it. Only a WebSocket handshake is a protocol the
// gateway checks (its origin, in the CSRF guard): on a GET whose Upgrade
// names websocket, out says exactly "Upgrade: websocket". Every other
// Upgrade, and HTTP2-Settings, is removed with Connection, so the
// upstream has nothing to switch to. It reports whether a WebSocket
// upgrade is forwarded.
func forwardUpgrade(in *http.Request, out http.Header, d *dropped, checks *checksOff) (websocket bool) {
	if checks.off(checkUpgrade) {
		return upgradeType(out) != ""
	}
	for _, name := range []string{"Http2-Settings", "Upgrade", "Connection"} {
		if _, ok := out[name]; ok {
			if name != "Connection" {
				d.upgrade++
			}
			delete(out, name)
		}
	}
	// Not from out: a client could name only h2c in its first Upgrade line.
	if in.Method == http.MethodGet && upgradeType(in.Header) != "" && wsupgrade.Requested(in.Header) {
		out["Connection"] = []string{"Upgrade"}
		out["Upgrade"] = []string{"websocket"}
		d.upgrade-- // the one kept
		return true
	}
	return false
}

// dropHTTP2Settings is forwardUpgrade for a request that asks for no
// upgrade and an out without hop-by-hop fields (Upgrade, Connection):
// what is left to remove is HTTP2-Settings (three map lookups fewer per
// request on the direct path).
func dropHTTP2Settings(out http.Header, d *dropped, checks *checksOff) {
	if checks.off(checkUpgrade) {
		return
	}
	if _, ok := out["Http2-Settings"]; ok {
		d.upgrade++
		delete(out, "Http2-Settings")
	}
}

// upgradeType is the Upgrade value ReverseProxy acts on: the first one,
// when Connection names Upgrade.
func upgradeType(h http.Header) string {
	for _, v := range h["Connection"] {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return h.Get("Upgrade")
			}
		}
	}
	return ""
}

// errUnexpectedSwitch is an upstream's 101 to a request the gateway did
// not forward as a WebSocket handshake, or one that switches to another
// protocol.
type errUnexpectedSwitch struct{ upgrade string }

func (e errUnexpectedSwitch) Error() string {
	return "upstream switched protocols (Upgrade " + quoteHeader(e.upgrade) + ") on a request not forwarded as a WebSocket handshake: refused, a tunnel would carry unchecked requests"
}

func quoteHeader(s string) string { return "\"" + printable(s) + "\"" }

// checkSwitch fails closed on a 101 the gateway did not ask for: relayed,
// it would make the connection a tunnel to the upstream past every check.
func checkSwitch(resp *http.Response, checks *checksOff) error {
	if resp.StatusCode != http.StatusSwitchingProtocols || checks.off(checkUpgrade) {
		return nil
	}
	asked := resp.Request != nil && strings.EqualFold(upgradeType(resp.Request.Header), "websocket")
	got := upgradeType(resp.Header)
	if !asked || !strings.EqualFold(strings.TrimSpace(got), "websocket") {
		return errUnexpectedSwitch{upgrade: resp.Header.Get("Upgrade")}
	}
	return nil
}

// frameBody makes the upstream request out safe to send on a connection
// that other clients' requests reuse (upstreamframing_test.go): an
// upstream that does not read a body parses it as a request of its own,
// one nothing checked ("CL.0" desync). Servers skip the bodies of methods
// for which a body has no defined meaning (RFC 9110 §9.3: GET, HEAD,
// OPTIONS, DELETE, TRACE), and some answer other requests without reading
// theirs (Python's http.server), so a body goes with "Connection: close":
// the upstream reads no request after it, and the connection is not
// reused. reuseAfterBody (Route.UpstreamReuseAfterBody) keeps the
// connection after the other methods, for upstreams that read or discard
// every body. Expect is never forwarded: net/http has already answered
// 100-continue to the client when the body is read (as Envoy does), and an
// upstream that answers Expect with a final status may not read the body
// either.
func frameBody(out *http.Request, checks *checksOff, reuseAfterBody bool) {
	if checks.off(checkBodyFraming) {
		return
	}
	delete(out.Header, "Expect")
	if out.ContentLength != 0 && out.Body != nil && out.Body != http.NoBody {
		switch out.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete, http.MethodTrace:
			out.Close = true
		default:
			out.Close = out.Close || !reuseAfterBody
		}
	}
}

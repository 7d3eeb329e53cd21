package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync/atomic"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/mtls"
)

// route is a compiled Route.
type route struct {
	index int // position in the config, for errors
	// policy is the index of the first route in the config whose
	// settings other than name, host, path prefix and upstream are the
	// same (policyOf): readings of a path may pick either (pathAmbiguous).
	policy   int
	name     string
	host     string // lower case, no port; "" matches any host
	prefix   string // clean, no trailing slash except "/"
	upstream *url.URL
	// upstreamTLS is how to talk to an https upstream; routes with equal
	// keys share a transport.
	upstreamTLS upstreamTLS

	allowUnauthenticated bool
	corsPreflights       bool // let preflights through without identity
	authorize            mtls.Authorizer
	// authzKey tells this route's allow list apart from every other
	// route's, of this configuration and of every other one (a reload
	// compiles new routes): the key of a connection's remembered
	// authorization (authzMemo).
	authzKey uint64
	browsers bool
	// allowUnderscoreHeaders: forward names with '_' (headers.go).
	allowUnderscoreHeaders bool
	// reuseAfterBody: Route.UpstreamReuseAfterBody (frameBody).
	reuseAfterBody bool

	csrfMode csrf.Mode
	csrfOff  bool       // RouteCSRF.InsecureOff
	guard    *csrfGuard // nil when csrfOff
	// cookies hardens the upstream's Set-Cookie headers (and renames the
	// __Host- cookie back on the way in); nil when the route has none.
	cookies *cookieRules

	proxy *directProxy
	// handler is the proxy behind the CSRF guard (when there is one).
	handler http.Handler
	// metrics is the route's children of the request metrics, once its
	// first request is served (a configuration serves one Gateway).
	metrics atomic.Pointer[routeMetrics]
}

func (r *route) usesTokens() bool {
	return !r.csrfOff && r.csrfMode != csrf.ModeOriginOnly
}

func (p *compiler) route(key string, index int, r Route, c *compiled) *route {
	rt := &route{
		index:                  index,
		name:                   r.Name,
		host:                   p.routeHost(key+".host", r.Host),
		prefix:                 p.pathPrefix(key+".path-prefix", r.PathPrefix),
		upstream:               p.upstreamURL(key+".upstream", r.Upstream, c.authz != nil),
		allowUnauthenticated:   r.Allow.Unauthenticated,
		corsPreflights:         r.Allow.CORSPreflights,
		browsers:               r.Browsers == nil || *r.Browsers,
		allowUnderscoreHeaders: r.AllowUnderscoreHeaders,
		reuseAfterBody:         r.UpstreamReuseAfterBody,
		csrfMode:               r.CSRF.Mode,
		csrfOff:                r.CSRF.InsecureOff,
	}
	if rt.name == "" {
		rt.name = key
	} else if strings.ContainsAny(rt.name, " \t\r\n\"") {
		p.add(key+".name", "invalid name %q: must not contain spaces or quotes", r.Name)
	}
	rt.upstreamTLS = p.upstreamTLS(key, r, rt.upstream)
	rt.authorize = p.allow(key+".allow", r.Allow)
	rt.authzKey = authzKeys.Add(1)
	if rt.corsPreflights && !rt.browsers {
		p.add(key+".allow.cors-preflights", "needs a route that serves browsers: only browsers send CORS preflights, and this route has browsers: false")
	}
	if _, err := r.CSRF.Mode.MarshalText(); err != nil && !rt.csrfOff {
		p.add(key+".csrf.mode", "%s", withoutPackage(err))
	}
	if r.CSRF.SPA && !rt.usesTokens() {
		mode := rt.csrfMode.String()
		if rt.csrfOff {
			mode = csrfInsecureOff
		}
		p.add(key+".csrf.spa", "needs a token mode (%s or %s), not %s", csrf.ModeOriginAndToken, csrf.ModeTokenIfNoBrowserHeaders, mode)
	}
	rt.cookies = p.cookies(key+".cookies", r.Cookies)
	p.sessionCookieSeen(key+".cookies.host-prefix", r.Cookies.HostPrefix)
	if !rt.csrfOff {
		rt.guard = p.csrfGuard(key+".csrf", r.CSRF, rt, c)
	}
	return rt
}

// matches reports whether the route serves a request for host (lower
// case, without port) and the cleaned path.
func (r *route) matches(host, path string) bool {
	if r.host != "" && r.host != host {
		return false
	}
	if r.prefix == "/" {
		return true
	}
	return strings.HasPrefix(path, r.prefix) && (len(path) == len(r.prefix) || path[len(r.prefix)] == '/')
}

// findRoute returns the most specific route for a request to host (its
// routing form, see parseHost) and path (decoded: URL.Path), or nil.
func (c *compiled) findRoute(host, path string) *route {
	p := cleanPath(path)
	for _, r := range c.routes {
		if r.matches(host, p) {
			return r
		}
	}
	return nil
}

// requestHost is a Host in lower case without port, brackets or one
// trailing dot, however malformed: the routing form of a Host that
// parseHost refused, for the negative controls of the tests.
func requestHost(h string) string {
	h = strings.ToLower(h)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.TrimPrefix(strings.TrimSuffix(h, "]"), "[")
	return strings.TrimSuffix(h, ".")
}

// cleanPath resolves duplicate slashes for matching, so that "//admin"
// cannot dodge the /admin route. Paths with dot segments never get here
// (hasDotSegments refuses them); the upstream gets the path as sent.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return path.Clean(p)
}

// policyOf is what of r decides how a request is authorized and checked:
// everything but where it goes (name, host, path prefix, upstream). A
// field added to Route counts unless it is cleared here, which fails
// closed (routes that differ in it are different policies).
func policyOf(r Route) Route {
	r.Name, r.Host, r.PathPrefix = "", "", ""
	r.Upstream, r.UpstreamCAFile, r.UpstreamCertFile, r.UpstreamKeyFile, r.UpstreamServerName = "", "", "", "", ""
	// Defaults written out or left out are the same policy.
	browsers := r.Browsers == nil || *r.Browsers
	r.Browsers = &browsers
	return r
}

// policyKey is the same string for routes of the same policy (policyOf),
// and most often a different one for different policies: Go syntax of
// the policy, but for its one pointer, printed as the value it points to.
func policyKey(r Route) string {
	p := policyOf(r)
	browsers := *p.Browsers
	p.Browsers = nil
	return fmt.Sprintf("%t %#v", browsers, p)
}

func (r *route) String() string { return fmt.Sprintf("route %q", r.name) }

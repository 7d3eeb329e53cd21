package gateway

import (
	"math"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/forgeproof/forgeproof/mtls"
)

// verdict is the gateway's decision on a request before its CSRF check
// (steps 2 to 4 of the package doc): serveHTTP and Decide both take it
// from decide, so "forgeproof serve" and "forgeproof authz" route,
// authenticate and authorize alike.
type verdict struct {
	// route is the request's route, nil when it was refused before one
	// was chosen (or its path was ambiguous).
	route *route
	// identity is the verified client identity, nil when none.
	identity *mtls.Identity
	// preflight: a CORS preflight the route lets through without identity.
	preflight bool

	// A refusal, when reason is not empty.
	status        int
	reason        Reason
	title, detail string
	ambiguous     bool // counted as a request of two meanings
	authzDenied   bool // the identity is not on the route's allow list
}

func refusal(status int, reason Reason, title, detail string) verdict {
	return verdict{status: status, reason: reason, title: title, detail: detail}
}

// unforwardableRefusal refuses v, which was allowed, because its
// identity cannot be forwarded (compiled.unforwardable). The access log
// names the identity.
func unforwardableRefusal(v verdict) verdict {
	r := refusal(http.StatusForbidden, ReasonIdentityUnforwardable, "identity cannot be forwarded",
		"the client certificate holds text that identity-forwarding's format cannot carry unambiguously, or a trusted forwarder passed the identity on without its certificate")
	r.route, r.identity = v.route, v.identity
	return r
}

// decide routes r and checks who sent it: the method, the Host, the
// path and the route it selects, the identity (connID, the connection's,
// or a trusted forwarder's) against the route's allow list, and whether
// the route serves browsers. listener is the index of the listener r came
// on, -1 when none (an embedded handler, or Decide); cf is the gateway's
// state of its connection, nil when none. unchecked turns the Host and
// path checks off (the tests' negative controls).
func (c *compiled) decide(r *http.Request, listener int, connID *mtls.Identity, cf *connState, unchecked bool) verdict {
	if strings.EqualFold(r.Method, http.MethodConnect) {
		// A reverse proxy has no tunnels to offer; forwarding CONNECT
		// would ask the upstream for one. Methods are case-sensitive,
		// but an upstream that upper-cases them would read "connect" as
		// CONNECT too, and no client means anything else by it.
		return refusal(http.StatusMethodNotAllowed, ReasonMethodNotAllowed, "method not allowed", "CONNECT is not proxied")
	}
	if r.ProtoMajor == 2 && !unchecked {
		// HTTP/1.x readers refuse both (net/http's server: "invalid
		// method", and a space ends the request target); HTTP/2's
		// fields may carry spaces, which the upstream's request line
		// would take as its separators: "GET /admin /public/x HTTP/1.1".
		if !httpguts.ValidHeaderFieldName(r.Method) {
			v := refusal(http.StatusBadRequest, ReasonMethodInvalid, "invalid method", "the method is not a token")
			v.ambiguous = true
			return v
		}
		if strings.IndexByte(r.URL.RawQuery, ' ') >= 0 {
			v := refusal(http.StatusBadRequest, ReasonPathInvalid, "invalid path", "the query has a space, which ends an HTTP/1.1 request target")
			v.ambiguous = true
			return v
		}
		if why := contentLengthInvalid(r); why != "" {
			v := refusal(http.StatusBadRequest, ReasonFramingAmbiguous, "ambiguous framing", why)
			v.ambiguous = true
			return v
		}
	}
	if r.ProtoMajor == 2 {
		if why := authorityMismatch(r); why != "" && !unchecked {
			v := refusal(http.StatusBadRequest, ReasonAuthorityMismatch, "Host differs from :authority", why)
			v.ambiguous = true
			return v
		}
	}
	host, why := parseHost(r.Host)
	if why != "" {
		if !unchecked {
			v := refusal(http.StatusBadRequest, ReasonHostInvalid, "invalid Host", "the Host is not one host[:port]: it has "+why)
			v.ambiguous = true
			return v
		}
		host = requestHost(r.Host)
	}
	if !unchecked && !isPathTarget(r) {
		v := refusal(http.StatusBadRequest, ReasonPathInvalid, "invalid path", "the request target is neither a path nor an absolute URL with one")
		v.ambiguous = true
		return v
	}
	if hasDotSegments(r.URL.Path) {
		v := refusal(http.StatusBadRequest, ReasonPathInvalid, "invalid path", "the path has . or .. segments")
		v.ambiguous = true
		return v
	}
	if listener >= 0 && c.listeners[listener].checksHost(r) && misdirected(r) {
		return refusal(http.StatusMisdirectedRequest, Reason(mtls.ReasonMisdirected), "request sent on a connection for another host", "open a new connection to this host")
	}
	rt := c.findRoute(host, r.URL.Path)
	if rt == nil {
		return refusal(http.StatusNotFound, ReasonNoRoute, "no route", "no route serves this host and path")
	}
	if c.pathAmbiguous(host, r.URL.EscapedPath(), rt) && !unchecked {
		v := refusal(http.StatusBadRequest, ReasonPathAmbiguous, "ambiguous path",
			"an upstream could read this path as another route's (path parameters, case, encoding, backslashes or trailing characters): send it in its plain form")
		v.ambiguous = true
		return v
	}
	if rt.corsPreflights && isPreflight(r) {
		return verdict{route: rt, preflight: true}
	}

	id, status, reason := c.identify(r, listener, connID)
	if reason != "" {
		v := refusal(status, reason, "forwarded identity refused", "")
		v.route = rt
		return v
	}
	v := verdict{route: rt, identity: id}
	if reason := rt.authorizeConn(id, connID, cf); reason != "" {
		v.status, v.reason, v.title, v.authzDenied = http.StatusForbidden, reason, "client identity refused", true
		return v
	}
	if !rt.browsers && isBrowser(r) {
		v.status, v.reason, v.title, v.detail = http.StatusForbidden, ReasonBrowserNotAllowed, "browsers are not served here", "this route serves programmatic clients only"
	}
	return v
}

// isPathTarget reports whether r's request target is a path (origin
// form) or an absolute URL whose path is empty or one. net/http's server
// also accepts "a:admin/secret" (a scheme and an opaque part) and "*" on
// any method: the gateway would route them by their empty path or "*",
// and the upstream, sent "admin/secret" or "/%2A", may read a path of
// another route. ("OPTIONS *" is answered before, see serveHTTP; HTTP/2's
// :path is checked by net/http.)
func isPathTarget(r *http.Request) bool {
	p := r.URL.Path
	return r.URL.Opaque == "" && (p == "" || p[0] == '/')
}

// contentLengthsDiffer reports whether a request's Content-Length
// fields are not all the same value (repeated identical ones are one
// value, RFC 9110 §8.6).
func contentLengthsDiffer(vv []string) bool {
	for _, v := range vv[min(1, len(vv)):] {
		if v != vv[0] {
			return true
		}
	}
	return false
}

// contentLengthInvalid says what is wrong with the Content-Length fields
// of an HTTP/2 request, "" when nothing is (RFC 9113 §8.1.1: a request
// whose content-length is not the length of its DATA is malformed). Go's
// HTTP/2 server frames the body by the first field and ignores the
// others; it reads a first field that is not a decimal length (" 3",
// "+3", "") as 0 and, when HEADERS ends the stream, takes the body as
// empty whatever the field says. Either way the gateway would forward
// "Content-Length: 0" and no body for a request that declared one, where
// its HTTP/1.1 reader refuses the first two (400) and reads the body the
// field announces.
func contentLengthInvalid(r *http.Request) string {
	vv := r.Header["Content-Length"]
	if len(vv) == 0 {
		return ""
	}
	if contentLengthsDiffer(vv) {
		return "the request has Content-Length fields that differ"
	}
	n, ok := decimalLength(vv[0])
	if !ok {
		return "the Content-Length field is not a decimal length"
	}
	if n != r.ContentLength {
		return "the Content-Length field is not the length of the body: the stream ended before it"
	}
	return ""
}

// decimalLength is s as RFC 9110's Content-Length (1*DIGIT) within an
// int64, or false.
func decimalLength(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || n > (math.MaxInt64-int64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

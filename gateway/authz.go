package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/internal/problem"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// Reasons of the decision service's own refusals.
const (
	// ReasonAuthzRequestInvalid: the proxy's description of the request
	// (method, URI, Host, client certificate) is malformed, so there is
	// nothing to decide on (400; the proxy then refuses the request).
	ReasonAuthzRequestInvalid Reason = "authz-request-invalid"
	// ReasonCallerUntrusted: the question came from a peer that is not a
	// trusted proxy (authz.trusted-callers, authz.tls) (403).
	ReasonCallerUntrusted Reason = "caller-untrusted"
	// ReasonAuthzNotConfigured: Decide or CallerAllowed was called on a
	// gateway whose configuration has no authz section (500).
	ReasonAuthzNotConfigured Reason = "authz-not-configured"
)

// Attributes describe a request that a proxy received and asks the
// decision service about. The proxy adapters (package authz) fill them
// from what the proxy sends; every field is untrusted input.
type Attributes struct {
	// Method is the request's method.
	Method string
	// URI is the request target as the client sent it, in origin form:
	// the escaped path and optional query ("/a%20b?x=1").
	URI string
	// Host is the request's Host (HTTP/2 :authority).
	Host string
	// Scheme of the client's connection to the proxy: "https" or
	// "http". Empty means "https".
	Scheme string
	// Header holds the client's request headers, with canonical keys
	// (Origin, Referer, Sec-Fetch-*, Cookie, X-CSRF-Token, Accept, …).
	// Decide does not modify it.
	Header http.Header
	// RemoteAddr is the client's address as the proxy saw it ("ip:port"
	// or "ip"), for config.trusted-proxies; empty when unknown.
	RemoteAddr string
	// Chain is the client's certificate chain, leaf first, as the proxy
	// received it; nil when the client sent none. It is verified against
	// authz.client-certificates unless that says the proxy verified it.
	Chain []*x509.Certificate
}

// Decision is the answer to a proxy's question (Gateway.Decide).
type Decision struct {
	// Allowed says the proxy may forward the request.
	Allowed bool
	// Status is 200 when Allowed, else the refusal's status: 403 for
	// identity and CSRF refusals and untrusted callers, 400, 404 or 405
	// for requests that "forgeproof serve" refuses with those, 500 for a
	// gateway without an authz section (ReasonAuthzNotConfigured).
	Status int
	// Reason is the stable reason code of the refusal (the same as
	// "forgeproof serve" gives); when Allowed, the CSRF reason that a
	// report-only route let through, or "".
	Reason Reason
	// Title and Detail are the problem document's (see WriteProblem).
	Title, Detail string
	// Cause says why in words, for logs, where the problem document
	// does not (it is never sent to the client): why CallerAllowed
	// refused a caller, why Decide refused a client certificate.
	Cause error
	// Route is the name of the request's route, "" when none matched.
	Route string
	// Identity is the verified client identity, nil when none.
	Identity *mtls.Identity
	// Set holds the headers the proxy sets on the upstream request when
	// Allowed, replacing any copy the client sent: the identity (RFC
	// 9440 Client-Cert and Client-Cert-Chain and/or
	// X-Forwarded-Client-Cert, per identity-forwarding),
	// Forgeproof-Client-Identity, and on token routes
	// Forgeproof-Csrf-Token; for Envoy also the forwarding headers as
	// serve sets them (setForwarding). Nil when there are none.
	Set http.Header
	// Remove names the headers the proxy deletes from the upstream
	// request: the identity headers Set may hold (always, so that no
	// client-sent copy survives when Set has none), then every client
	// header that "forgeproof serve" would not forward (other spellings
	// of identity headers, other products' identity headers, names with
	// '_'), as the client spelt them. Only Envoy can delete them
	// (headers_to_remove): for the other proxies (nginx, Caddy,
	// Traefik) a request that would have more than the identity
	// headers here is refused instead (ReasonHeaderUnremovable).
	Remove []string

	csrfErr *csrf.Error
	guard   *csrfGuard
}

// NumIdentityHeaders is how many headers a Decision may set: they are
// the first entries of every Decision.Remove.
const NumIdentityHeaders = 5

// identityHeaders are the headers a Decision may set: the proxy deletes
// every client-sent copy.
var identityHeaders = [NumIdentityHeaders]string{
	forwarded.HeaderClientCert, forwarded.HeaderClientCertChain, forwarded.HeaderXFCC,
	HeaderClientIdentity, HeaderCSRFToken,
}

// WriteProblem answers r, the refused request (only its Accept header is
// read), as "forgeproof serve" would have: the status, an RFC 9457
// problem document when r accepts JSON, plain text otherwise, with the
// reason code. It writes nothing for an allowed decision.
func (d *Decision) WriteProblem(w http.ResponseWriter, r *http.Request) {
	if d.Allowed {
		return
	}
	if d.csrfErr != nil && d.guard != nil {
		d.guard.prot.Refuse(w, r, d.csrfErr)
		return
	}
	problem.Write(w, r, problem.Details{Status: d.Status, Reason: string(d.Reason), Title: d.Title, Detail: d.Detail})
}

func deny(status int, reason Reason, title, detail string) *Decision {
	return &Decision{Status: status, Reason: reason, Title: title, Detail: detail, Remove: identityHeaders[:]}
}

// Decide answers a proxy that asks whether a request may pass: the
// decision "forgeproof serve" would make on it, from the same compiled
// configuration and the same code (route, Host and path checks, the
// client certificate's verification and authorization, browsers, CSRF),
// and, when it passes, the headers to set and remove upstream. The
// configuration must have an authz section. It is safe for concurrent
// use, and every reload applies to the next call.
func (g *Gateway) Decide(a *Attributes) (d *Decision) {
	start := time.Now()
	var v verdict
	csrfMode := ""
	defer func() { g.countDecision(d, &v, csrfMode, start) }()
	c := g.state.Load()
	if c.authz == nil {
		return notConfigured()
	}
	r, why := a.request()
	if why != "" {
		return deny(http.StatusBadRequest, ReasonAuthzRequestInvalid, "invalid request description", why)
	}
	if strings.IndexByte(a.URI, ' ') >= 0 {
		// serve refuses a space in an HTTP/2 query (decide; HTTP/1.x
		// readers refuse it anywhere) and forwards the path re-escaped.
		// A proxy may take an HTTP/2 :path with a space (Envoy's codecs
		// do, and normalize_path escapes it in the path only) and writes
		// it into the upstream's HTTP/1.1 request line as sent, where
		// the space is a separator: "GET /public?x /admin HTTP/1.1".
		// Attributes do not say the protocol; no HTTP/1.x request has a
		// space in its target, so none is refused wrongly.
		v.ambiguous, v.reason = true, ReasonPathInvalid
		return deny(http.StatusBadRequest, ReasonPathInvalid, "invalid path", "the request target has a space, which ends an HTTP/1.1 request target")
	}

	// The client certificate, verified as a handshake would verify it.
	var connID *mtls.Identity
	if len(a.Chain) > 0 {
		var id mtls.Identity
		if v := c.authz.verifier; v != nil {
			var err error
			if id, err = v.VerifyChain(a.Chain); err != nil {
				d := deny(http.StatusForbidden, Reason(mtls.ReasonOf(err)), "client certificate refused", "")
				d.Cause = err
				return d
			}
		} else {
			id = mtls.NewIdentity(a.Chain[0])
		}
		connID = &id
	}

	v = c.decide(r, -1, connID, nil, false)
	if v.route != nil {
		// serve forwards URL.EscapedPath and computes the readings on it.
		// An HTTP proxy forwards the target as the client sent it (nginx's
		// proxy_pass without a URI part), and EscapedPath is not that
		// when the raw path has a byte Go would escape ('|', '"', '{',
		// '\', UTF-8): it re-encodes the decoded path, losing "%2F" and
		// "%70". The readings of the path as sent must agree too.
		if raw, _, _ := strings.Cut(a.URI, "?"); raw != r.URL.EscapedPath() {
			host, _ := parseHost(r.Host)
			if c.pathAmbiguous(host, raw, v.route) {
				v = refusal(http.StatusBadRequest, ReasonPathAmbiguous, "ambiguous path",
					"an upstream could read this path as another route's (path parameters, case, encoding, backslashes or trailing characters): send it in its plain form")
				v.ambiguous = true
			}
		}
	}
	// A trusted proxy's forwarding headers, read as serveHTTP reads them
	// on every request, not only on those whose origin the CSRF check
	// works out: the proxy forwards them too.
	x := new(exchange)
	if v.reason == "" && len(c.proxies) > 0 && !c.checksOff.off(checkForwardedOrigin) {
		// Envoy forwards the host read (setForwarding), as serve.
		if reason, detail := c.checkForwarded(r, x, v.route); reason != "" {
			rt, id := v.route, v.identity
			v = refusal(http.StatusBadRequest, reason, "forwarding headers refused", detail)
			v.route, v.identity, v.ambiguous = rt, id, true
		}
	}
	d = &Decision{Identity: v.identity, Remove: identityHeaders[:]}
	if v.route != nil {
		d.Route = v.route.name
	}
	var fwd *forwardedHeaders
	if v.reason == "" && v.identity != nil {
		opts := forwarded.Options{Format: c.forwardFormat}
		if len(a.Chain) > 1 {
			opts.Chain = a.Chain[1:]
		}
		// Shared with serve's connections: the certificate's headers are
		// encoded once, not per decision.
		if fwd = c.forwarded.get(*v.identity, opts); fwd.err != nil {
			v = unforwardableRefusal(v)
		}
	}
	if v.reason != "" {
		d.Status, d.Reason, d.Title, d.Detail = v.status, v.reason, v.title, v.detail
		return d
	}
	rt := v.route
	x.route, x.identity, x.hasIdentity = rt, v.identity, v.identity != nil
	r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
	if rt.guard != nil {
		if e := rt.guard.check(r); e != nil {
			if !rt.guard.reportOnly {
				d.Status, d.Reason, d.csrfErr, d.guard = http.StatusForbidden, Reason(e.Reason), e, rt.guard
				csrfMode = "enforced"
				return d
			}
			d.Reason = Reason(e.Reason) // report-only: let through
			csrfMode = "report-only"
		}
	}
	d.Allowed, d.Status = true, http.StatusOK
	if fwd != nil {
		d.Set = make(http.Header, len(fwd.names)+1)
		for i, name := range fwd.names {
			d.Set[name] = append(d.Set[name], fwd.values[i])
		}
	}
	if rt.guard != nil && rt.usesTokens() {
		// No token when the request has no binding: the upstream then
		// renders none, and the next unsafe request is refused.
		if tok, err := rt.guard.prot.Token(r); err == nil {
			if d.Set == nil {
				d.Set = http.Header{}
			}
			d.Set.Set(HeaderCSRFToken, tok)
		}
	}
	trustedPeer := c.trustedPeer(r)
	if c.authz.proxy == ProxyEnvoy {
		setForwarding(d, r, x, trustedPeer)
	}
	// A trusted proxy's scheme, port and host headers go on only when
	// they agree with the origin checked, as serve's do
	// (withoutOtherOrigins): its Forwarded or X-Forwarded-Proto/-Host,
	// else the request's scheme and Host.
	var origin *checkedOrigin
	if trustedPeer && !c.checksOff.off(checkForwardedOrigin) {
		scheme, host := "http", r.Host
		if r.TLS != nil {
			scheme = "https"
		}
		if x.fwd.Proto != "" {
			scheme = x.fwd.Proto
		}
		if x.fwd.Host != "" {
			host = x.fwd.Host
		}
		o := newCheckedOrigin(scheme, host)
		origin = &o
	}
	for name, lines := range a.Header {
		drop, _, k := c.headers.verdict(name, rt.allowUnderscoreHeaders, trustedPeer, c.checksOff)
		// Only an origin header is compared: the others cost no second
		// normalisation and lookup (as serve's dropped.origin flag).
		if !drop && origin != nil && k&kindOrigin != 0 {
			drop = origin.disagrees(name, lines)
		}
		if drop && !slices.Contains(d.Remove, name) {
			if len(d.Remove) == NumIdentityHeaders {
				d.Remove = slices.Clip(d.Remove) // append copies, never writes into identityHeaders
			}
			d.Remove = append(d.Remove, name)
		}
	}
	slices.Sort(d.Remove[NumIdentityHeaders:])
	if c.authz.proxy != ProxyEnvoy {
		if why := unremovable(a, d.Remove[NumIdentityHeaders:]); why != "" {
			v.ambiguous, v.reason = true, ReasonHeaderUnremovable
			d = deny(http.StatusBadRequest, ReasonHeaderUnremovable, "header the proxy cannot remove", why)
			d.Route, d.Identity = rt.name, v.identity
			d.Cause = errors.New(why)
		}
	}
	return d
}

// setForwarding has Envoy forward the forwarding headers serve's
// upstream request carries (rewriteFiltered): Envoy's connection manager
// passes the client's Forwarded and X-Forwarded-Host on as sent (repeated
// lines joined, a client's values first), sets X-Forwarded-Proto (only
// when absent, unless use_remote_address) and appends to X-Forwarded-For
// only with use_remote_address, so an upstream that builds URLs from them
// would use a host the client chose. From a
// trusted proxy: the Forwarded element and X-Forwarded-Proto/-Host
// values readForwarded read (x), the proxy's last ones. From anyone
// else: X-Forwarded-For, -Host and -Proto afresh from the client's
// address, the Host and the scheme, and no Forwarded.
func setForwarding(d *Decision, r *http.Request, x *exchange, trustedPeer bool) {
	set := func(name, v string) {
		if d.Set == nil {
			d.Set = make(http.Header, 3)
		}
		d.Set[name] = []string{v}
	}
	// Removed whether or not the question showed it, as the identity
	// headers are: Envoy's allowed_headers may leave the client's out of
	// the question, never out of the upstream request.
	remove := func(name string) {
		if len(d.Remove) == NumIdentityHeaders {
			d.Remove = slices.Clip(d.Remove) // append copies, never writes into identityHeaders
		}
		d.Remove = append(d.Remove, name)
	}
	if trustedPeer {
		// The proxy's X-Forwarded-For goes on as Envoy forwards it.
		if x.fwdRead {
			for _, kv := range [3][2]string{{"Forwarded", x.fwd.Element}, {"X-Forwarded-Proto", x.fwd.Proto}, {"X-Forwarded-Host", x.fwd.Host}} {
				if kv[1] != "" {
					set(kv[0], kv[1])
				}
			}
			if x.fwd.Element == "" {
				remove("Forwarded") // serve forwards none it did not read
			}
		}
		return
	}
	xf := newXForwarded(r)
	set("X-Forwarded-Host", xf.v[1])
	set("X-Forwarded-Proto", xf.v[2])
	remove("Forwarded")
	if xf.forFound {
		set("X-Forwarded-For", xf.v[0])
	} else {
		remove("X-Forwarded-For") // no address: serve sends none
	}
}

// unremovable says why a request that a proxy without per-request header
// removal (nginx auth_request, Caddy forward_auth, Traefik ForwardAuth:
// they copy the answer's headers, never delete others) asks about must
// be refused, or "" when it need not be: it carries headers that serve
// would not forward (extra, the Decision's Remove past the identity
// headers: other spellings and products' identity headers, names with
// '_', path overrides, untrusted forwarding headers, a trusted proxy's
// scheme, port and host headers that name another origin than the one
// checked), or an upgrade that serve would strip (anything but a
// WebSocket handshake on GET, or HTTP2-Settings: h2c smuggling). Forwarded as sent, each could make the
// upstream read another identity, method, path or protocol than the one
// decided on.
func unremovable(a *Attributes, extra []string) string {
	if len(extra) > 0 {
		return fmt.Sprintf("the request carries %q, which the proxy would forward and an upstream could read as identity, path, method, address or another origin: send it without", extra)
	}
	if _, ok := a.Header["Http2-Settings"]; ok {
		return "the request carries HTTP2-Settings (an h2c upgrade), which the proxy would forward: send it without"
	}
	if up, ok := a.Header["Upgrade"]; ok && !(a.Method == http.MethodGet && len(up) == 1 && strings.EqualFold(strings.TrimSpace(up[0]), "websocket")) {
		return fmt.Sprintf("the request asks to upgrade to %q, which the proxy would forward: only a WebSocket handshake on GET is checked and passed", up)
	}
	return ""
}

// countDecision counts a decision in the metrics serve counts requests
// in (forgeproof_gateway_requests_total and the refusal counters), with
// its status and route: one dashboard for both.
func (g *Gateway) countDecision(d *Decision, v *verdict, csrfMode string, start time.Time) {
	g.metrics.observe(d.Route, d.Status, time.Since(start).Seconds())
	switch {
	case v.ambiguous:
		g.metrics.ambiguous.WithLabelValues(string(v.reason)).Inc()
	case v.authzDenied:
		g.metrics.authzDenials.WithLabelValues(d.Route, string(v.reason)).Inc()
	case csrfMode != "":
		g.metrics.csrfRefusals.WithLabelValues(d.Route, string(d.Reason), csrfMode).Inc()
	}
}

// request turns the attributes into the server request the gateway's
// checks read, or says what is wrong with them.
func (a *Attributes) request() (*http.Request, string) {
	if a.Method == "" || !validMethod(a.Method) {
		return nil, "the method is missing or not a token"
	}
	if a.URI == "" || a.URI[0] != '/' {
		return nil, "the URI is missing or not in origin form (it must start with \"/\")"
	}
	u, err := url.ParseRequestURI(a.URI)
	if err != nil {
		return nil, "the URI does not parse as a request target"
	}
	r := &http.Request{
		Method:     a.Method,
		URL:        u,
		RequestURI: a.URI,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host:       a.Host,
		Header:     a.Header,
		Body:       http.NoBody,
		RemoteAddr: a.RemoteAddr,
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	switch a.Scheme {
	case "", "https":
		// The csrf checks take the request's own scheme from r.TLS.
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: a.Chain}
	case "http":
	default:
		return nil, "the scheme is neither http nor https"
	}
	return r, "" // a nil context is context.Background
}

// validMethod reports whether m is an RFC 9110 token.
func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// AuthzProxy is the config's authz.proxy, zero (none) when it has no
// authz section. It cannot change on reload: Reload refuses a change of
// proxy.
func (g *Gateway) AuthzProxy() Proxy {
	if a := g.state.Load().authz; a != nil {
		return a.proxy
	}
	return 0
}

// AuthzAddress is the config's authz.address, "" when it has no authz
// section. It cannot change on reload.
func (g *Gateway) AuthzAddress() string {
	if a := g.state.Load().authz; a != nil {
		return a.address
	}
	return ""
}

// AuthzTLSConfig is the TLS configuration of the decision service when
// the config has authz.tls, else nil: callers must present a certificate
// of authz.tls.client-ca-files that authz.tls.allow allows. Every
// handshake uses the configuration loaded at that moment (Reload).
func (g *Gateway) AuthzTLSConfig() *tls.Config {
	a := g.state.Load().authz
	if a == nil || a.callerTLS == nil {
		return nil
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			cur := g.state.Load().authz
			if cur == nil || cur.callerTLS == nil {
				return nil, errors.New("authz: TLS is no longer configured")
			}
			return cur.callerTLS.TLSConfig().GetConfigForClient(hello)
		},
	}
}

// CallerAllowed says whether a question to the decision service comes
// from a trusted proxy: remoteAddr, its TCP peer ("ip:port"), is in
// authz.trusted-callers (when set) and, with authz.tls, cs, its
// connection's TLS state, has a client certificate that verifies and is
// allowed now (checked again after a reload). It returns nil when the
// caller may ask, else the refusal to answer with: 403
// ReasonCallerUntrusted, the same problem document for every caller, and
// the Cause for the log.
func (g *Gateway) CallerAllowed(remoteAddr string, cs *tls.ConnectionState) *Decision {
	a := g.state.Load().authz
	if a == nil {
		return notConfigured()
	}
	untrusted := func(cause error) *Decision {
		d := deny(http.StatusForbidden, ReasonCallerUntrusted, "not a trusted proxy", "only the proxies in authz.trusted-callers (or with an allowed authz.tls certificate) may ask")
		d.Cause = cause
		return d
	}
	r := &http.Request{RemoteAddr: remoteAddr, TLS: cs}
	if len(a.callers) > 0 && !inPrefixes(peerAddr(r), a.callers) {
		return untrusted(fmt.Errorf("peer %q is not in authz.trusted-callers", remoteAddr))
	}
	if a.callerTLS != nil {
		if cs == nil || len(cs.PeerCertificates) == 0 {
			return untrusted(errors.New("no client certificate (authz.tls)"))
		}
		// Without a connection's state in r's context, Check verifies the
		// caller's certificate on every question (its chain from the
		// Server's cache).
		if _, err := a.callerTLS.Check(r); err != nil {
			return untrusted(err)
		}
	}
	return nil
}

// notConfigured is the refusal of a gateway without an authz section.
func notConfigured() *Decision {
	return deny(http.StatusInternalServerError, ReasonAuthzNotConfigured, "the decision service is not configured", "the configuration has no authz section")
}

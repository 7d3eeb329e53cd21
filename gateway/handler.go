package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/forwardedorigin"
	"github.com/forgeproof/forgeproof/internal/logtext"
	"github.com/forgeproof/forgeproof/internal/problem"
	"github.com/forgeproof/forgeproof/mtls"
)

// Decisions recorded in the access log.
const (
	decisionAllow      = "allow"
	decisionDeny       = "deny"
	decisionReportOnly = "report-only" // refused by CSRF, let through by report-only
	// decisionError: allowed, but the upstream failed it (502, 504): an
	// outage to alert on, not a refusal to read as an attack.
	decisionError = "error"
)

// exchange is what the gateway learns about one request; the access log
// and the metrics are written from it.
type exchange struct {
	route *route
	// identity is the request's verified client identity, nil when none;
	// a connection's identity is shared by its requests: never modify it.
	identity    *mtls.Identity
	hasIdentity bool // identity != nil
	decision    string
	reason      Reason
	authzDenied bool
	// csrfReason is the CSRF guard's refusal, enforced or (report-only)
	// not.
	csrfReason   string
	csrfEnforced bool
	csrfToken    string // masked token for the upstream, token modes only
	// preflight: a CORS preflight let through without identity; its
	// upstream answer is trimmed to the CORS headers.
	preflight bool
	// dropped counts the client headers not forwarded (headers.go).
	dropped dropped
	// fwd is what a trusted proxy's forwarding headers say of the
	// request's origin, read once (readForwarded) for the check and the
	// upstream request alike; fwdRead: they were read and accepted.
	// fwdOut backs the upstream's values of them (forwardOrigin).
	fwd     forwardedorigin.Report
	fwdRead bool
	fwdOut  [3]string
	// conn is the gateway's state of the request's connection, nil when
	// the handler is embedded (Gateway.Handler): looked up once per
	// request rather than by every step that uses it.
	conn *connState
	// tunnel is the request's WebSocket handshake, nil for any other
	// request: ModifyResponse notes the upstream's certificates there.
	tunnel *tunnelOrigin
	// start is when serveHTTP began: the upstream pool's idle check of
	// a request without a body takes it for now (roundTrip,
	// hostPool.get).
	start time.Time
}

type exchangeKey struct{}

// requestState is what serveHTTP allocates per request, in one piece:
// the recorder and the exchange. A request the gateway's own HTTP/1.x
// server serves carries the exchange in its h1ReqCtx (setExchange), and
// the route's handler gets it as it is; any other request is copied with
// a context that carries the exchange (wrappedState).
type requestState struct {
	rec recorder
	x   exchange
}

// wrappedState is a requestState with the request the route's handler
// gets when the request's own context cannot carry the exchange (HTTP/2,
// the embedded handler), whose context carries it (three allocations
// fewer than context.WithValue and Request.WithContext of their own).
type wrappedState struct {
	requestState
	ctx exchangeContext
	req http.Request
	// HTTP/2's stall guard, the body it reads and the writer it writes
	// the answer through (see stallGuard).
	guard stallGuard
	body  stallBody
	gw    guardedWriter
	// The embedded handler's body (a server of one's own): see
	// clientBody.
	plain clientBody
}

// exchangeContext is context.WithValue(Context, exchangeKey{}, x),
// allocated as part of a requestState.
type exchangeContext struct {
	context.Context
	x *exchange
}

func (c *exchangeContext) Value(key any) any {
	if _, ok := key.(exchangeKey); ok {
		return c.x
	}
	return c.Context.Value(key)
}

func (c *exchangeContext) String() string { return "gateway.exchangeContext" }

// withoutExchange is ctx without serveHTTP's exchange value on top, if it
// has one: the context the exchange was added to, whose Done channel ctx
// shares. (An h1ReqCtx makes its channel only when asked for it.)
func withoutExchange(ctx context.Context) context.Context {
	if c, ok := ctx.(*exchangeContext); ok {
		return c.Context
	}
	return ctx
}

func exchangeFrom(ctx context.Context) *exchange {
	switch c := ctx.(type) { // the usual cases: the request serveHTTP passed on
	case *h1ReqCtx:
		return c.x
	case *exchangeContext:
		return c.x
	}
	x, _ := ctx.Value(exchangeKey{}).(*exchange)
	return x
}

// serveHTTP serves a request that arrived on listener (its index in the
// config; -1 when the handler is embedded, see Gateway.Handler).
func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request, listener int) {
	start := handlerStart(w)
	g.metrics.inFlight.Inc()
	defer g.metrics.inFlight.Dec()
	c := g.state.Load()
	// The exchange goes in the request's own h1ReqCtx when it has one
	// and carries none yet; else in a copy of the request (wrappedState).
	rc, own := r.Context().(*h1ReqCtx)
	own = own && rc.x == nil
	var st *requestState
	var ws *wrappedState
	if own {
		st = new(requestState)
	} else {
		ws = new(wrappedState)
		st = &ws.requestState
	}
	rec, x := &st.rec, &st.x
	rec.ResponseWriter = w
	x.decision, x.start = decisionAllow, start
	defer func() {
		end := time.Now()
		g.finish(r, rec, x, end.Sub(start))
		handlerEnded(w, end) // the idle wait's clock read
	}()
	// HTTP/1.1's stalls are its connection's (clientConn,
	// h1Server.stall); an HTTP/2 stream's are the handler's, from its
	// start, refusals and preflights included: the stream's own deadline
	// (streamWriteTimeout) is the guard's to move. Under the limits the
	// listener was started with, as its server's (restart-only keys).
	guarded := ws != nil && listener >= 0 && r.ProtoMajor == 2
	if guarded {
		h1 := g.h1s[listener]
		ws.guard.start(w, h1.stall, h1.writeTimeout, h1.stallTickLate)
		defer ws.guard.end(rec, x)
	}

	if listener >= 0 {
		x.conn = connStateOf(r.Context())
	}
	// The connection's identity, verified again when a reload or an
	// expiry may have changed the answer (two atomic loads when nothing
	// did).
	var connID *mtls.Identity
	if s := c.listenerServer(listener); s != nil {
		id, err := s.CheckConn(r, x.conn.mtlsCache())
		if err != nil && !g.checksOff.off(checkRecheck) {
			g.refuseConnection(rec, r, x, c.cfg.Listeners[listener].Address, err)
			return
		}
		connID = id
		g.countConnection(x.conn, r, c.cfg.Listeners[listener].Address)
	} else {
		connID = embeddedIdentity(r)
	}
	if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
		// A chunked HTTP/1.1 request may also have carried Content-Length
		// (request smuggling, RFC 9112 §6.1: close after it). net/http
		// deletes that Content-Length before the handler runs; the
		// gateway's own listener reads it from the connection
		// (framingConn) and the request is refused. Either way every
		// chunked request's connection is closed after the answer, so
		// bytes after its body are never read as another request (and a
		// scanner that went astray errs safely, see framingScanner).
		// Browsers never send chunked requests.
		if !g.checksOff.off(checkChunkedClose) {
			rec.Header().Set("Connection", "close")
		}
		if chunkedWithContentLength(x.conn) && !g.checksOff.off(checkFraming) {
			rec.Header().Set("Connection", "close")
			g.metrics.ambiguous.WithLabelValues(string(ReasonFramingAmbiguous)).Inc()
			g.refuse(rec, r, x, http.StatusBadRequest, ReasonFramingAmbiguous, "ambiguous framing",
				"the request has both Content-Length and Transfer-Encoding")
			return
		}
	}
	if listener >= 0 && r.Method == http.MethodOptions && r.RequestURI == "*" {
		// net/http's own answer to "OPTIONS *", which its server gives
		// before any handler unless DisableGeneralOptionsHandler is set
		// (newServer sets it, so that the checks above apply: a chunked
		// OPTIONS * would otherwise keep its connection).
		serveOptionsStar(rec, r)
		return
	}
	v := c.decide(r, listener, connID, x.conn, g.checksOff.off(checkRequests))
	if v.reason == "" && len(c.proxies) > 0 && !g.checksOff.off(checkForwardedOrigin) {
		if reason, detail := c.checkForwarded(r, x, v.route); reason != "" {
			rt, id := v.route, v.identity
			v = refusal(http.StatusBadRequest, reason, "forwarding headers refused", detail)
			v.route, v.identity, v.ambiguous = rt, id, true
		}
	}
	if v.reason == "" && v.identity != nil && !v.preflight {
		if c.unforwardable(x.conn, r, v.identity) != nil {
			v = unforwardableRefusal(v)
		}
	}
	x.route = v.route
	x.identity, x.hasIdentity = v.identity, v.identity != nil
	switch {
	case v.preflight:
		g.servePreflight(rec, r, x, v.route)
		return
	case v.reason != "":
		if v.ambiguous {
			g.metrics.ambiguous.WithLabelValues(string(v.reason)).Inc()
		}
		x.authzDenied = v.authzDenied
		g.refuse(rec, r, x, v.status, v.reason, v.title, v.detail)
		return
	}
	rt := v.route
	rec.dropInformationalCookies = rt.cookies != nil
	if listener >= 0 && r.ProtoMajor == 1 && r.Header["Upgrade"] != nil {
		// A WebSocket, once relayed, is checked again as its
		// connection's next request would be (tunnel.go). Only a request
		// that asks for an upgrade is hijacked (ReverseProxy switches
		// protocols for no other, and the direct path serves none): the
		// keep-alive path pays nothing for it.
		rec.tunnel = &tunnelOrigin{g: g, c: c, r: r, listener: listener, cf: x.conn}
	}
	x.tunnel = rec.tunnel
	var out http.ResponseWriter = rec
	if guarded {
		ws.gw = guardedWriter{rec, &ws.guard}
		out = &ws.gw
		if r.Body != nil && r.Body != http.NoBody {
			ws.body = stallBody{r.Body, &ws.guard}
			r.Body = &ws.body
		}
	} else if ws != nil && listener < 0 && r.Body != nil && r.Body != http.NoBody {
		ws.plain = clientBody{r.Body}
		r.Body = &ws.plain
	}
	if max := c.limits.MaxBodyBytes; max > 0 && r.Body != nil {
		r.Body = http.MaxBytesReader(rec, r.Body, max)
	}
	if rt.cookies != nil {
		// Before the CSRF guard, which may bind tokens to the session
		// cookie under the upstream's name.
		rt.cookies.rewriteRequest(r.Header)
	}
	// The identity travels in the exchange (tokenBinding reads it there),
	// not in an mtls context value: one context value per request, not two.
	if own {
		// No copy of the request: its context is this request's alone
		// (h1Server makes one per request). Of the request's fields the
		// route's handler assigns only Body (the CSRF guard's form
		// peek, csrf's peekBody, which keeps the body it wraps), which
		// nothing after it reads but h1Server's Close: the deferred
		// finish reads the same fields as with a copy.
		rc.setExchange(x)
		rt.handler.ServeHTTP(rec, r)
		return
	}
	ws.ctx = exchangeContext{Context: r.Context(), x: x}
	ws.req = *r.WithContext(&ws.ctx)
	rt.handler.ServeHTTP(out, &ws.req)
}

// handlerStart is when the handler serving w started: the clock read of
// the gateway's own HTTP/1.x server for its client watch, just before it
// called the handler (one clock read per request fewer), else now.
func handlerStart(w http.ResponseWriter) time.Time {
	if hw, ok := w.(*h1Response); ok && !hw.started.IsZero() {
		return hw.started
	}
	return time.Now()
}

// countConnection counts the connection cf (nil: none) in the
// connections metric if r is its first request.
func (g *Gateway) countConnection(cf *connState, r *http.Request, listener string) {
	if cf == nil || cf.counted.Load() || !cf.counted.CompareAndSwap(false, true) {
		return
	}
	proto := "http/1.1"
	if r.ProtoMajor == 2 {
		proto = "h2"
	}
	g.metrics.connections.WithLabelValues(listener, proto).Inc()
}

// serveOptionsStar answers "OPTIONS *" as net/http's server does
// (globalOptionsHandler): 200, no body, and up to 4 KiB of a request body
// read (more closes the connection).
func serveOptionsStar(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
}

// chunkedWithContentLength reports whether a chunked HTTP/1.1 request on
// the connection cf also carried Content-Length: known only on a
// connection the gateway's listener accepted (false otherwise).
func chunkedWithContentLength(cf *connState) bool {
	return cf != nil && cf.framing != nil && cf.framing.ChunkedWithContentLength()
}

// refuse writes a problem response and records the decision.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, x *exchange, status int, reason Reason, title, detail string) {
	x.decision, x.reason = decisionDeny, reason
	problem.Write(w, r, problem.Details{Status: status, Reason: string(reason), Title: title, Detail: detail})
}

// authorizeRequest returns "" when the identity (nil: none) may call the
// route, else the reason code.
func (rt *route) authorizeRequest(id *mtls.Identity) Reason {
	if rt.allowUnauthenticated {
		return ""
	}
	if id == nil {
		return Reason(mtls.ReasonNoIdentity)
	}
	if rt.authorize == nil {
		return Reason(mtls.ReasonIdentityDenied) // deny by default
	}
	return Reason(mtls.ReasonOf(rt.authorize(*id)))
}

// isBrowser reports whether the request carries Fetch Metadata headers,
// which only browsers send (page scripts cannot set Sec- headers).
func isBrowser(r *http.Request) bool {
	// r.Header.Get without canonicalising the canonical names.
	return field(r.Header, "Sec-Fetch-Site") != "" || field(r.Header, "Sec-Fetch-Mode") != ""
}

// hasDotSegments reports whether a (decoded) path has "." or ".."
// segments. Browsers resolve them before sending, so only hand-made
// requests have them, and they could make the gateway's route and the
// upstream's idea of the path differ.
func hasDotSegments(p string) bool {
	// strings.SplitSeq(p, "/") has a segment "." or "..", without the
	// iterator: a segment starts at p's start or after a '/', and ends at
	// the next '/' or p's end.
	for start := 0; start <= len(p); {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		if seg := p[start:end]; seg == "." || seg == ".." {
			return true
		}
		start = end + 1
	}
	return false
}

// identify returns the verified client identity of the request: the
// connection's certificate or, when the connection comes from a trusted
// forwarder, the forwarder's header (never the forwarder's own
// certificate). A non-empty
// reason means the request must be refused with status. The identity is
// nil when there is none.
func (c *compiled) identify(r *http.Request, listener int, connID *mtls.Identity) (id *mtls.Identity, status int, reason Reason) {
	if len(c.forwarders) == 0 {
		// No forwarder to believe (forwardedIdentity would say so, with
		// a zero Identity of some 300 bytes to return).
		return connID, 0, ""
	}
	if fid, ok, trusted, status, reason := c.forwardedIdentity(r, listener, connID); trusted {
		if reason != "" {
			return nil, status, reason
		}
		if !ok {
			return nil, 0, ""
		}
		id := new(mtls.Identity) // allocated here, not for every request
		*id = fid
		return id, 0, ""
	}
	return connID, 0, ""
}

// listenerServer is the mtls.Server of listener, nil when the handler is
// embedded (listener -1) or the listener has none.
func (c *compiled) listenerServer(listener int) *mtls.Server {
	if listener < 0 {
		return nil
	}
	return c.listeners[listener].server
}

// embeddedIdentity is the client identity of a request to the embedded
// handler (Gateway.Handler): the connection identity in its context
// (mtls.Server.Handler), else that of a connection crypto/tls verified.
func embeddedIdentity(r *http.Request) *mtls.Identity {
	id, ok := mtls.IdentityFromContext(r.Context())
	if !ok || id.Forwarded {
		if id, ok = mtls.IdentityFromTLS(r.TLS); !ok {
			return nil
		}
	}
	return &id
}

// refuseConnection answers a request whose connection's certificate the
// re-check refused: 403 with the reason a new handshake would get, and
// Connection: close, so that the client has to handshake again (and is
// refused there). It is counted and logged as a refused handshake of the
// listener, with open_connection=true in the log.
func (g *Gateway) refuseConnection(w http.ResponseWriter, r *http.Request, x *exchange, listener string, err error) {
	reason := mtls.ReasonOf(err)
	g.metrics.handshakeFailures.WithLabelValues(listener, string(reason)).Inc()
	cs := r.TLS
	if cs == nil {
		// Not reached today: CheckConn refuses only a request with TLS
		// state, and net/http sets it on every request of a TLS
		// connection, an HTTP/2 one whose :scheme is http included
		// (initALPNRequest). Checked anyway: no panic in the handler if
		// either changes.
		cs = new(tls.ConnectionState)
	}
	attrs := []any{"listener", listener, "reason", reason, "peer", r.RemoteAddr, "server_name", logtext.Clean(cs.ServerName, logtext.MaxName), "open_connection", true, "error", logtext.Error(err)}
	if len(cs.PeerCertificates) > 0 {
		leaf := cs.PeerCertificates[0]
		attrs = append(attrs, "subject", logtext.Clean(leaf.Subject.String(), logtext.MaxIdentity), "serial", serialHex(leaf.SerialNumber))
	}
	g.log.Warn("client certificate refused on an open connection", attrs...)
	w.Header().Set("Connection", "close")
	g.refuse(w, r, x, http.StatusForbidden, Reason(reason), "client certificate refused",
		"the connection's client certificate is no longer accepted (checked again after a reload or an expiry); open a new connection")
}

// recorder remembers the status and size of a response for the access
// log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	// tunnel, when not nil, keeps the connection a Hijack hands over
	// under the re-checks of open connections (tunnel.go); kept is that
	// connection once handed over.
	tunnel *tunnelOrigin
	kept   *tunnel
	// dropInformationalCookies: the route hardens cookies, and its
	// upstream's 1xx answers go out without Set-Cookie (WriteHeader).
	dropInformationalCookies bool
}

func (r *recorder) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// An upstream's informational answer, relayed: the log records
		// the final status.
		if r.dropInformationalCookies {
			// On a route that hardens cookies, a 1xx (103 Early Hints)
			// goes out without Set-Cookie rather than hardened: browsers
			// do not store a cookie from one (RFC 8297: its fields are
			// not the final answer's; Chromium over HTTP/2 and
			// HTTP/1.1, TestInformationalCookiesInBrowser), so it
			// serves only other clients, unhardened. An upstream sets
			// its cookies on the final answer, which is hardened.
			// keepHeaders has taken the gateway's own fields out of the
			// map before this, and puts them back after.
			delete(r.Header(), "Set-Cookie")
		}
		r.ResponseWriter.WriteHeader(code)
		return
	}
	if r.status == 0 {
		r.status = code
	}
	if _, ok := r.Header()["Content-Type"]; !ok {
		// Never sniff: a proxy passes on the upstream's Content-Type or
		// none. (net/http sniffs when the first body bytes come before
		// the header is flushed, which for ReverseProxy's streamed
		// answers depends on timing.) A nil value is not sent.
		r.Header()["Content-Type"] = nil
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection over, which the gateway does only to
// relay a WebSocket upgrade once the upstream answered 101
// (httputil.ReverseProxy writes that 101 on the hijacked connection
// itself): the access log records 101, not 200.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil && r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	if err == nil && r.tunnel != nil {
		r.kept = r.tunnel.keep(c)
		c = r.kept
	}
	return c, rw, err
}

// Flush keeps streaming responses streaming through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		if r.status == 0 {
			r.status = http.StatusOK
		}
		f.Flush()
	}
}

// checksHost reports whether the listener checks r's Host against its
// connection's SNI: on every connection with check-host, on HTTP/2
// connections unless the config says insecure.
func (l *listenerTLS) checksHost(r *http.Request) bool {
	return l.checkHost || (r.ProtoMajor == 2 && l.checkHTTP2)
}

// authorityMismatch returns why an HTTP/2 request's Host header, if it
// has one, does not agree with its :authority (r.Host), else "". Go's
// HTTP/2 server takes :authority for r.Host and leaves a Host header in
// r.Header, which an upstream that reads headers could believe instead.
// An agreeing Host header is deleted: the upstream gets r.Host.
func authorityMismatch(r *http.Request) string {
	hs, ok := r.Header["Host"]
	switch {
	case !ok:
		return ""
	case len(hs) > 1:
		return "the request has more than one Host header"
	case !strings.EqualFold(hs[0], r.Host):
		return "the Host header is not the :authority pseudo-header"
	}
	delete(r.Header, "Host")
	return ""
}

// hostCheck is mtls's Host-versus-SNI check; misdirected uses only that
// part of the Guard (its authorization is the routes' business).
var hostCheck = &mtls.Guard{CheckHost: true}

// misdirected reports whether r came on a connection that presented a
// client certificate and its Host is not the connection's TLS server name
// (SNI), so that a certificate asked for one host name does not
// authenticate requests for another.
func misdirected(r *http.Request) bool {
	_, err := hostCheck.Check(r)
	return mtls.ReasonOf(err) == mtls.ReasonMisdirected
}

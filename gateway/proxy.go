package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/forgeproof/forgeproof/internal/ascii"
	"github.com/forgeproof/forgeproof/internal/forwardedorigin"
	"github.com/forgeproof/forgeproof/internal/logtext"
	"github.com/forgeproof/forgeproof/internal/problem"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// HeaderClientIdentity carries a readable name of the verified client to
// the upstream: its SPIFFE ID, else its subject, with bytes outside
// printable ASCII percent-encoded. It is a convenience for logs; authorize
// on Client-Cert or X-Forwarded-Client-Cert. Client-sent copies are
// deleted, like every header whose name starts with "Forgeproof-".
const HeaderClientIdentity = "Forgeproof-Client-Identity"

// closeIdle closes the idle upstream connections of a configuration that
// is no longer current.
func (c *compiled) closeIdle() {
	for _, tr := range c.transports {
		tr.CloseIdleConnections()
	}
}

// newReverseProxy builds the ReverseProxy of a route, which serves what
// the direct path does not (direct.go).
func newReverseProxy(rt *route, tr http.RoundTripper, c *compiled, log *slog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: tr,
		Rewrite:   func(pr *httputil.ProxyRequest) { c.rewrite(pr, rt) },
		ModifyResponse: func(resp *http.Response) error {
			if err := checkSwitch(resp, c.checksOff); err != nil {
				return err
			}
			x := exchangeFrom(resp.Request.Context())
			if x != nil && x.tunnel != nil && resp.StatusCode == http.StatusSwitchingProtocols && resp.TLS != nil {
				// A reload verifies these again (recheckTunnel).
				x.tunnel.upstreamCerts, x.tunnel.upstreamHost = resp.TLS.PeerCertificates, resp.Request.URL.Hostname()
			}
			if x != nil && x.preflight {
				trimPreflightResponse(resp)
			}
			if len(resp.Trailer) > 0 {
				fitTrailerToHTTP1(resp)
			}
			if rt.cookies != nil {
				rt.cookies.rewriteResponse(resp.Header)
				dropTrailerCookies(resp)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			upstreamError(w, r, err, rt, &c.limits, log)
		},
		// A failure after the answer's header went out (its body ended
		// early: "read error during body copy") is logged here: with the
		// route and upstream, as upstreamError's lines.
		ErrorLog:   slog.NewLogLogger(log.With("route", rt.name, "upstream", rt.upstream.Redacted()).Handler(), slog.LevelWarn),
		BufferPool: copyBuffers,
	}
}

// fitTrailerToHTTP1 keeps the answer to an HTTP/1.x client from
// announcing a trailer (the Trailer header, built from resp.Trailer) that
// cannot follow. HTTP/1.1 carries a trailer only after a chunked body,
// HTTP/1.0 never; an HTTP/2 upstream may send a content-length and a
// trailer both, and with a Content-Length the answer goes out unchunked
// and the trailer is lost after it was announced (ReverseProxy and
// net/http do the same). To an HTTP/1.1 client that asked for trailers
// (TE: trailers, forwarded to the upstream) the answer goes out chunked,
// without its Content-Length, so that the trailer follows; to any other
// HTTP/1.x client, and after a status without a body, the trailer is
// dropped and not announced. A HEAD answer is fitted as the GET's would
// be: it carries the GET's header fields (RFC 9110, section 9.3.2), and
// announcing a trailer the GET would drop tells the client wrong.
// Called only for an answer that announced a trailer.
func fitTrailerToHTTP1(resp *http.Response) {
	req := resp.Request
	if req == nil || req.ProtoMajor != 1 {
		return
	}
	switch {
	case !bodyAllowedForStatus(resp.StatusCode) || !req.ProtoAtLeast(1, 1):
		resp.Trailer = nil
	case resp.ContentLength < 0 && !hasHeader(resp.Header, "Content-Length"):
		// Chunked already: the trailer follows.
	case httpguts.HeaderValuesContainsToken(req.Header["Te"], "trailers"):
		delete(resp.Header, "Content-Length")
		resp.ContentLength = -1
	default:
		resp.Trailer = nil
	}
}

// copyBuffers lends ReverseProxy its 32 KiB copy buffers. Without a pool
// it allocates one per response, which was most of the gateway's
// allocated bytes and a good part of its CPU (bench/NOTES.md). A buffer
// only ever holds body bytes in transit and is overwritten by the next
// Read before it is written anywhere, so sharing it between requests
// leaks nothing.
var copyBuffers httputil.BufferPool = &bufferPool{free: make(chan *[copyBufferSize]byte, 64)}

// A bufferPool keeps up to 64 buffers (2 MiB) between requests. A
// sync.Pool is emptied by every other garbage collection, which under
// load (a small heap, collected often) made it allocate a new 32 KiB
// buffer every few dozen requests.
type bufferPool struct{ free chan *[copyBufferSize]byte }

const copyBufferSize = 32 * 1024 // the size ReverseProxy would allocate

func (bp *bufferPool) Get() []byte {
	select {
	case b := <-bp.free:
		return b[:]
	default:
		return new([copyBufferSize]byte)[:]
	}
}

// Put takes back a buffer from Get; one beyond the pool's room is left
// to the garbage collector.
func (bp *bufferPool) Put(b []byte) {
	if cap(b) == copyBufferSize {
		select {
		case bp.free <- (*[copyBufferSize]byte)(b[:copyBufferSize]):
		default:
		}
	}
}

// rewrite turns the client's request into the upstream's. ReverseProxy
// has already removed hop-by-hop headers and every X-Forwarded-* and
// Forwarded header from pr.Out.
func (c *compiled) rewrite(pr *httputil.ProxyRequest, rt *route) {
	var d dropped
	// Identity hygiene: no client-sent identity header reaches the
	// upstream, under any spelling, and neither does any Forgeproof-*,
	// another product's identity header or a name with '_' (headers.go).
	// The copy has room for the headers set below and by ReverseProxy
	// (addedRoom), which would otherwise grow the map ReverseProxy sized
	// exactly.
	trustedPeer := c.trustedPeer(pr.In)
	pr.Out.Header = c.headers.withoutClientHeaders(pr.Out.Header, c.addedRoom(pr.In, trustedPeer), rt.allowUnderscoreHeaders, trustedPeer, c.checksOff, &d)
	c.rewriteFiltered(pr, rt, trustedPeer, d, true)
}

// rewriteFiltered is rewrite after the client's headers were filtered
// into pr.Out.Header (d counts what was dropped): the direct path
// (direct.go) filters them as it copies them. upgrade is false when the
// request asks for no upgrade and pr.Out.Header has no hop-by-hop field
// (the direct path's: see applies and outHeader).
func (c *compiled) rewriteFiltered(pr *httputil.ProxyRequest, rt *route, trustedPeer bool, d dropped, upgrade bool) {
	x := exchangeFrom(pr.In.Context())
	origin := d.origin // a trusted proxy's origin header was kept
	d.origin = false
	// Only a checked WebSocket handshake may switch protocols.
	if upgrade {
		forwardUpgrade(pr.In, pr.Out.Header, &d, c.checksOff)
	} else {
		dropHTTP2Settings(pr.Out.Header, &d, c.checksOff)
	}
	// No body left on a reused connection for the upstream to read as a
	// request of its own, and no Expect.
	frameBody(pr.Out, c.checksOff, rt.reuseAfterBody)
	// No request trailers: their fields would reach the upstream unfiltered
	// after the body (Client-Cert, X-Forwarded-For). ReverseProxy copies
	// only the announced names, never their values, so this drops the
	// announcement and keeps that true if it ever changes.
	pr.Out.Trailer = nil
	if x != nil {
		x.dropped = d
		if x.preflight {
			for _, name := range preflightCredentials {
				delete(pr.Out.Header, name)
			}
		}
	}

	pr.SetURL(rt.upstream)
	// The upstream sees the Host the client asked for, so that it can
	// build its own URLs and origin; its address is in the URL.
	pr.Out.Host = pr.In.Host

	// Forwarding headers are believed only from a trusted proxy; from
	// anyone else they were dropped and are set afresh. A trusted
	// proxy's X-Forwarded-For is extended; of the rest only what
	// serveHTTP read and the CSRF check reads goes on (forwardOrigin).
	if trustedPeer {
		copyHeader(pr.Out.Header, pr.In.Header, "X-Forwarded-For")
		setXForwarded(pr)
		c.forwardOrigin(pr, x)
		// Its other scheme, port and host headers go on only when they
		// agree with what forwardOrigin set (originNames).
		if origin && !c.checksOff.off(checkForwardedOrigin) {
			if n := withoutOtherOrigins(pr.Out.Header); n > 0 && x != nil {
				x.dropped.forwarding += n
			}
		}
	} else if x != nil {
		setXForwardedConn(pr, x.conn)
	} else {
		setXForwarded(pr)
	}

	if x == nil {
		return
	}
	if x.hasIdentity {
		opts := c.forwardOptions(pr.In, x.identity)
		if err := c.setForwardedHeaders(x.conn, pr.In, pr.Out.Header, x.identity, opts); err != nil {
			// Not reached: the handler refused the request
			// (unforwardable). Should it be, the upstream gets no
			// identity header rather than a partial one.
			forwarded.StripHeaders(pr.Out.Header)
			pr.Out.Header.Del(HeaderClientIdentity)
			c.log.Error("identity not forwarded", "route", rt.name, "identity", printable(x.identity.String()), "error", err)
		}
	}
	if x.csrfToken != "" {
		pr.Out.Header.Set(HeaderCSRFToken, x.csrfToken)
	}
}

// setXForwarded is pr.SetXForwarded with the three values in one
// allocation instead of three.
func setXForwarded(pr *httputil.ProxyRequest) {
	xf := newXForwarded(pr.In)
	if prior := pr.Out.Header["X-Forwarded-For"]; len(prior) > 0 && xf.forFound {
		xf.v[0] = strings.Join(prior, ", ") + ", " + xf.v[0]
	}
	xf.set(pr.Out.Header)
}

// xForwarded is what setXForwarded sets for a request without prior
// X-Forwarded-For values, from its peer address, Host and scheme.
type xForwarded struct {
	remoteAddr, host string
	tls              bool
	// forFound: RemoteAddr has a host and port, and v[0] is its host;
	// else X-Forwarded-For is deleted.
	forFound bool
	v        [3]string
}

func newXForwarded(in *http.Request) *xForwarded {
	xf := &xForwarded{remoteAddr: in.RemoteAddr, host: in.Host, tls: in.TLS != nil}
	if clientIP, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		xf.v[0], xf.forFound = clientIP, true
	}
	xf.v[1] = in.Host
	xf.v[2] = "http"
	if xf.tls {
		xf.v[2] = "https"
	}
	return xf
}

// set puts xf's values in h, each in a slice of its own capped so that
// an append copies.
func (xf *xForwarded) set(h http.Header) {
	if xf.forFound {
		h["X-Forwarded-For"] = xf.v[0:1:1]
	} else {
		delete(h, "X-Forwarded-For")
	}
	h["X-Forwarded-Host"] = xf.v[1:2:2]
	h["X-Forwarded-Proto"] = xf.v[2:3:3]
}

// setXForwardedConn is setXForwarded for a request on the connection cf
// (nil: none), with the values of the connection's last request when its
// peer address, Host and scheme are the same: no allocation for the
// usual keep-alive request. The slices are shared between those
// requests; nothing assigns to the elements of an upstream request's
// header values (see outHeader). A request with prior X-Forwarded-For
// values (a trusted proxy's) gets setXForwarded's.
func setXForwardedConn(pr *httputil.ProxyRequest, cf *connState) {
	if cf == nil || len(pr.Out.Header["X-Forwarded-For"]) > 0 {
		setXForwarded(pr)
		return
	}
	in := pr.In
	xf := cf.xf.Load()
	if xf == nil || xf.remoteAddr != in.RemoteAddr || xf.host != in.Host || xf.tls != (in.TLS != nil) {
		xf = newXForwarded(in)
		cf.xf.Store(xf)
	}
	xf.set(pr.Out.Header)
}

// forwardOrigin sets the upstream's Forwarded, X-Forwarded-Proto and
// X-Forwarded-Host for a request from a trusted proxy, once setXForwarded
// set the latter two from the connection: to what serveHTTP read of the
// proxy's headers and accepted (readForwarded), the origin the CSRF check
// reads. Only Forwarded's last element goes on, and of X-Forwarded-Proto
// and -Host (where Forwarded does not name them) only the last value:
// the ones the proxy added. Earlier ones may be the client's (a proxy
// that appends, as HAProxy's add-header does; the elements of a
// Forwarded a proxy passed on), and Express, Django and Spring read the
// first. Where the proxy names no proto or host the connection's stay,
// which the check found equal to the other header's.
func (c *compiled) forwardOrigin(pr *httputil.ProxyRequest, x *exchange) {
	if x == nil || !x.fwdRead {
		if c.checksOff.off(checkForwardedOrigin) {
			// The tests' negative control: every Forwarded line as sent.
			copyHeader(pr.Out.Header, pr.In.Header, "Forwarded")
			copyLastValue(pr.Out.Header, pr.In.Header, "X-Forwarded-Host")
			copyLastValue(pr.Out.Header, pr.In.Header, "X-Forwarded-Proto")
			return
		}
		// Not read by serveHTTP (no exchange): read now; refused
		// headers do not go on (the connection's values stay).
		scheme := "http"
		if pr.In.TLS != nil {
			scheme = "https"
		}
		rep, e := forwardedorigin.Read(pr.In.Header, scheme, pr.In.Host)
		if e != nil {
			return
		}
		if x == nil {
			x = new(exchange)
		}
		x.fwd = rep
	}
	// Values in x.fwdOut, each in a slice of its own capped so that an
	// append copies: no allocation.
	h, f := pr.Out.Header, &x.fwd
	if f.Element != "" {
		x.fwdOut[0] = f.Element
		h["Forwarded"] = x.fwdOut[0:1:1]
	}
	if f.Proto != "" {
		x.fwdOut[1] = f.Proto
		h["X-Forwarded-Proto"] = x.fwdOut[1:2:2]
	}
	if f.Host != "" {
		x.fwdOut[2] = f.Host
		h["X-Forwarded-Host"] = x.fwdOut[2:3:3]
	}
}

// withoutOtherOrigins deletes from h, the upstream request's header once
// forwardOrigin set its X-Forwarded-Proto and -Host to the origin
// checked, every header of originNames (under any spelling) with a value
// that names another scheme, port or host than that origin (read as its
// readers read it: originAgrees), and returns how many it deleted.
// Called only for a request from a trusted proxy that sent one of them.
func withoutOtherOrigins(h http.Header) int {
	o := newCheckedOrigin(firstValue(h["X-Forwarded-Proto"]), firstValue(h["X-Forwarded-Host"]))
	n := 0
	for name, lines := range h {
		if o.disagrees(name, lines) {
			delete(h, name)
			n++
		}
	}
	return n
}

// A checkedOrigin is the origin a trusted proxy's scheme, port and host
// headers (originNames) must agree with: its scheme, its port (explicit
// or the scheme's default) and its host, default port aside.
type checkedOrigin struct{ scheme, port, host string }

func newCheckedOrigin(scheme, host string) checkedOrigin {
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i:], ']') < 0 {
		port = host[i+1:]
	}
	return checkedOrigin{scheme: scheme, port: port, host: forwardedorigin.StripDefaultPort(host, scheme)}
}

// disagrees reports whether the header name, under any spelling, is one
// of originNames with a line (lines: its values) that names another
// origin than o.
func (o *checkedOrigin) disagrees(name string, lines []string) bool {
	var buf [64]byte
	n := normaliseName(buf[:0], name)
	rule := originNames[string(n)]
	if rule == 0 {
		return false
	}
	for _, line := range lines {
		if !originAgrees(rule, string(n) == "front-end-https", line, o.scheme, o.port, o.host) {
			return true
		}
	}
	return false
}

// originAgrees reports whether line, an origin header's (rule), names
// the origin scheme://host (port: its port, explicit or the scheme's
// default) as every upstream reads it. Only the blanks HTTP allows
// around a value (space and tab) are trimmed, and only ASCII letters
// compare in any case (strings.EqualFold would take "httpſ" for
// "https", TrimSpace a no-break space): an upstream reads those as no
// scheme and falls back to its connection's. Scheme names, "on", "off"
// and "ssl" must be in lower case (foldCase: Front-End-Https, whose
// readers fold case): gunicorn compares the whole value with "on" and
// "ssl", Rack with "on" and its allowed schemes, Tornado X-Scheme with
// "http" and "https". On/off flags and X-Forwarded-Protocol take one
// value, not a comma list: gunicorn and Rack read "on, on" as no "on",
// CodeIgniter "off, off" as not "off", so https. Schemes, ports and
// hosts may be a list whose every element agrees: Rack 3 and Tornado
// read the last, Spring and Express the first.
func originAgrees(rule originRule, foldCase bool, line, scheme, port, host string) bool {
	switch rule {
	case originOnOff:
		v := trimBlanks(line)
		if foldCase {
			return scheme == "https" && ascii.EqualFold(v, "on") || scheme == "http" && ascii.EqualFold(v, "off")
		}
		return scheme == "https" && v == "on" || scheme == "http" && v == "off"
	case originProtocol:
		v := trimBlanks(line)
		return v == scheme || scheme == "https" && v == "ssl"
	case originCFVisitor:
		// Exactly as Cloudflare writes it: a reader decoding other JSON
		// (another key, a second "scheme") is not guessed at.
		return trimBlanks(line) == `{"scheme":"`+scheme+`"}`
	}
	for {
		v, rest, more := strings.Cut(line, ",")
		v = trimBlanks(v)
		var ok bool
		switch rule {
		case originScheme:
			ok = v == scheme
		case originPort:
			ok = v == port
		case originHost:
			ok = v != "" && ascii.EqualFold(forwardedorigin.StripDefaultPort(v, scheme), host)
		}
		if !ok {
			return false
		}
		if !more {
			return true
		}
		line = rest
	}
}

// trimBlanks trims the spaces and tabs around an HTTP field value.
func trimBlanks(s string) string {
	return strings.Trim(s, " \t")
}

func firstValue(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// copyLastValue sets dst's name to the last comma-separated value of
// src's last line of it, when that is not empty.
func copyLastValue(dst, src http.Header, name string) {
	v := src[name]
	if len(v) == 0 {
		return
	}
	last := v[len(v)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	if last = strings.TrimSpace(last); last != "" {
		dst[name] = []string{last}
	}
}

func copyHeader(dst, src http.Header, name string) {
	if v := src.Values(name); len(v) > 0 {
		dst[name] = append([]string(nil), v...)
	}
}

// addedHeaders is how many headers rewrite and the transport may add to
// an upstream request: X-Forwarded-For, -Host and -Proto, Client-Cert,
// Client-Cert-Chain, X-Forwarded-Client-Cert, Forgeproof-Client-Identity
// and Forgeproof-Csrf-Token.
const addedHeaders = 8

// isOwnHeader reports whether name starts with "forgeproof-" in any case
// and with any punctuation ('_', '.') for '-', as mtls compares names:
// only the gateway sets those.
func isOwnHeader(name string) bool {
	const prefix = "forgeproof-"
	if len(name) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if normaliseByte(name[i]) != prefix[i] {
			return false
		}
	}
	return true
}

// printable percent-encodes '%' and every byte outside printable ASCII, so
// that a certificate subject can travel in a header.
func printable(s string) string {
	const hex = "0123456789ABCDEF"
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		clean = s[i] >= 0x20 && s[i] <= 0x7e && s[i] != '%'
	}
	if clean {
		return s // the usual case, a SPIFFE ID or a plain subject
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// upstreamError answers a request the upstream failed: 504 on a timeout,
// 503 when no upstream connection was free (upstream-busy), 413 when the
// body was too large, 408 when the client did not send it in time,
// nothing when the client went away, 400 when its body could not be read
// otherwise, 502 otherwise. The details go to the log, never to the
// client: what failed at which upstream, and why (describeUpstreamError;
// l, the limits, names the timeout that fired).
func upstreamError(w http.ResponseWriter, r *http.Request, err error, rt *route, l *Limits, log *slog.Logger) {
	var maxErr *http.MaxBytesError
	var switchErr errUnexpectedSwitch
	var clientErr *clientTimeoutError
	var bodyErr *clientBodyError
	switch {
	case errors.As(err, &switchErr):
		// Fail closed: relaying it would make the connection a tunnel past
		// every check (headers.go, checkSwitch).
		log.Warn("upstream switched protocols unasked: refused", "route", rt.name, "upstream", rt.upstream.Redacted(), "error", err)
		writeProblem(w, r, http.StatusBadGateway, ReasonUpstreamUpgradeRefused, "upstream switched protocols unasked")
	case errors.As(err, &maxErr):
		// The rest of an HTTP/1.1 body is not read: the connection ends
		// with the answer (net/http's server would close it for
		// MaxBytesReader; the gateway's h1Server is told here). On
		// HTTP/2 the stream ends alone: Connection: close would make Go's
		// server close the whole connection (GOAWAY), other streams' too.
		writeBodyProblem(w, r, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, "request body too large")
	case errors.As(err, &clientErr):
		// Not the upstream's fault; the connection ends as for a body
		// too large.
		writeBodyProblem(w, r, http.StatusRequestTimeout, ReasonClientTimeout, "request body not received in time")
	case errors.Is(r.Context().Err(), context.Canceled):
		// The client left; there is no one to answer. It passed every
		// check and was forwarded: no refusal, so the log keeps the
		// decision the checks made (allow, or report-only).
		if x := exchangeFrom(r.Context()); x != nil {
			x.reason = reasonClientGone
		}
	case errors.As(err, &bodyErr):
		// The client's framing or connection, not the upstream: where
		// its body ends is unknown, so the connection ends too.
		log.Debug("request body unreadable", "route", rt.name, "error", logtext.Error(err))
		writeBodyProblem(w, r, http.StatusBadRequest, ReasonBodyInvalid, "request body malformed or incomplete")
	case errors.Is(err, errUpstreamBusy):
		// Checked before isTimeout: the wait for a connection is no
		// upstream timeout, and nothing was sent. A refusal of the
		// gateway's own limit, as body-too-large is: the request line
		// and the metric say it; a warning each would flood the log
		// under the overload that causes it.
		log.Debug("upstream busy", "route", rt.name, "upstream", rt.upstream.Redacted(), "error", err)
		writeProblem(w, r, http.StatusServiceUnavailable, ReasonUpstreamBusy, "upstream busy")
	case isTimeout(err):
		log.Warn("upstream timeout", "route", rt.name, "upstream", rt.upstream.Redacted(), "error", describeUpstreamError(err, rt, l))
		writeProblem(w, r, http.StatusGatewayTimeout, ReasonUpstreamTimeout, "upstream timeout")
		upstreamFailed(r)
	default:
		log.Warn("upstream error", "route", rt.name, "upstream", rt.upstream.Redacted(), "error", describeUpstreamError(err, rt, l))
		writeProblem(w, r, http.StatusBadGateway, ReasonUpstreamUnavailable, "upstream unavailable")
		upstreamFailed(r)
	}
}

// upstreamFailed logs an allowed request the upstream failed with the
// decision "error", not writeProblem's "deny": nothing was refused.
func upstreamFailed(r *http.Request) {
	if x := exchangeFrom(r.Context()); x != nil {
		x.decision = decisionError
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeBodyProblem is writeProblem for a refusal whose request body was
// not read to its end: an HTTP/1.1 connection closes after it, since the
// rest of the body would be read as the next request. (HTTP/2 streams end
// alone.)
func writeBodyProblem(w http.ResponseWriter, r *http.Request, status int, reason Reason, title string) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	writeProblem(w, r, status, reason, title)
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, reason Reason, title string) {
	if x := exchangeFrom(r.Context()); x != nil {
		x.decision, x.reason = decisionDeny, reason
	}
	problem.Write(w, r, problem.Details{Status: status, Reason: string(reason), Title: title})
}

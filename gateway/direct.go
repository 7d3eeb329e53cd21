package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
)

// The direct path: a route's common request proxied as
// httputil.ReverseProxy.ServeHTTP proxies it, without the parts of its
// work the gateway does not need. Profiles of the gateway under keep-alive
// load put ReverseProxy's own work at about a tenth of the server's CPU
// per request: a deep copy of the request (which rewrite's header filter
// then copies again), an httptrace context for 1xx answers, a
// mime.ParseMediaType per answer, and the rest of its generality. The
// direct path serves a request when all of this holds:
//
//   - the route's upstream is plain HTTP and upstreamTransport sends it
//     over its own connections (upstream.go), which take a 1xx hook as
//     a plain function;
//   - the request asks for no upgrade (no Upgrade header, Connection does
//     not name upgrade): ReverseProxy turns a 101 into a tunnel;
//   - the request's context can be cancelled (always, under a server):
//     ReverseProxy would otherwise watch CloseNotify;
//   - GODEBUG does not set urlmaxqueryparams, under which ReverseProxy
//     re-encodes every query.
//
// Everything else goes to ReverseProxy. What the client and the upstream
// see is ReverseProxy's, step for step: the comments below cite its code
// (Go's net/http/httputil/reverseproxy.go, BSD license), and
// fastpath_test.go compares the two byte for byte.

// directProxy is a route's proxy: the direct path where it applies,
// ReverseProxy (rp) otherwise.
type directProxy struct {
	rp *httputil.ReverseProxy
	tr *upstreamTransport
	// hp is tr's pool of the route's upstream host, which rewrite puts in
	// every upstream request's URL (SetURL); nil unless the upstream is
	// plain HTTP. The transport is shared by routes to other hosts: found
	// here, the pool needs no lookup per request.
	hp *hostPool
	rt *route
	c  *compiled
}

// newProxy builds the proxy of a route.
func newProxy(rt *route, tr *upstreamTransport, c *compiled, log *slog.Logger) *directProxy {
	p := &directProxy{rp: newReverseProxy(rt, tr, c, log), tr: tr, rt: rt, c: c}
	if rt.upstream.Scheme == "http" {
		p.hp = tr.host(canonicalAddr(rt.upstream.Host))
	}
	return p
}

func (p *directProxy) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	rw = withKeptHeaders(rw, p.c.checksOff)
	if !p.applies(req) {
		p.rp.ServeHTTP(rw, req)
		return
	}
	p.serveDirect(rw, req)
}

// applies reports whether the direct path serves req (see above).
// rewrite keeps what it checks: it adds an Upgrade only to a request that
// had one, and sets the route's upstream URL.
func (p *directProxy) applies(req *http.Request) bool {
	return !p.c.checksOff.off(checkDirectProxy) && p.rt.upstream.Scheme == "http" &&
		!p.c.checksOff.off(checkFastUpstream) && req.Header["Upgrade"] == nil &&
		!httpguts.HeaderValuesContainsToken(req.Header["Connection"], "upgrade") &&
		cancellable(req.Context()) && !queryReencoded()
}

// cancellable reports whether ctx.Done() != nil, without making the Done
// channel of an h1ReqCtx (never nil) that nothing waits on.
func cancellable(ctx context.Context) bool {
	if _, ok := withoutExchange(ctx).(*h1ReqCtx); ok {
		return true
	}
	return ctx.Done() != nil
}

// directRequest is what the direct path allocates per request, in one
// piece.
type directRequest struct {
	out  http.Request
	url  url.URL
	pr   httputil.ProxyRequest
	body noopCloseReader
	rw   http.ResponseWriter
	// answer is the upstream answer's body (upstreamBody), which no
	// other request's answer ever reuses: its done flag stays with it.
	answer upstreamBody
}

func (p *directProxy) serveDirect(rw http.ResponseWriter, req *http.Request) {
	c, rt := p.c, p.rt
	st := &directRequest{rw: rw}
	// ReverseProxy: outreq := req.Clone(ctx). Of the copy the gateway
	// needs its own URL and header map (rewrite changes both); the rest
	// is shared with req, which nothing changes (rewrite sets the copy's
	// Trailer to nil, it does not change the map).
	outreq := &st.out
	*outreq = *req
	st.url = *req.URL
	outreq.URL = &st.url
	if req.ContentLength == 0 {
		outreq.Body = nil // ReverseProxy: Issue 16036
	}
	if outreq.Body != nil {
		// ReverseProxy: the transport must not close the client's body,
		// and must not read it after the handler returned (its body
		// writer may outlive the handler when the upstream answers early).
		st.body.readCloser = outreq.Body
		outreq.Body = &st.body
		defer st.body.Close()
	}
	outreq.Close = false
	// ReverseProxy removes the hop-by-hop headers, sets "Te: trailers",
	// deletes the forwarding headers and cleans the query before Rewrite;
	// rewrite filters the client's headers first of all. outHeader does
	// both in one copy.
	var d dropped
	trustedPeer := c.trustedPeer(req)
	room := c.addedRoom(req, trustedPeer)
	var reuse http.Header
	if outreq.Body == nil {
		reuse = takeUpstreamHeader(rw, len(req.Header)+room)
	}
	outreq.Header = c.outHeader(req.Header, room, rt.allowUnderscoreHeaders, trustedPeer, &d, reuse)
	outreq.URL.RawQuery = cleanQueryParams(outreq.URL.RawQuery)
	st.pr = httputil.ProxyRequest{In: req, Out: outreq}
	c.rewriteFiltered(&st.pr, rt, trustedPeer, d, false)
	outreq = st.pr.Out
	if _, ok := outreq.Header["User-Agent"]; !ok {
		outreq.Header.Set("User-Agent", "") // ReverseProxy: not Go's default
	}
	if !p.tr.fast(outreq) {
		// Cannot happen (applies); fail closed rather than lose 1xx answers.
		p.rp.ErrorHandler(rw, outreq, errors.New("internal error: direct proxy path for a request the own connections do not send"))
		return
	}

	res, err := p.tr.roundTrip(outreq, p.hp, st.got1xx, &st.answer)
	if err != nil {
		p.rp.ErrorHandler(rw, outreq, err)
		return
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		if p.modifyResponse(rw, res, outreq) {
			p.refuseSwitch(rw, outreq, res)
		}
		return
	}
	removeHopByHopHeaders(res.Header)
	if !p.modifyResponse(rw, res, outreq) {
		return
	}
	// ReverseProxy: copyHeader(rw.Header(), res.Header). The gateway's
	// own server takes res.Header as it is instead (h1proxied.go): it is
	// not used after, but to find whether the answer is a stream. It is
	// ReadResponse's: removeHopByHopHeaders deleted fields from it, and
	// ModifyResponse deletes fields or replaces a field's values with as
	// many (TestModifyResponseKeepsParsedHeader).
	if !adoptParsedHeader(rw, res.Header) {
		copyHeaders(rw.Header(), res.Header)
	}
	// ReverseProxy: the Trailer header is built up from res.Trailer.
	announcedTrailers := len(res.Trailer)
	if announcedTrailers > 0 {
		trailerKeys := make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			trailerKeys = append(trailerKeys, k)
		}
		rw.Header().Add("Trailer", strings.Join(trailerKeys, ", "))
	}
	stream := streaming(res)
	rw.WriteHeader(res.StatusCode)

	if err := p.copyResponse(rw, res.Body, stream, res.ContentLength); err != nil {
		defer res.Body.Close()
		// ReverseProxy (Issue 23643): abort the answer, under a server.
		if req.Context().Value(http.ServerContextKey) == nil {
			p.rp.ErrorLog.Printf("suppressing panic for copyResponse error in test; copy error: %v", err)
			return
		}
		panic(http.ErrAbortHandler)
	}
	res.Body.Close() // now, to populate res.Trailer
	if len(res.Trailer) > 0 {
		// ReverseProxy: force chunking, so that a trailer can follow.
		http.NewResponseController(rw).Flush()
	}
	if len(res.Trailer) == announcedTrailers {
		if announcedTrailers > 0 {
			// Not rw.Header() for nothing: an answer still in the body
			// buffer would take a snapshot of its header.
			copyHeaders(rw.Header(), res.Trailer)
		}
		return
	}
	for k, vv := range res.Trailer {
		k = http.TrailerPrefix + k
		for _, v := range vv {
			rw.Header().Add(k, v)
		}
	}
}

// got1xx relays an informational answer as ReverseProxy's
// Got1xxResponse does. upstreamTransport calls it on the handler's
// goroutine before it returns, so ReverseProxy's lock and its check that
// RoundTrip has not returned are not needed.
func (st *directRequest) got1xx(code int, header textproto.MIMEHeader) error {
	h := st.rw.Header()
	copyHeaders(h, http.Header(header))
	st.rw.WriteHeader(code)
	clear(h) // ReverseProxy: not done by WriteHeader for 1xx
	return nil
}

// modifyResponse is ReverseProxy's.
func (p *directProxy) modifyResponse(rw http.ResponseWriter, res *http.Response, req *http.Request) bool {
	if err := p.rp.ModifyResponse(res); err != nil {
		res.Body.Close()
		p.rp.ErrorHandler(rw, req, err)
		return false
	}
	return true
}

// refuseSwitch answers a 101 that ModifyResponse let through (only with
// the upgrade check off: checkSwitch refuses every 101 to a request that
// asked for none) as ReverseProxy's handleUpgradeResponse does for a
// request without Upgrade; its answer body is never a writable
// connection. Unlike ReverseProxy it closes that body.
func (p *directProxy) refuseSwitch(rw http.ResponseWriter, req *http.Request, res *http.Response) {
	defer res.Body.Close()
	var err error
	switch resUpType := rpUpgradeType(res.Header); {
	case !isPrint(resUpType):
		err = fmt.Errorf("backend tried to switch to invalid protocol %q", resUpType)
	case resUpType != "":
		err = fmt.Errorf("backend tried to switch protocol %q when %q was requested", resUpType, "")
	default:
		err = errors.New("internal error: 101 switching protocols response with non-writable body")
	}
	p.rp.ErrorHandler(rw, req, err)
}

// rpUpgradeType is ReverseProxy's upgradeType.
func rpUpgradeType(h http.Header) string {
	if !httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// isPrint is net/http/internal/ascii.IsPrint.
func isPrint(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// outHeader is the upstream request's header that ReverseProxy's clone
// and rewrite's filter would make of the client's in, in one copy:
// without the hop-by-hop headers (and those Connection names), Forwarded
// and X-Forwarded-For, -Host and -Proto, with "Te: trailers" when the
// client's TE names trailers (ReverseProxy.ServeHTTP), then without what
// withoutClientHeaders drops (counted in d). The values are the client's
// slices, capped so that an append copies: nothing assigns to their
// elements (ReverseProxy's deep copy is for a Rewrite that would).
//
// The map is reuse when not nil (empty: takeUpstreamHeader), else a new
// one with room for the client's headers and room more (addedRoom).
func (c *compiled) outHeader(in http.Header, room int, allowUnderscore, trustedPeer bool, d *dropped, reuse http.Header) http.Header {
	// ReverseProxy's removeHopByHopHeaders: h.Del of each name in
	// Connection, canonicalised.
	connection := in["Connection"]
	out := reuse
	if out == nil {
		out = make(http.Header, len(in)+room)
	}
	for name, v := range in {
		if hopHeader(name) {
			continue
		}
		switch name {
		case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto": // deleted before Rewrite
			continue
		}
		if connection != nil && namedIn(connection, name) {
			continue
		}
		if c.headers.keep(name, allowUnderscore, trustedPeer, c.checksOff, d) {
			out[name] = v[:len(v):len(v)]
		}
	}
	// ReverseProxy (Issue 21096): tell the upstream that trailers are
	// supported when the client did.
	if httpguts.HeaderValuesContainsToken(in["Te"], "trailers") && c.headers.keep("Te", allowUnderscore, trustedPeer, c.checksOff, d) {
		out["Te"] = []string{"trailers"}
	}
	return out
}

// takeUpstreamHeader returns an empty map for an upstream request
// without a body, which needs about n fields, when the gateway's own
// HTTP/1.x server serves the client's request (rw is its response, or a
// recorder in front of it): the connection's map of its last upstream
// request (h1Conn.upHeader), which endUpstreamHeader emptied when that
// request's handler returned; else nil, and the caller makes a new one.
// Two allocations fewer per keep-alive request.
//
// An upstream request without a body is written on the handler's
// goroutine (exchange), and nothing keeps it after the handler returns
// (ReverseProxy's hooks, ModifyResponse and ErrorHandler, run before):
// the map is free then. With a body, the upstream body writer, which may
// outlive the handler, holds the request: the caller does not ask. A map
// sized for up to 8 fields is one group, which clear empties cheaply;
// one that has grown past that (a request with many fields) is left to
// the garbage collector, and so is the last map of a connection that
// serves a request with more. A second take within one handler empties
// the map here (clear returns at once on the common, empty one).
func takeUpstreamHeader(rw http.ResponseWriter, n int) http.Header {
	hw := h1ResponseOf(rw)
	if hw == nil || hw.conn.hijacked {
		return nil
	}
	c := hw.conn
	if n > maxReusedHeaderFields || len(c.upHeader) > maxReusedHeaderFields {
		c.upHeader = nil
		return nil
	}
	if c.upHeader == nil {
		c.upHeader = make(http.Header, maxReusedHeaderFields)
	} else {
		clear(c.upHeader)
	}
	return c.upHeader
}

// endUpstreamHeader empties the connection's upstream header map when
// the handler of its request has returned (h1Conn.serve), so that a
// connection waiting for its next request holds none of the last one's
// values (cookies, Authorization, the client's identity), as its
// fieldBuf holds none (writeFields). A map grown past one group is let
// go (see takeUpstreamHeader).
func (c *h1Conn) endUpstreamHeader() {
	if len(c.upHeader) > maxReusedHeaderFields {
		c.upHeader = nil
		return
	}
	clear(c.upHeader)
}

// maxReusedHeaderFields is the most fields of an upstream request header
// map a connection keeps for its next request: one group of a map.
const maxReusedHeaderFields = 8

// addedRoom is at least how many headers rewriteFiltered and serveDirect
// (or ReverseProxy) add to the upstream request of req (see
// addedHeaders), as exactly as is cheap to know: outHeader and
// withoutClientHeaders size their maps with it, and a map made for
// up to 8 fields is one group (two allocations, where a larger one takes
// four), enough for a common keep-alive request and its identity. A
// wrong count costs only the map's growth.
func (c *compiled) addedRoom(req *http.Request, trustedPeer bool) int {
	x := exchangeFrom(req.Context())
	if x == nil {
		return addedHeaders + 1
	}
	n := 3 // X-Forwarded-For, -Host and -Proto
	if trustedPeer {
		n++ // Forwarded
	}
	if req.Header["User-Agent"] == nil {
		n++ // set to ""
	}
	if x.csrfToken != "" {
		n++
	}
	if x.hasIdentity {
		// The connection's headers when they were cached for this
		// format, else every identity header there is.
		ids := maxIdentityHeaders
		if cf := x.conn; cf != nil && !x.identity.Forwarded {
			if f := cf.fwd.Load(); f != nil && f.format == c.forwardFormat {
				ids = len(f.names)
			}
		}
		n += ids
	}
	return n
}

// maxIdentityHeaders is how many headers forward an identity at most:
// Client-Cert, Client-Cert-Chain, X-Forwarded-Client-Cert and
// Forgeproof-Client-Identity.
const maxIdentityHeaders = 4

// namedIn reports whether ReverseProxy's removeHopByHopHeaders deletes
// the field name because the Connection values name it: a name in them,
// trimmed and canonicalised, is name.
func namedIn(connection []string, name string) bool {
	for _, f := range connection {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" && canonicalIs(sf, name) {
				return true
			}
		}
	}
	return false
}

// canonicalIs reports whether textproto.CanonicalMIMEHeaderKey(s) is
// name, without building the canonical form: s unchanged when it has a
// byte that is not a token character, else s with its first letter and
// every letter after '-' upper case and the others lower case.
func canonicalIs(s, name string) bool {
	if len(s) != len(name) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || !httpguts.IsTokenRune(rune(s[i])) {
			return s == name
		}
	}
	upper := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
		upper = c == '-'
	}
	return true
}

// removeHopByHopHeaders is ReverseProxy's, for an answer.
func removeHopByHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for name := range h {
		if hopHeader(name) {
			delete(h, name)
		}
	}
}

// hopHeader reports whether name is one of ReverseProxy's hopHeaders,
// which are canonical: a field of that name is deleted, as h.Del would.
func hopHeader(name string) bool {
	switch name {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// copyHeaders is ReverseProxy's copyHeader (dst.Add of every value),
// sharing src's value slice, capped, where dst has no such field: src
// is an answer's header, not used after.
func copyHeaders(dst, src http.Header) {
	for k, vv := range src {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if old, ok := dst[ck]; ok {
			dst[ck] = append(old, vv...)
		} else if len(vv) > 0 {
			dst[ck] = vv[:len(vv):len(vv)]
		}
	}
}

// copyResponse is ReverseProxy's copyResponse with its flushInterval for
// a FlushInterval of 0: a stream (a server-sent event stream or an answer
// of unknown length) is flushed after every write, anything else only at
// the end.
// ReverseProxy flushes such an answer's header from a timer of -1, which
// fires at once; here it is flushed before the body is copied, one of
// the orders ReverseProxy's goroutines may take.
// A body of known length (other than a stream) that fits in the
// gateway's own server's idle body buffer is copied through it
// (copyScratch).
func (p *directProxy) copyResponse(rw http.ResponseWriter, body io.Reader, stream bool, length int64) error {
	var w io.Writer = rw
	if stream {
		flush := http.NewResponseController(rw).Flush
		flush()
		w = flushWriter{rw, flush}
	} else if buf := copyScratch(rw, length); buf != nil {
		return p.copyBuffer(w, body, buf)
	}
	buf := copyBuffers.Get()
	defer copyBuffers.Put(buf)
	return p.copyBuffer(w, body, buf)
}

// streaming reports whether ReverseProxy.flushInterval is -1 for res.
// Content-Type is parsed only when it could name text/event-stream:
// mime.ParseMediaType lower-cases it with strings.ToLower, and no
// non-ASCII rune lower-cases to one of that name's letters (only U+0130
// and U+212A lower-case to ASCII: 'i', 'k').
func streaming(res *http.Response) bool {
	if ct := field(res.Header, "Content-Type"); containsFoldASCII(ct, "text/event-stream") {
		if base, _, _ := mime.ParseMediaType(ct); base == "text/event-stream" {
			return true
		}
	}
	return res.ContentLength == -1
}

// containsFoldASCII reports whether s contains sub, ASCII letters
// compared without case; sub is lower case.
func containsFoldASCII(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// flushWriter is ReverseProxy's maxLatencyWriter with a negative
// latency: every write is flushed, whatever its error.
type flushWriter struct {
	w     io.Writer
	flush func() error
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.flush()
	return n, err
}

// copyBuffer is ReverseProxy's: write errors and read errors other than
// EOF end the copy; a read error is logged.
func (p *directProxy) copyBuffer(dst io.Writer, src io.Reader, buf []byte) error {
	for {
		nr, rerr := src.Read(buf)
		if rerr != nil && rerr != io.EOF && rerr != context.Canceled {
			p.rp.ErrorLog.Printf("httputil: ReverseProxy read error during body copy: %v", rerr)
		}
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			if werr != nil {
				return werr
			}
			if nr != nw {
				return io.ErrShortWrite
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return nil
			}
			return rerr
		}
	}
}

// cleanQueryParams is ReverseProxy's, without its GODEBUG branch (applies
// leaves that case to ReverseProxy): a query with a ';', a bad escape or
// more than 10000 parameters is re-encoded, dropping what does not parse.
func cleanQueryParams(s string) string {
	if s == "" {
		return s
	}
	reencode := func(s string) string {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	if numParams := strings.Count(s, "&") + 1; numParams > 10000 { // net/url's defaultMaxParams
		return reencode(s)
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

// queryReencoded reports whether GODEBUG names urlmaxqueryparams, in the
// environment or as the binary's default: ReverseProxy then re-encodes
// every query. Read once, when the first request is served.
var queryReencoded = sync.OnceValue(func() bool {
	settings := os.Getenv("GODEBUG")
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "DefaultGODEBUG" {
				settings += "," + s.Value
			}
		}
	}
	return strings.Contains(settings, "urlmaxqueryparams")
})

// noopCloseReader is ReverseProxy's: Close only marks it closed, and a
// Read after Close fails.
type noopCloseReader struct {
	readCloser io.ReadCloser
	closed     atomic.Bool
}

func (ncr *noopCloseReader) Close() error {
	ncr.closed.Store(true)
	return nil
}

func (ncr *noopCloseReader) Read(p []byte) (int, error) {
	if ncr.closed.Load() {
		return 0, errors.New("ReverseProxy does an invalid Read on closed Body")
	}
	return ncr.readCloser.Read(p)
}

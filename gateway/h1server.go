package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// An h1Server serves HTTP/1.x connections for an http.Server's handler,
// in place of the server's own connection loop; HTTP/2 stays with the
// http.Server. It reads requests with http.ReadRequest (the parser
// net/http's server runs) and answers as net/http does, byte for byte
// on the wire: h1server_equiv_test.go sends the same bytes to both and
// compares what comes back. Per request it skips what costs a reverse
// proxy most in the standard server: the goroutine that reads ahead on
// the connection to notice a client that went away starts only when a
// handler still runs after bgReadDelay (a request waiting for a slow
// upstream), not for every request. Measured in bench/NOTES.md.
//
// Where it differs from net/http, on purpose:
//   - A client that half-closes its side after a request (legal in
//     HTTP/1.1) gets its answer when the handler is done within
//     bgReadDelay; net/http cancels such a request at once.
//   - http.ReadRequest deletes the Host field, so the Host checks see
//     whether there is one and check its value with the framing scanner
//     (framing.go), which stops at a chunked request: after one (the
//     gateway closes the connection after it) the first Host field
//     counts, as ReadRequest reads it. With an absolute-form target the
//     target's authority, which becomes r.Host, is checked too (net/http
//     does not).
//   - An informational (1xx) answer to an HTTP/1.0 request is not sent
//     (RFC 9110 §15.2: such a client would read it as the final answer);
//     net/http sends it.
//   - An HTTP/1.0 request with Transfer-Encoding closes its connection
//     after the answer, "Connection: keep-alive" or not (RFC 9112 §6.1:
//     the server MUST). Go ignores the field and frames the request by
//     Content-Length, or as having no body; a server in front that read
//     it chunked and passes the bytes on would see the rest of its body
//     answered as requests of their own. net/http keeps the connection;
//     nginx refuses the request (400).
//   - http.MaxBytesReader cannot tell it to close the connection (the
//     hook is net/http's own): a handler that refuses a body too large
//     says "Connection: close" itself, as the gateway's 413 does.
//
// Settings are the http.Server's: Handler, ReadHeaderTimeout,
// ReadTimeout, WriteTimeout (as newH1Server found it: writeTimeout),
// IdleTimeout, MaxHeaderBytes, ErrorLog, ConnContext, BaseContext
// (called per connection, with a nil listener: h1Server is handed
// connections, not a listener) and DisableGeneralOptionsHandler.
type h1Server struct {
	srv    *http.Server
	checks *checksOff // the gateway's (nil: every check on)

	mu           sync.Mutex
	conns        map[*h1Conn]struct{}
	shuttingDown atomic.Bool
	noKeepAlives atomic.Bool

	watcher h1Watcher // the connections' watch timer (h1watch.go)

	// writeTimeout bounds writing an answer, as http.Server's
	// WriteTimeout, from which newH1Server takes it; the gateway sets
	// limits.write-timeout here, since its http.Server's is HTTP/2's
	// stream deadline (streamWriteTimeout).
	writeTimeout time.Duration

	// stall is the gateway's limits.stall-timeout, not an http.Server
	// setting: how long a read of a request body may wait (see
	// h1ConnReader.Read); timeout 0: no limit. (The writes' is the
	// client connection's, clientConn.)
	stall stallConfig

	// handshakeFailed, when set, reports the handshakes that fail on this
	// server's listener (tlsListener) and in ServeConn and that mtls did
	// not refuse; unset, they go to the server's ErrorLog.
	handshakeFailed handshakeReporter

	// stallTickLate: the HTTP/2 stall guards' first tick runs this much
	// late (tests only: Gateway.stallTickLate).
	stallTickLate time.Duration
}

// bgReadDelay is how long a handler runs before its connection is watched
// for the client going away (which cancels the request's context). Most
// proxied requests are answered sooner, and watching costs a goroutine,
// a read and two deadline changes per request.
const bgReadDelay = 50 * time.Millisecond

// maxPostHandlerReadBytes is net/http's limit on the unread request body
// the server reads after the handler to keep the connection.
const maxPostHandlerReadBytes = 256 << 10

// bufferBeforeChunking is net/http's: a handler that finishes having
// written no more than this without a Content-Length gets one.
const bufferBeforeChunking = 2048

func newH1Server(srv *http.Server) *h1Server {
	return &h1Server{srv: srv, writeTimeout: srv.WriteTimeout, conns: make(map[*h1Conn]struct{})}
}

func (s *h1Server) logf(format string, args ...any) { serverLogf(s.srv, format, args...) }

// serverLogf logs where srv logs: to its ErrorLog, or without one to
// the log package's standard logger.
func serverLogf(srv *http.Server, format string, args ...any) {
	if srv.ErrorLog != nil {
		srv.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// initialReadLimit is net/http's initialReadLimitSize: what a request's
// head may take, MaxHeaderBytes and 4096 bytes of slack.
func (s *h1Server) initialReadLimit() int64 {
	n := int64(http.DefaultMaxHeaderBytes)
	if s.srv.MaxHeaderBytes > 0 {
		n = int64(s.srv.MaxHeaderBytes)
	}
	return n + 4096
}

func (s *h1Server) readHeaderTimeout() time.Duration {
	if s.srv.ReadHeaderTimeout != 0 {
		return s.srv.ReadHeaderTimeout
	}
	return s.srv.ReadTimeout
}

func (s *h1Server) idleTimeout() time.Duration {
	if s.srv.IdleTimeout != 0 {
		return s.srv.IdleTimeout
	}
	return s.srv.ReadTimeout
}

// SetKeepAlivesEnabled is http.Server's: with false, idle connections
// close now and busy ones after their response.
func (s *h1Server) SetKeepAlivesEnabled(v bool) {
	s.noKeepAlives.Store(!v)
	if !v {
		s.closeIdle()
	}
}

// closeIdle closes the connections waiting for a request.
func (s *h1Server) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		switch st := c.state.Load(); {
		case st == connIdle:
			c.rwc.Close()
		case st == connNew && time.Since(c.created) > 5*time.Second:
			// net/http's rule: a connection that has sent nothing
			// for 5s is idle too.
			c.rwc.Close()
		}
	}
}

// Shutdown stops the connections gracefully: idle ones close now, busy
// ones after their response; it returns when all are closed, or ctx's
// error when ctx ends first (then Close ends the rest).
func (s *h1Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.closeIdle()
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close closes every connection at once.
func (s *h1Server) Close() {
	s.shuttingDown.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.rwc.Close()
	}
}

const (
	connNew int32 = iota
	connActive
	connIdle
)

// An h1Conn is one client connection.
type h1Conn struct {
	s          *h1Server
	rwc        net.Conn
	remoteAddr string
	tlsState   *tls.ConnectionState
	created    time.Time
	state      atomic.Int32

	r    h1ConnReader
	bufr *bufio.Reader
	bufw *bufio.Writer
	werr error // the first write error on the connection

	lastMethod string
	hijacked   bool
	heads      uint64 // requests read (the next head's index)
	// writeDeadline: a write deadline is set (WriteTimeout, or the
	// handler's), to be cleared after the response.
	writeDeadline bool

	// scan follows the requests' framing (framing.go): the gateway's
	// framingConn's scanner, or the connection's own.
	scan    *framingScanner
	ownScan bool

	cw      h1ChunkWriter
	bodyBuf *bufio.Writer // see h1Response.buffer
	fields  fieldBuf      // writeFields' for the answers
	// upHeader is the header map of the last upstream request the direct
	// path built for a request on this connection, emptied when its
	// handler returns (endUpstreamHeader) and used again for the next
	// (takeUpstreamHeader); nil: none.
	upHeader http.Header

	// ownCtx: the connection's context can never be cancelled, so each
	// request gets an h1ReqCtx (h1context.go) rather than a
	// context.WithCancel.
	ownCtx bool
	// traced: the connection's context carries an httptrace.ClientTrace
	// (never the gateway's; see clientTraced).
	traced bool
	// cf is the gateway's state of the connection in its context (nil:
	// none), looked up once for its requests (connStateOf).
	cf *connState
}

// ServeConn serves HTTP/1.x on c until the client or the server closes
// it, or a handler hijacks it.
func (s *h1Server) ServeConn(rwc net.Conn) {
	if tc, ok := rwc.(*tls.Conn); ok && !tc.ConnectionState().HandshakeComplete {
		// net/http's order: the handshake first, so that every request
		// sees the connection's TLS state.
		if err := runHandshake(s.srv, s.writeTimeout, tc); err != nil {
			logHandshakeFailure(s.srv, tc, err, s.handshakeFailed)
			tc.Close()
			return
		}
	}
	c := &h1Conn{s: s, rwc: rwc, created: time.Now()}
	if ra := rwc.RemoteAddr(); ra != nil {
		c.remoteAddr = ra.String()
	}
	if fc, ok := rwc.(*framingConn); ok {
		c.scan = &fc.scan
	} else {
		c.scan, c.ownScan = new(framingScanner), true
	}
	if cs, ok := rwc.(interface{ ConnectionState() tls.ConnectionState }); ok {
		st := cs.ConnectionState()
		c.tlsState = &st
	}
	s.mu.Lock()
	if s.shuttingDown.Load() {
		s.mu.Unlock()
		rwc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.serve()
}

func (c *h1Conn) forget() {
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
}

// h1ErrWriter is net/http's checkConnErrorWriter: it notes the
// connection's first write error (the connection is not reused after
// one).
type h1ErrWriter struct{ c *h1Conn }

func (w h1ErrWriter) Write(p []byte) (int, error) {
	n, err := w.c.rwc.Write(p)
	if err != nil && w.c.werr == nil {
		w.c.werr = err
	}
	return n, err
}

func (c *h1Conn) serve() {
	s := c.s
	ctx := context.Background()
	if s.srv.BaseContext != nil {
		ctx = s.srv.BaseContext(nil)
	}
	ctx = context.WithValue(ctx, http.ServerContextKey, s.srv)
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.rwc.LocalAddr())
	if s.srv.ConnContext != nil {
		ctx = s.srv.ConnContext(ctx, c.rwc)
	}
	if ctx.Done() == nil && !s.checks.off(checkOwnContext) {
		c.ownCtx = true
		c.traced = httptrace.ContextClientTrace(ctx) != nil
		c.cf, _ = ctx.Value(connKey{}).(*connState)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
	}

	var inFlight *h1Response
	defer func() {
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			const size = 64 << 10
			buf := make([]byte, size)
			buf = buf[:runtime.Stack(buf, false)]
			s.logf("http: panic serving %v: %v\n%s", c.remoteAddr, err, buf)
		}
		if inFlight != nil {
			inFlight.cancel()
		}
		if !c.hijacked {
			if inFlight != nil {
				c.stopWatching()
				inFlight.req.Body.Close()
			}
			c.bufw.Flush()
			c.rwc.Close()
		}
		c.forget()
	}()

	c.r.c = c
	c.r.cond.L = &c.r.mu
	c.bufr = bufio.NewReaderSize(&c.r, 4096)
	c.bufw = bufio.NewWriterSize(h1ErrWriter{c}, 4096)
	c.bodyBuf = bufio.NewWriterSize(&c.cw, bufferBeforeChunking)

	if d := s.readHeaderTimeout(); d > 0 {
		c.setReadTimeout(d)
	}
	for {
		w, err := c.readRequest(ctx)
		if c.r.remain != s.initialReadLimit() { // it read something
			c.state.Store(connActive)
		}
		if s.shuttingDown.Load() {
			return
		}
		if err != nil {
			c.answerReadError(err)
			return
		}
		req := w.req
		if expect := field(req.Header, "Expect"); hasToken(expect, "100-continue") {
			if req.ProtoAtLeast(1, 1) && req.ContentLength != 0 {
				w.ecr = &h1ContinueReader{rc: req.Body, w: w}
				req.Body = w.ecr
				w.canWriteContinue.Store(true)
			}
		} else if expect != "" {
			w.sendExpectationFailed()
			return
		}

		inFlight = w
		c.watch(w)
		var h http.Handler = s.srv.Handler
		if !s.srv.DisableGeneralOptionsHandler && req.RequestURI == "*" && req.Method == "OPTIONS" {
			h = http.HandlerFunc(globalOptions)
		}
		h.ServeHTTP(w, req)
		inFlight = nil
		w.cancel()
		c.endUpstreamHeader()
		if c.hijacked {
			return
		}
		c.stopWatching()
		w.finishRequest()
		if c.r.bodyStall > 0 { // set on this goroutine only: no lock to read
			c.r.mu.Lock()
			c.r.bodyStall = 0
			c.r.mu.Unlock()
		}
		if c.writeDeadline {
			c.rwc.SetWriteDeadline(time.Time{})
			c.writeDeadline = false
		}
		if !w.shouldReuseConnection() {
			if w.requestBodyLimitHit || w.closedRequestBodyEarly() {
				c.closeWriteAndWait()
			}
			return
		}
		c.state.Store(connIdle)
		if s.noKeepAlives.Load() || s.shuttingDown.Load() {
			return
		}
		c.setReadTimeoutAt(s.idleTimeout(), w.idleFrom())
		// Wait for the next request's first bytes under the idle
		// timeout, then give its head the header timeout, unless it
		// is in the buffer whole: reading it then reads nothing from
		// the connection, and readRequest sets the body's deadline.
		if _, err := c.bufr.Peek(4); err != nil {
			return
		}
		if c.headBuffered() {
			continue
		}
		c.setReadTimeout(s.readHeaderTimeout())
	}
}

// setReadTimeout gives the connection's reads d from now, or no deadline
// when d is not positive.
func (c *h1Conn) setReadTimeout(d time.Duration) { c.setReadTimeoutAt(d, time.Time{}) }

// setReadTimeoutAt is setReadTimeout with now given (zero: the clock is
// read).
func (c *h1Conn) setReadTimeoutAt(d time.Duration, now time.Time) {
	if now.IsZero() {
		now = time.Now()
	}
	var dl time.Time
	if d > 0 {
		dl = now.Add(d)
	}
	c.setReadDeadline(dl, now)
}

// setReadDeadline gives the connection's reads deadline t (zero: none),
// lazily (readDeadline): the idle wait of each keep-alive request gives
// a deadline a little later than the last, which the connection need not
// be told until the one it has fires.
func (c *h1Conn) setReadDeadline(t, now time.Time) {
	c.r.mu.Lock()
	if c.r.dl.set(t, now) {
		c.rwc.SetReadDeadline(t)
	}
	c.r.mu.Unlock()
}

// forceReadDeadlineLocked sets the connection's read deadline to t now;
// c.r.mu is held.
func (c *h1Conn) forceReadDeadlineLocked(t time.Time) error {
	c.r.reqDeadline = t // the request's now (bodyStall)
	c.r.dl.force(t)
	return c.rwc.SetReadDeadline(t)
}

// headBuffered reports whether the read buffer holds a whole request
// head: an empty line ends it (after the CR and LF bytes readRequest may
// skip). A head whose lines end in bare LF is not recognised, and gets
// the header timeout as any other.
func (c *h1Conn) headBuffered() bool {
	buf, _ := c.bufr.Peek(c.bufr.Buffered())
	buf = buf[numLeadingCRorLF(buf):]
	return bytes.Contains(buf, crlfcrlf)
}

var crlfcrlf = []byte("\r\n\r\n")

// closeWriteAndWait is net/http's: flush, half-close, and give the client
// a moment to read the answer before the connection closes.
func (c *h1Conn) closeWriteAndWait() {
	c.bufw.Flush()
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	time.Sleep(500 * time.Millisecond)
}

// answerReadError writes net/http's answer to a request that could not
// be read, or nothing when the client went away.
func (c *h1Conn) answerReadError(err error) {
	c.bufw.Flush() // what came before, first
	const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	var se h1StatusError
	switch {
	case errors.Is(err, errH1TooLarge):
		const publicErr = "431 Request Header Fields Too Large"
		fmt.Fprintf(c.rwc, "HTTP/1.1 "+publicErr+errorHeaders+publicErr)
		c.closeWriteAndWait()
	case isCommonNetReadError(err):
		// First: a connection's every end comes here, and the case
		// below formats the error's type (the two never overlap).
	case fmt.Sprintf("%T", err) == "*http.unsupportedTEError":
		code := http.StatusNotImplemented
		fmt.Fprintf(c.rwc, "HTTP/1.1 %d %s%sUnsupported transfer encoding", code, http.StatusText(code), errorHeaders)
	case errors.As(err, &se):
		fmt.Fprintf(c.rwc, "HTTP/1.1 %d %s: %s%s%d %s: %s", se.code, http.StatusText(se.code), se.text, errorHeaders, se.code, http.StatusText(se.code), se.text)
	default:
		const publicErr = "400 Bad Request"
		fmt.Fprintf(c.rwc, "HTTP/1.1 "+publicErr+errorHeaders+publicErr)
	}
}

func isCommonNetReadError(err error) bool {
	if err == io.EOF {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

type h1StatusError struct {
	code int
	text string
}

func (e h1StatusError) Error() string { return http.StatusText(e.code) + ": " + e.text }

var errH1TooLarge = errors.New("http: request too large")

func badRequest(text string) error { return h1StatusError{http.StatusBadRequest, text} }

// readRequest is net/http's (*conn).readRequest over http.ReadRequest.
func (c *h1Conn) readRequest(ctx context.Context) (*h1Response, error) {
	s := c.s
	var wholeReqDeadline time.Time
	if d := s.srv.ReadTimeout; d > 0 {
		wholeReqDeadline = time.Now().Add(d)
	}
	if d := s.writeTimeout; d > 0 {
		c.writeDeadline = true
		defer c.rwc.SetWriteDeadline(time.Now().Add(d))
	}
	c.r.remain = s.initialReadLimit()
	if c.lastMethod == "POST" {
		// RFC 7230 section 3 tolerance for old buggy clients.
		peek, _ := c.bufr.Peek(4)
		c.bufr.Discard(numLeadingCRorLF(peek))
	}
	req, err := http.ReadRequest(c.bufr)
	if err != nil {
		if c.r.remain <= 0 {
			return nil, errH1TooLarge
		}
		return nil, err
	}
	if !supportsRequest(req) {
		return nil, h1StatusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	c.lastMethod = req.Method
	c.r.remain = 1<<63 - 1

	// http.ReadRequest refuses two Host fields itself (a plain 400, as
	// net/http's server answers), but deletes the one it took r.Host
	// from (or ignores it beside an absolute-form target), so net/http's
	// other checks of it are made on what the framing scanner saw in
	// this head. Where it cannot tell (it stopped at a chunked request,
	// which the gateway closes after), the request is read as
	// http.ReadRequest reads it.
	head := c.heads
	host, bad, known := c.scan.hostFields(head)
	c.heads++
	if !known {
		host = req.Host != ""
	}
	switch {
	case !host && req.ProtoAtLeast(1, 1) && req.Method != "CONNECT" && !isH2Upgrade(req):
		return nil, badRequest("missing required Host header")
	case known && bad:
		return nil, badRequest("malformed Host header")
	}
	// net/http's server also checks every field value
	// (httpguts.ValidHeaderFieldValue, "invalid header value"), which
	// cannot fail here: http.ReadRequest has already refused each byte
	// that check refuses (textproto's validHeaderValueByte, the same set:
	// TestHeaderValuesCheckedByReadRequest), in every value it keeps.
	// Names it lets have spaces.
	for k := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, badRequest("invalid header name")
		}
	}
	// After net/http's checks, in its order: r.Host is the Host field,
	// or with an absolute-form target the target's authority, which Go's
	// server leaves unchecked but the upstream gets.
	if !httpguts.ValidHostHeader(req.Host) {
		return nil, badRequest("malformed Host header")
	}

	w := &h1Response{
		conn:             c,
		req:              req,
		contentLength:    -1,
		wants10KeepAlive: wants10KeepAlive(req) && !c.scan.http10TE(head),
		wantsClose:       req.Close || hasToken(field(req.Header, "Connection"), "close"),
	}
	var rctx context.Context
	if c.ownCtx {
		w.ctx.Context = ctx
		w.ctx.traced = c.traced
		w.ctx.cf = c.cf
		w.ctx.fields = &c.fields
		rctx = &w.ctx
	} else {
		rctx, w.cancelFunc = context.WithCancel(ctx)
	}
	// In place: the body, which fills in r.Trailer at its end, holds
	// this *Request.
	*req = *req.WithContext(rctx)
	req.RemoteAddr = c.remoteAddr
	req.TLS = c.tlsState
	if !wholeReqDeadline.IsZero() || req.Body != http.NoBody {
		c.setReadDeadline(wholeReqDeadline, time.Now())
	}
	if s.stall.timeout > 0 && req.Body != http.NoBody {
		c.r.mu.Lock()
		c.r.bodyStall, c.r.reqDeadline = s.stall.timeout, wholeReqDeadline
		c.r.mu.Unlock()
	}
	// Else nothing reads the connection until the idle wait sets its
	// own deadline: a request without a body gives its handler nothing
	// to read, and the watch's background read and Hijack clear the
	// deadline themselves. Clearing the idle or header deadline here
	// would cost a timer update per request for nothing.

	if req.Body != nil && req.Body != http.NoBody {
		w.body = &h1Body{rc: req.Body, w: w}
		req.Body = w.body
	}
	if isH2Upgrade(req) {
		w.closeAfterReply = true
	}
	return w, nil
}

func supportsRequest(req *http.Request) bool {
	if req.ProtoMajor == 1 {
		return true
	}
	return req.ProtoMajor == 2 && req.ProtoMinor == 0 && req.Method == "PRI" && req.RequestURI == "*"
}

func isH2Upgrade(r *http.Request) bool {
	return r.Method == "PRI" && len(r.Header) == 0 && r.URL.Path == "*" && r.Proto == "HTTP/2.0"
}

func wants10KeepAlive(r *http.Request) bool {
	if r.ProtoMajor != 1 || r.ProtoMinor != 0 {
		return false
	}
	return hasToken(field(r.Header, "Connection"), "keep-alive")
}

// hasToken is net/http's: whether v, a comma-separated list, holds token
// (ASCII case-insensitively).
func hasToken(v, token string) bool {
	if len(token) > len(v) || token == "" {
		return false
	}
	if v == token {
		return true
	}
	for sp := 0; sp <= len(v)-len(token); sp++ {
		if b := v[sp]; b != token[0] && b|0x20 != token[0] {
			continue
		}
		if sp > 0 && !isTokenBoundary(v[sp-1]) {
			continue
		}
		if endPos := sp + len(token); endPos != len(v) && !isTokenBoundary(v[endPos]) {
			continue
		}
		if strings.EqualFold(v[sp:sp+len(token)], token) {
			return true
		}
	}
	return false
}

func isTokenBoundary(b byte) bool { return b == ' ' || b == ',' || b == '\t' }

func numLeadingCRorLF(v []byte) (n int) {
	for _, b := range v {
		if b == '\r' || b == '\n' {
			n++
			continue
		}
		break
	}
	return
}

// relevantCaller is net/http's: the first caller outside net/http and
// this server, as "function (file:line)", for the log lines about a
// handler's misuse of its ResponseWriter.
func relevantCaller() string {
	pc := make([]uintptr, 16)
	n := runtime.Callers(1, pc)
	frames := runtime.CallersFrames(pc[:n])
	var frame runtime.Frame
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "net/http.") && !strings.Contains(f.Function, "gateway.(*h1Response)") && !strings.HasSuffix(f.Function, "gateway.relevantCaller") {
			frame = f
			break
		}
		if !more {
			break
		}
	}
	return fmt.Sprintf("%s (%s:%d)", frame.Function, path.Base(frame.File), frame.Line)
}

// globalOptions is net/http's answer to "OPTIONS *".
func globalOptions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
}

// watch arms the connection's watch for w's handler (see bgReadDelay).
//
// The server's watch timer (h1Watcher) is not told of every request,
// which would cost a timer update each: the connection is added to it
// when it is not held already, and a sweep starts the watch if the
// current request has run for bgReadDelay, holds the connection on if
// a newer request has not, and lets it go if none runs.
func (c *h1Conn) watch(w *h1Response) {
	on := !c.s.checks.off(checkClientWatch)
	arm := false
	var now time.Time
	c.r.mu.Lock()
	c.r.watched = w
	if on {
		now = time.Now()
		c.r.watchedAt = now
		w.started = now
		arm = !c.r.timerArmed
		c.r.timerArmed = true
	}
	c.r.mu.Unlock()
	if arm {
		c.s.watcher.add(c, now)
	}
}

// handlerEnded tells w, when it is an h1Response, that its handler ended
// at t: the clock read of the gateway's access log, which the idle wait
// after the answer then takes for now (idleFrom).
func handlerEnded(w http.ResponseWriter, t time.Time) {
	if hw, ok := w.(*h1Response); ok {
		hw.ended = t
	}
}

// idleFrom is the now the idle wait after w's answer counts its timeout
// from: when the handler ended, if it said (handlerEnded) and the
// request had no body, else zero (the clock is read). It is a little
// before the answer's last bytes were flushed: a client that keeps that
// flush waiting (it does not read its answer) spends its idle time on
// it, where net/http starts the idle timeout after the flush. With a
// body, finishRequest may read what the handler left of it from the
// client first, which takes as long as the client makes it: the clock
// is read after.
func (w *h1Response) idleFrom() time.Time {
	if w.body != nil || w.ecr != nil {
		return time.Time{}
	}
	return w.ended
}

// stopWatching disarms the watch and ends its read if it started.
func (c *h1Conn) stopWatching() {
	c.r.mu.Lock()
	c.r.watched = nil
	c.r.mu.Unlock()
	c.r.abortPendingRead()
}

// An h1ConnReader is the connection's reader under its bufio.Reader:
// net/http's connReader. It counts down the header size limit, and can
// read one byte in the background while a handler runs, to cancel the
// request's context when the client goes away.
type h1ConnReader struct {
	c      *h1Conn
	remain int64 // bytes left before the header limit

	mu      sync.Mutex
	cond    sync.Cond
	watched *h1Response // the request being watched, or nil
	// watchedAt is when watched began; timerArmed, whether the server's
	// watch timer holds the connection (see watch).
	watchedAt  time.Time
	timerArmed bool
	// dl is the connection's read deadline (setReadDeadline).
	dl      readDeadline
	inRead  bool
	aborted bool
	hasByte bool
	byteBuf [1]byte

	// bodyStall, while a request's body may be read (readRequest to the
	// end of its handler), is how long each read may wait
	// (h1Server.stall), within reqDeadline: the request's own deadline
	// (ReadTimeout's, or one forced since: a handler's, an
	// interruption's past one). Zero: none.
	bodyStall   time.Duration
	reqDeadline time.Time
}

func (cr *h1ConnReader) Read(p []byte) (int, error) {
	cr.mu.Lock()
	if cr.inRead {
		cr.mu.Unlock()
		// Only a handler that reads its body after returning it at EOF
		// gets here, which net/http forbids too.
		panic("invalid concurrent Body.Read call")
	}
	if cr.remain <= 0 {
		cr.mu.Unlock()
		return 0, io.EOF
	}
	if len(p) == 0 {
		cr.mu.Unlock()
		return 0, nil
	}
	if int64(len(p)) > cr.remain {
		p = p[:cr.remain]
	}
	if cr.hasByte {
		p[0] = cr.byteBuf[0]
		cr.hasByte = false
		cr.mu.Unlock()
		return 1, nil
	}
	if cr.bodyStall > 0 {
		// The read's own deadline, set lazily as the idle wait's is:
		// one clock read per read of a body, and a timer update only
		// when the one armed fires first (rearm).
		now := time.Now()
		t := earlier(cr.reqDeadline, now.Add(cr.bodyStall))
		if cr.dl.set(t, now) {
			cr.c.rwc.SetReadDeadline(t)
		}
	}
	cr.inRead = true
	gen := cr.dl.gen
	cr.mu.Unlock()
	n, err := cr.c.rwc.Read(p)
	for n == 0 && err != nil && isDeadlineErr(err) && cr.rearm(&gen) {
		n, err = cr.c.rwc.Read(p)
	}
	if n > 0 && cr.c.ownScan {
		cr.c.scan.Scan(p[:n])
	}
	cr.mu.Lock()
	cr.inRead = false
	cr.remain -= int64(n)
	// A body's read that timed out on the stall, not on the request's
	// own deadline.
	stalled := n == 0 && cr.bodyStall > 0 && isDeadlineErr(err) && (cr.reqDeadline.IsZero() || time.Now().Before(cr.reqDeadline))
	cr.mu.Unlock()
	cr.cond.Broadcast()
	if stalled {
		cr.c.s.stall.counted("http/1.1", "body")
	}
	return n, err
}

// rearm is asked when a read that started at generation *gen of the
// connection's deadline timed out: it reports whether the timeout came
// before the deadline the connection's reads must have, which it then
// sets (readDeadline), and moves *gen to the read again's. A handler's
// SetReadDeadline that came after the early timeout, and before this,
// is the deadline read again under (net/http's read, blocked under no
// earlier one, would have gone on); a past one ends the read.
func (cr *h1ConnReader) rearm(gen *uint32) bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	t, ok := cr.dl.retry(time.Now(), *gen)
	if ok {
		cr.c.rwc.SetReadDeadline(t)
	}
	*gen = cr.dl.gen
	return ok
}

// startBackgroundRead runs in a goroutine the watch timer starts for w
// (h1Watcher.sweep): it reads one byte while w's handler runs, if the
// request's body is done (a body still being read owns the connection's
// reads).
func (cr *h1ConnReader) startBackgroundRead(w *h1Response) {
	cr.mu.Lock()
	if w == nil || cr.watched != w || cr.inRead || cr.hasByte || (w.body != nil && !w.body.sawEOF.Load()) {
		cr.mu.Unlock()
		return
	}
	cr.inRead = true
	cr.c.forceReadDeadlineLocked(time.Time{})
	cr.mu.Unlock()

	n, err := cr.c.rwc.Read(cr.byteBuf[:])
	if n > 0 && cr.c.ownScan {
		cr.c.scan.Scan(cr.byteBuf[:n])
	}
	cr.mu.Lock()
	if n == 1 {
		// A pipelined request: net/http leaves its context alone too.
		cr.hasByte = true
	}
	var ne net.Error
	if errors.As(err, &ne) && cr.aborted && ne.Timeout() {
		// abortPendingRead's deadline, not the client.
	} else if err != nil && cr.watched == w {
		w.cancel()
	}
	cr.aborted = false
	cr.inRead = false
	cr.mu.Unlock()
	cr.cond.Broadcast()
}

func (cr *h1ConnReader) abortPendingRead() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if !cr.inRead {
		return
	}
	cr.aborted = true
	cr.c.forceReadDeadlineLocked(aLongTimeAgo)
	for cr.inRead {
		cr.cond.Wait()
	}
	cr.c.forceReadDeadlineLocked(time.Time{})
}

// An h1Body is a request body as the handler reads it: it notes when the
// body is done (the watch may start then) and how the handler left it.
type h1Body struct {
	rc         io.ReadCloser
	w          *h1Response
	sawEOF     atomic.Bool
	closed     atomic.Bool
	earlyClose atomic.Bool // closed with more than maxPostHandlerReadBytes left
	failed     atomic.Bool // a read failed: where the body ends is unknown
	read       atomic.Int64
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	return b.readBody(p)
}

func (b *h1Body) readBody(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.read.Add(int64(n))
	if err == io.EOF {
		b.sawEOF.Store(true)
	} else if err != nil {
		b.failed.Store(true)
		err = asClientReadError(err)
	}
	return n, err
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// Close is net/http's server-side Close: it reads what is left of the
// body up to maxPostHandlerReadBytes, so that the connection can serve
// the next request, and otherwise marks it closed early (the connection
// then closes after the answer). The body's own Close would read all of
// it.
func (b *h1Body) Close() error {
	if b.closed.Swap(true) || b.sawEOF.Load() {
		return nil
	}
	if b.failed.Load() {
		// Where the body ends is unknown and the connection closes after
		// the answer (writeHeader): nothing to keep it for. (A read that
		// timed out on limits.stall-timeout would wait as long again.)
		b.earlyClose.Store(true)
		return nil
	}
	n, err := io.CopyN(io.Discard, readerFunc(b.readBody), maxPostHandlerReadBytes)
	if err == io.EOF {
		b.sawEOF.Store(true)
		return nil
	}
	if n == maxPostHandlerReadBytes || err != nil {
		b.earlyClose.Store(true)
	}
	return nil
}

// An h1ContinueReader sends "100 Continue" on the body's first read.
type h1ContinueReader struct {
	rc     io.ReadCloser
	w      *h1Response
	closed atomic.Bool
	sawEOF atomic.Bool
}

func (ecr *h1ContinueReader) Read(p []byte) (int, error) {
	if ecr.closed.Load() {
		return 0, http.ErrBodyReadAfterClose
	}
	w := ecr.w
	if w.canWriteContinue.Load() {
		w.writeContinueMu.Lock()
		if w.canWriteContinue.Load() {
			w.conn.bufw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			w.conn.bufw.Flush()
			w.canWriteContinue.Store(false)
		}
		w.writeContinueMu.Unlock()
	}
	n, err := ecr.rc.Read(p)
	if err == io.EOF {
		ecr.sawEOF.Store(true)
	}
	return n, err
}

func (ecr *h1ContinueReader) Close() error {
	ecr.closed.Store(true)
	return ecr.rc.Close()
}

// An h1Response is the http.ResponseWriter of one request: net/http's
// response and chunkWriter in one.
type h1Response struct {
	conn *h1Conn
	req  *http.Request
	body *h1Body
	ecr  *h1ContinueReader
	// The request's context: ctx, or with a connection context that can
	// be cancelled, a context.WithCancel's (cancelFunc).
	ctx        h1ReqCtx
	cancelFunc context.CancelFunc
	// started is when the handler started, as the client watch read the
	// clock for it (zero when the watch is off): see handlerStart.
	started time.Time
	// ended is when the handler ended, as the gateway read the clock for
	// its access log (zero: not told): see handlerEnded.
	ended time.Time

	handlerHeader http.Header // nil until Header makes it or adoptHeader gives it
	snapshot      http.Header // the header as of WriteHeader, when changed after it
	calledHeader  bool
	wroteHeader   bool // a final status was (logically) written
	committed     bool // the header is on the wire (in bufw)
	handlerDone   bool
	status        int

	wants10KeepAlive bool
	wantsClose       bool
	closeAfterReply  bool

	requestBodyLimitHit bool

	canWriteContinue atomic.Bool
	writeContinueMu  sync.Mutex

	contentLength int64 // from the header, or -1
	written       int64
	chunking      bool
	trailers      []string
	w             *bufio.Writer // the body buffer while it is in use (see buffer)
	fullDuplex    bool
	dateBuf       [len(http.TimeFormat)]byte
	clenBuf       [20]byte

	// adopted: handlerHeader is a map handed over by adoptHeader
	// (h1proxied.go), changed after WriteHeader only through Header, so
	// that the snapshot is taken there, when it is needed, and not at
	// WriteHeader.
	adopted bool
	final   bool // headerFinal held at WriteHeader: no trailers
}

// cancel cancels the request's context.
func (w *h1Response) cancel() {
	if w.cancelFunc != nil {
		w.cancelFunc()
		return
	}
	w.ctx.cancel()
}

func (w *h1Response) Header() http.Header {
	if w.handlerHeader == nil {
		// Made when first asked for: the direct path's answers adopt the
		// upstream's header instead (adoptHeader), so a map made with
		// the response would be thrown away.
		w.handlerHeader = make(http.Header)
	}
	if w.snapshot == nil && w.wroteHeader && !w.committed {
		w.snapshot = w.handlerHeader.Clone()
	}
	w.calledHeader = true
	return w.handlerHeader
}

func (w *h1Response) WriteHeader(code int) {
	if w.conn.hijacked {
		w.conn.s.logf("http: response.WriteHeader on hijacked connection from %s", relevantCaller())
		return
	}
	if w.wroteHeader {
		w.conn.s.logf("http: superfluous response.WriteHeader call from %s", relevantCaller())
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 101 || code > 199 {
		w.disableWriteContinue()
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		if !w.req.ProtoAtLeast(1, 1) {
			// Not to an HTTP/1.0 client (RFC 9110 §15.2), which knows
			// no 1xx: it would read one (an upstream's 103 Early Hints,
			// relayed) as the answer, and the answer as the next one's.
			return
		}
		bw := w.conn.bufw
		writeStatusLine(bw, w.req.ProtoAtLeast(1, 1), code)
		writeFields(bw, w.handlerHeader, excludedNoBody, &w.conn.fields)
		bw.WriteString("\r\n")
		bw.Flush()
		return
	}
	w.wroteHeader = true
	w.status = code
	cl := field(w.handlerHeader, "Content-Length")
	if cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		}
	}
	if w.headerFinal() {
		// What net/http would send later is known now: write it, and
		// skip the snapshot and the body buffer.
		w.final = true
		w.commit(nil)
		return
	}
	if w.calledHeader && w.snapshot == nil && (!w.adopted || cl != "" && w.contentLength < 0) {
		// The snapshot keeps an invalid Content-Length, deleted below
		// from the handler's map only (net/http's order).
		w.snapshot = w.handlerHeader.Clone()
	}
	if cl != "" && w.contentLength < 0 {
		w.conn.s.logf("http: invalid Content-Length of %q", cl)
		w.handlerHeader.Del("Content-Length")
	}
}

// headerFinal reports whether the header, as it is at WriteHeader, is
// what commit would write after the handler: no Content-Length to
// compute and no Content-Type to sniff from the body, no request body to
// read what is left of, no trailers. A proxied answer with a length
// (ReverseProxy sets the Content-Type key, nil when the upstream sent
// none: see recorder.WriteHeader) to a request without a body is.
func (w *h1Response) headerFinal() bool {
	if w.contentLength < 0 || w.body != nil || w.req.Method == "HEAD" {
		return false
	}
	haveType := false
	for k := range w.handlerHeader {
		switch k {
		case "Content-Type":
			haveType = true
		case "Trailer", "Transfer-Encoding":
			return false
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return false
		}
	}
	return haveType
}

// excludedNoBody is net/http's excludedHeadersNoBody.
func excludedNoBody(name string) bool {
	return name == "Content-Length" || name == "Transfer-Encoding"
}

func (w *h1Response) disableWriteContinue() {
	w.writeContinueMu.Lock()
	w.canWriteContinue.Store(false)
	w.writeContinueMu.Unlock()
}

func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == 204, status == 304:
		return false
	}
	return true
}

func (w *h1Response) Write(p []byte) (int, error) { return w.write(len(p), p, "") }

// WriteString is Write for a string, which net/http's buffer copies in
// pieces where it hands a large []byte on whole: chunks differ.
func (w *h1Response) WriteString(s string) (int, error) { return w.write(len(s), nil, s) }

// write is Write of p, or of s when p is nil (net/http's response.write).
func (w *h1Response) write(lenData int, p []byte, str string) (int, error) {
	if w.conn.hijacked {
		if lenData > 0 {
			w.conn.s.logf("http: response.Write on hijacked connection from %s", relevantCaller())
		}
		return 0, http.ErrHijacked
	}
	if w.canWriteContinue.Load() {
		w.disableWriteContinue()
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if lenData == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) { // w.status is set: WriteHeader ran
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(lenData)
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.committed && w.w == nil {
		if p == nil {
			p = []byte(str)
		}
		return w.writeBody(p)
	}
	if p != nil {
		return w.buffer().Write(p)
	}
	return w.buffer().WriteString(str)
}

// buffer is the response's body buffer: net/http's bufio.Writer of
// bufferBeforeChunking bytes in front of its chunk writer, so that a
// small answer gets a Content-Length and chunks are cut where net/http
// cuts them. The connection's, reset for each response.
func (w *h1Response) buffer() *bufio.Writer {
	if w.w == nil {
		c := w.conn
		c.cw.w = w
		c.bodyBuf.Reset(&c.cw)
		w.w = c.bodyBuf
	}
	return w.w
}

// An h1ChunkWriter takes the body from the response's buffer: the first
// bytes commit the header (sniffed, and measured when the handler is
// done), the rest is framed.
type h1ChunkWriter struct{ w *h1Response }

func (cw *h1ChunkWriter) Write(p []byte) (int, error) {
	w := cw.w
	if !w.committed {
		return w.commit(p)
	}
	return w.writeBody(p)
}

// writeBody writes p after the committed header.
func (w *h1Response) writeBody(p []byte) (int, error) {
	if w.req.Method == "HEAD" {
		return len(p), nil
	}
	bw := w.conn.bufw
	if w.chunking {
		var hex [16]byte
		bw.Write(strconv.AppendUint(hex[:0], uint64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	if w.chunking && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	if err != nil {
		return n, err
	}
	return len(p), nil
}

// commit writes the header, with body, the first bytes of the body
// (which it sniffs for a Content-Type when none is set): net/http's
// chunkWriter.writeHeader.
func (w *h1Response) commit(body []byte) (int, error) {
	if w.committed {
		return 0, nil
	}
	w.committed = true
	c := w.conn
	keepAlivesEnabled := !c.s.noKeepAlives.Load() && !c.s.shuttingDown.Load()
	isHEAD := w.req.Method == "HEAD"

	header := w.snapshot
	owned := header != nil
	if !owned {
		header = w.handlerHeader
	}
	var exclude map[string]bool
	delHeader := func(key string) { // key is canonical
		if owned {
			delete(header, key)
			return
		}
		if _, ok := header[key]; !ok {
			return
		}
		exclude = excludeName(exclude, key)
	}
	var extra struct {
		contentType, connection, transferEncoding string
		date, contentLength                       []byte
	}

	// The trailers are those of the header as of WriteHeader: the
	// snapshot, or an adopted header nobody changed since.
	snapshot := w.snapshot
	if snapshot == nil && w.adopted && !w.final {
		snapshot = w.handlerHeader
	}
	hasTrailers := false
	for k := range snapshot {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			exclude = excludeName(exclude, k)
			hasTrailers = true
		}
	}
	for _, v := range snapshot["Trailer"] {
		hasTrailers = true
		for _, k := range strings.Split(v, ",") {
			if k = textproto.TrimString(k); k != "" {
				w.declareTrailer(k)
			}
		}
	}

	te := field(header, "Transfer-Encoding")
	hasTE := te != ""

	if w.handlerDone && !hasTrailers && !hasTE && bodyAllowedForStatus(w.status) && !hasHeader(header, "Content-Length") && (!isHEAD || len(body) > 0) {
		w.contentLength = int64(len(body))
		extra.contentLength = strconv.AppendInt(w.clenBuf[:0], int64(len(body)), 10)
	}

	if w.wants10KeepAlive && keepAlivesEnabled {
		if field(header, "Content-Length") != "" && field(header, "Connection") == "keep-alive" {
			w.closeAfterReply = false
		}
	}
	hasCL := w.contentLength != -1
	if w.wants10KeepAlive && (isHEAD || hasCL || !bodyAllowedForStatus(w.status)) {
		if _, set := header["Connection"]; !set {
			extra.connection = "keep-alive"
		}
	} else if !w.req.ProtoAtLeast(1, 1) || w.wantsClose {
		w.closeAfterReply = true
	}
	if field(header, "Connection") == "close" || !keepAlivesEnabled {
		w.closeAfterReply = true
	}
	if w.ecr != nil && !w.ecr.sawEOF.Load() {
		w.closeAfterReply = true
	}

	// Read what the handler left of the body, up to a limit, to keep the
	// connection; beyond it, close.
	if w.req.ContentLength != 0 && !w.closeAfterReply && !w.fullDuplex && w.body != nil && w.ecr == nil {
		var discard, tooBig bool
		switch {
		case w.body.closed.Load() || w.body.failed.Load():
			// net/http's body is closed after a failed read too.
			if !w.body.sawEOF.Load() {
				w.closeAfterReply = true
			}
		case w.req.ContentLength > 0 && w.req.ContentLength-w.body.read.Load() >= maxPostHandlerReadBytes:
			tooBig = true
		default:
			discard = true
		}
		if discard {
			err := io.EOF // a body read to its end (the proxied one) reads nothing more
			if !w.body.sawEOF.Load() {
				_, err = io.CopyN(io.Discard, w.body, maxPostHandlerReadBytes+1)
			}
			switch err {
			case nil:
				tooBig = true
			case http.ErrBodyReadAfterClose:
			case io.EOF:
				if err := w.body.Close(); err != nil {
					w.closeAfterReply = true
				}
			default:
				w.closeAfterReply = true
			}
		}
		if tooBig {
			w.requestBodyLimitHit = true
			w.closeAfterReply = true
			delHeader("Connection")
			extra.connection = "close"
		}
	}

	code := w.status
	if bodyAllowedForStatus(code) {
		_, haveType := header["Content-Type"]
		if field(header, "Content-Encoding") == "" && !haveType && !hasTE && len(body) > 0 {
			extra.contentType = http.DetectContentType(body)
		}
	} else {
		for _, k := range suppressedHeaders(code) {
			delHeader(k)
		}
	}
	if !hasHeader(header, "Date") {
		extra.date = time.Now().UTC().AppendFormat(w.dateBuf[:0], http.TimeFormat)
	}
	if hasCL && hasTE && te != "identity" {
		c.s.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.contentLength)
		delHeader("Content-Length")
		hasCL = false
	}
	switch {
	case isHEAD || !bodyAllowedForStatus(code) || code == http.StatusNoContent:
		delHeader("Transfer-Encoding")
	case hasCL:
		delHeader("Transfer-Encoding")
	case w.req.ProtoAtLeast(1, 1):
		if hasTE && te == "identity" {
			w.chunking = false
			w.closeAfterReply = true
			delHeader("Transfer-Encoding")
		} else {
			w.chunking = true
			extra.transferEncoding = "chunked"
			if hasTE && te == "chunked" {
				delHeader("Transfer-Encoding")
			}
		}
	default:
		w.closeAfterReply = true
		delHeader("Transfer-Encoding")
	}
	if w.chunking {
		delHeader("Content-Length")
	}
	if !w.req.ProtoAtLeast(1, 0) {
		return len(body), nil
	}
	// Only announce the closing if the client can see it.
	if w.closeAfterReply && (!keepAlivesEnabled || !hasToken(field(header, "Connection"), "close")) {
		delHeader("Connection")
		if w.req.ProtoAtLeast(1, 1) {
			extra.connection = "close"
		}
	}

	bw := c.bufw
	writeStatusLine(bw, w.req.ProtoAtLeast(1, 1), code)
	var excluded func(string) bool
	if exclude != nil {
		excluded = func(name string) bool { return exclude[name] }
	}
	writeFields(bw, header, excluded, &c.fields)
	if extra.date != nil {
		bw.WriteString("Date: ")
		bw.Write(extra.date)
		bw.WriteString("\r\n")
	}
	if extra.contentLength != nil {
		bw.WriteString("Content-Length: ")
		bw.Write(extra.contentLength)
		bw.WriteString("\r\n")
	}
	for i, v := range [...]string{extra.contentType, extra.connection, extra.transferEncoding} {
		if v != "" {
			bw.WriteString([...]string{"Content-Type", "Connection", "Transfer-Encoding"}[i])
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	if len(body) > 0 && bodyAllowedForStatus(code) {
		return w.writeBody(body)
	}
	return len(body), nil
}

// excludeName adds name to commit's set of names not to write, made
// here when nil. Not inlined: commit deletes at a dozen places, and each
// inlined copy of a map made on the stack took its own room there (a
// 2.9 KB frame, on the deepest path of every request; a goroutine's stack
// the collector shrank while it waited for its next request then grew
// again under the next, about 0.2 µs per request: bench/NOTES.md,
// session 9). Most answers exclude nothing.
//
//go:noinline
func excludeName(exclude map[string]bool, name string) map[string]bool {
	if exclude == nil {
		exclude = make(map[string]bool)
	}
	exclude[name] = true
	return exclude
}

// field is h.Get(key) for a canonical key: the first value, or "".
func field(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func hasHeader(h http.Header, key string) bool {
	_, ok := h[key]
	return ok
}

func (w *h1Response) declareTrailer(k string) {
	k = http.CanonicalHeaderKey(k)
	if !httpguts.ValidTrailerHeader(k) {
		return
	}
	w.trailers = append(w.trailers, k)
}

func suppressedHeaders(status int) []string {
	switch {
	case status == 304:
		return []string{"Content-Type", "Content-Length", "Transfer-Encoding"}
	case !bodyAllowedForStatus(status):
		return []string{"Content-Length", "Transfer-Encoding"}
	}
	return nil
}

// writeStatusLine is net/http's, from lines made once for the codes
// that have a text.
func writeStatusLine(bw *bufio.Writer, is11 bool, code int) {
	if code >= 100 && code < len(statusLines) {
		if l := statusLines[code][b2i(is11)]; l != "" {
			bw.WriteString(l)
			return
		}
	}
	bw.WriteString(statusLine(is11, code))
}

var statusLines = func() (lines [600][2]string) {
	for code := 100; code < len(lines); code++ {
		if http.StatusText(code) != "" {
			lines[code] = [2]string{statusLine(false, code), statusLine(true, code)}
		}
	}
	return lines
}()

func statusLine(is11 bool, code int) string {
	proto := "HTTP/1.0 "
	if is11 {
		proto = "HTTP/1.1 "
	}
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	return proto + strconv.Itoa(code) + " " + text + "\r\n"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// finalTrailers is net/http's, but for a field no trailer may carry
// (framing, routing, caching, authentication: RFC 9110, section 6.5.1),
// which it dropped only when declared: an upstream's undeclared trailer
// (ReverseProxy's TrailerPrefix) passed such fields to HTTP/1.1 clients,
// and Go's HTTP/2 server drops them.
func (w *h1Response) finalTrailers() http.Header {
	var t http.Header
	for k, vv := range w.handlerHeader {
		if kk, found := strings.CutPrefix(k, http.TrailerPrefix); found && httpguts.ValidTrailerHeader(kk) {
			if t == nil {
				t = make(http.Header)
			}
			t[kk] = vv
		}
	}
	for _, k := range w.trailers {
		if t == nil {
			t = make(http.Header)
		}
		for _, v := range w.handlerHeader[k] {
			t.Add(k, v)
		}
	}
	return t
}

// finishRequest completes the response after the handler returned.
func (w *h1Response) finishRequest() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.w != nil {
		w.w.Flush()
		w.w = nil
	}
	if !w.committed {
		w.commit(nil)
	}
	if w.chunking {
		bw := w.conn.bufw
		bw.WriteString("0\r\n")
		if t := w.finalTrailers(); t != nil {
			writeFields(bw, t, nil, &w.conn.fields)
		}
		bw.WriteString("\r\n")
	}
	w.conn.bufw.Flush()
	w.req.Body.Close()
}

func (w *h1Response) shouldReuseConnection() bool {
	if w.closeAfterReply {
		return false
	}
	if w.req.Method != "HEAD" && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written {
		return false
	}
	if w.conn.werr != nil {
		return false
	}
	return !w.closedRequestBodyEarly()
}

func (w *h1Response) closedRequestBodyEarly() bool {
	return w.body != nil && w.body.earlyClose.Load()
}

func (w *h1Response) sendExpectationFailed() {
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusExpectationFailed)
	w.finishRequest()
}

// Flush sends what is buffered to the client.
func (w *h1Response) Flush() { w.FlushError() }

// FlushError is Flush, with the write error (http.ResponseController).
func (w *h1Response) FlushError() error {
	if w.conn.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	var err error
	if w.w != nil {
		err = w.w.Flush()
	}
	if !w.committed {
		w.commit(nil)
	}
	if err2 := w.conn.bufw.Flush(); err == nil {
		err = err2
	}
	return err
}

// EnableFullDuplex lets the handler read the request body after it has
// started writing the answer (http.ResponseController): what is left of
// the body is then not read before the header is written.
func (w *h1Response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

// Hijack hands the connection to the handler, with the connection's
// reader: what the client sent beyond the request is in it.
func (w *h1Response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.conn
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader && !w.committed {
		w.commit(nil) // net/http's: what the body buffer holds is dropped
	}
	c.stopWatching()
	if err := c.bufw.Flush(); err != nil {
		return nil, nil, err
	}
	c.hijacked = true
	c.forget()
	c.r.remain = 1<<63 - 1
	c.r.mu.Lock()
	c.r.bodyStall = 0 // the connection is the handler's
	c.r.dl.force(time.Time{})
	c.rwc.SetDeadline(time.Time{})
	c.r.mu.Unlock()
	return c.rwc, bufio.NewReadWriter(c.bufr, bufio.NewWriter(c.rwc)), nil
}

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *h1Response) SetReadDeadline(t time.Time) error {
	c := w.conn
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	return c.forceReadDeadlineLocked(t)
}
func (w *h1Response) SetWriteDeadline(t time.Time) error {
	w.conn.writeDeadline = true
	return w.conn.rwc.SetWriteDeadline(t)
}

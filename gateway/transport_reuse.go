package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// Why these exist: net/http's Transport, which carries https upstreams
// (and upgrades), puts an HTTP/1.1 connection back in its pool when an
// answer's body ends, and only then looks for bytes that came after the
// answer (its read loop's Peek: go1.26 transport.go, tryPutIdleConn
// before the Peek and its numExpectedResponses check). Bytes past an
// answer's Content-Length, or a body after a HEAD answer, that arrived
// with the answer are then, in a narrow race, read as the answer of the
// next request to take the connection: possibly another client's
// (TestUpstreamChaos met it twice in 96 runs; a plain net/http client
// 54 times in 40000 requests). The gateway's own connections check for
// such bytes before reuse (idleAlive).
//
// So every connection the Transport dials is a watchedConn, and a
// request that takes a reused HTTP/1.1 connection waits, before it is
// written, until the read loop reads the socket again (nothing was left
// over) or has closed the connection (something was: the Transport then
// sends the request on a new connection when it may, as for any
// connection that failed before the request was written). The wait is
// the read loop's next few instructions. Bytes that arrive after it
// starts reading are the same race the gateway's own idle peek has.

// watchedConn is a connection of net/http's Transport that tells
// whether a read is in progress on it, and whether it was closed.
type watchedConn struct {
	net.Conn
	reading atomic.Bool
	closed  atomic.Bool
	changed chan struct{} // a value when reading starts or on Close
	hp      *hostPool     // whose slot it holds, released on Close; nil: none
}

func newWatchedConn(c net.Conn) *watchedConn {
	return &watchedConn{Conn: c, changed: make(chan struct{}, 1)}
}

func (c *watchedConn) Read(p []byte) (int, error) {
	c.reading.Store(true)
	c.signal()
	n, err := c.Conn.Read(p)
	c.reading.Store(false)
	return n, err
}

func (c *watchedConn) Close() error {
	if !c.closed.Swap(true) && c.hp != nil {
		c.hp.release()
	}
	c.signal()
	return c.Conn.Close()
}

// CloseWrite is the connection's own (*net.TCPConn's): ReverseProxy
// half-closes a tunnel's upstream side with it, through the Transport's
// upgraded body.
func (c *watchedConn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWrite half-closes c if it can (*net.TCPConn, *tls.Conn), for the
// wrappers that must pass CloseWrite through.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (c *watchedConn) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// awaitRead waits until a read is in progress on c, c is closed, or
// ctx ends.
func (c *watchedConn) awaitRead(ctx context.Context) {
	for !c.reading.Load() && !c.closed.Load() {
		select {
		case <-c.changed:
		case <-ctx.Done():
			return
		}
	}
}

// watchedDial wraps dial's connections in watchedConn. When slot is not
// nil, each dial first takes a slot from the pool slot returns (nil: a
// nil pool), which the connection's Close releases (hostPool.acquire).
func watchedDial(dial func(ctx context.Context, network, addr string) (net.Conn, error), slot func(ctx context.Context, addr string) (*hostPool, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var hp *hostPool
		if slot != nil {
			var err error
			if hp, err = slot(ctx, addr); err != nil {
				return nil, err
			}
		}
		c, err := dial(ctx, network, addr)
		if err != nil {
			if hp != nil {
				hp.release()
			}
			return nil, err
		}
		wc := newWatchedConn(c)
		wc.hp = hp
		return wc, nil
	}
}

// awaitingReuse returns req with a GotConn hook that, on a reused
// HTTP/1.x connection of net/http's Transport, waits for its read loop
// (awaitRead, see above) before the request is written, and notes in
// reused whether the connection was. A req.Close (frameBody's) matters
// on HTTP/1.x only: on HTTP/2 DATA frames delimit the body, nothing of
// it is left for the upstream to read as a request, and the Transport
// would give the request a connection of its own and stop reusing the
// shared one (a TLS handshake per POST). So when the upstream's last
// connection to its host was HTTP/2 (h2) the request goes without Close, and should
// it get an HTTP/1.x connection after all, with "Connection: close" in
// its header (the Transport works on a copy of the request by then).
// got is set to upConnNew or upConnReused when the request gets a connection
// (after its TLS handshake): still upConnNone after a failure, the failure
// came before (upstreamStdError).
func awaitingReuse(req *http.Request, got *atomic.Int32, h2 *atomic.Bool) *http.Request {
	ctx := req.Context()
	var out *http.Request
	closeH1 := req.Close
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if info.Reused {
			got.Store(upConnReused)
		} else {
			got.Store(upConnNew)
		}
		isH2 := isH2(info.Conn)
		h2.Store(isH2)
		if closeH1 && !isH2 && !out.Close {
			out.Header.Set("Connection", "close")
		}
		if info.Reused {
			awaitReadLoop(ctx, info.Conn)
		}
	}}
	out = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	if closeH1 && h2.Load() {
		out.Close = false
	}
	return out
}

// isH2 reports whether conn, a connection of net/http's Transport,
// negotiated HTTP/2.
func isH2(conn net.Conn) bool {
	tc, ok := conn.(*tls.Conn)
	return ok && tc.ConnectionState().NegotiatedProtocol == "h2"
}

// roundTripStd sends req through net/http's Transport (https upstreams,
// upgrades). A request that failed on a reused connection because the
// upstream had closed it before any of the request was written (the
// reuse wait above finds those) goes again on another connection,
// whatever its method, as on the gateway's own connections (failReplay).
// The Transport does that itself only for a request it may replay (GET,
// HEAD, OPTIONS, TRACE, or one with a body it can rewind): to an
// upstream that closes after every answer without saying so, about one
// POST in four was a 502 (TestUpstreamClosesAfterEveryAnswer). The
// request's body is sent again only if nothing read it (unreadBody).
func (t *upstreamTransport) roundTripStd(req *http.Request) (*http.Response, error) {
	var body *unreadBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &unreadBody{ReadCloser: req.Body}
	}
	var got atomic.Int32 // upConnNone, upConnNew, upConnReused
	for {
		got.Store(upConnNone)
		out := awaitingReuse(req, &got, t.h2Of(req.URL.Host))
		if body != nil {
			out.Body = body
			if !replayableMethod(req) {
				// The Transport's own second attempt, after a failure
				// before anything was written, needs a GetBody; for a
				// request it would replay after an answer failed, one
				// would only change the error it ends with.
				out.GetBody = body.again
			}
		}
		resp, err := t.std.RoundTrip(out)
		if err == nil && resp.StatusCode < 100 {
			resp.Body.Close() // before its end: the connection is not reused
			resp, err = nil, errStatusBelow100
		}
		if err != nil && got.Load() == upConnReused && isServerClosedIdle(err) && req.Context().Err() == nil && (body == nil || !body.read.Load()) {
			continue
		}
		if err != nil {
			if body != nil {
				body.release()
			}
			err = upstreamStdError(req, err, got.Load())
		}
		return resp, err
	}
}

// What a request on net/http's Transport had got when it failed
// (awaitingReuse's GotConn).
const (
	upConnNone   int32 = iota // no connection: the dial or the TLS handshake failed
	upConnNew                 // a new connection
	upConnReused              // a pooled one
)

// isServerClosedIdle reports whether err is the Transport's
// errServerClosedIdle (unexported): its connection's read loop found the
// upstream had closed it while no request was expected on it, so the
// request failed before a byte of it could be sent (the read loop
// closes the connection under the lock the request takes to be
// expected).
func isServerClosedIdle(err error) bool {
	return err.Error() == "http: server closed idle connection"
}

// replayableMethod is the Transport's isReplayable, its body aside: the
// requests it sends again after an answer failed, when it can.
func replayableMethod(req *http.Request) bool {
	switch req.Method {
	case "", "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

// An unreadBody is a request body that may be sent again as long as the
// Transport has not read it: it notes the first Read, holds back a Close
// that comes before one (the Transport closes a body on failure, which a
// second attempt still needs), and is its own GetBody while unread.
type unreadBody struct {
	io.ReadCloser
	read atomic.Bool
	held atomic.Bool // closed before any read: release closes it
}

func (b *unreadBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.ReadCloser.Read(p)
}

func (b *unreadBody) Close() error {
	if !b.read.Load() {
		b.held.Store(true)
		return nil
	}
	return b.ReadCloser.Close()
}

// again is GetBody: the body itself while unread; once read, some of it
// may be gone, and the request is not sent again.
func (b *unreadBody) again() (io.ReadCloser, error) {
	if b.read.Load() {
		return nil, errBodyRead
	}
	b.held.Store(false)
	return b, nil
}

var errBodyRead = errors.New("gateway: the upstream connection failed before the request went out, but its body was read already and cannot be sent again")

// release closes the body if a Close was held back (it was never read,
// so no later Close passed through) and no attempt is left to use it:
// RoundTrip closes the body, errors included.
func (b *unreadBody) release() {
	if b.held.Load() && !b.read.Load() {
		b.ReadCloser.Close()
	}
}

// awaitReadLoop is the wait for conn, a connection the Transport hands
// out: a watchedConn, or TLS over one. HTTP/2 connections, whose answers
// are framed, are left alone; their protocol is looked up only when
// there is something to wait for (ConnectionState copies the state).
func awaitReadLoop(ctx context.Context, conn net.Conn) {
	tc, isTLS := conn.(*tls.Conn)
	if isTLS {
		conn = tc.NetConn()
	}
	wc, ok := conn.(*watchedConn)
	if !ok || wc.reading.Load() || wc.closed.Load() {
		return
	}
	if isTLS && isH2(tc) {
		return
	}
	wc.awaitRead(ctx)
}

// h2Of is the flag of host in t.h2, made on its first request only.
func (t *upstreamTransport) h2Of(host string) *atomic.Bool {
	if v, ok := t.h2.Load(host); ok {
		return v.(*atomic.Bool)
	}
	v, _ := t.h2.LoadOrStore(host, new(atomic.Bool))
	return v.(*atomic.Bool)
}

package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// upstreamTransport is the RoundTripper of the routes' ReverseProxy. It
// sends plain-HTTP (http://) requests that ask for no protocol upgrade
// over its own pool of HTTP/1.1 connections, on the handler's goroutine,
// with net/http's request writer and response reader
// ((*http.Request).Write, http.ReadResponse); everything else (https
// upstreams, which may speak HTTP/2, and WebSocket handshakes, whose 101
// ReverseProxy turns into a tunnel) goes to the standard transport.
//
// Why: net/http's Transport runs a read and a write goroutine per
// upstream connection and hands every request and response between them
// and the handler over channels, and its read goroutine keeps a read
// pending on every idle connection. Profiles of the gateway under
// keep-alive load put that machinery, and the extra reads and wake-ups,
// among its largest costs (bench/NOTES.md). A reverse proxy that owns its
// pool needs none of it for a request without a body: it writes the
// request and reads the answer where it is.
//
// What it keeps of the Transport: the dial timeout; the response header
// timeout (a read deadline: a timeout answers 504); informational (1xx)
// answers passed to ReverseProxy through httptrace as the Transport does
// (to the direct path's hook, direct.go);
// its 10 MiB limit on a response header (on all of them together when
// nobody takes the 1xx answers);
// cancellation when the client goes away; no compression of its own; a
// connection goes back to the pool only after its answer's body was read
// to the end, when neither side asked to close, the request was
// written whole and the answer is no 204 that declares a body
// (skipsBody); a failed connection is never reused; idle connections are
// closed after the idle timeout, beyond the per-host limit and on
// CloseIdleConnections, and an idle connection the upstream closed or
// sent unasked bytes on is not used (the Transport's read on idle
// connections finds that out; a non-blocking peek does here); a request
// without a body that failed on a reused connection before any byte of an
// answer came back is sent again on another when it could not be written
// or is idempotent, as the Transport does. A request body is written by a
// goroutine of its own while the answer is read, so that both stream and
// an early answer (413 before the whole body) reaches the client.
type upstreamTransport struct {
	std    *http.Transport
	dialer net.Dialer
	limits Limits
	checks *checksOff // checkFastUpstream off: everything goes to std
	// h2 maps an upstream host (URL.Host) to an *atomic.Bool: std's last
	// connection to it negotiated HTTP/2, where a request's Close has
	// nothing to protect (awaitingReuse).
	h2 sync.Map

	mu    sync.Mutex
	hosts map[string]*hostPool
}

// newUpstreamTransport makes the transport over std, whose dials it
// replaces: every connection of both paths counts against the per-host
// cap (Limits.UpstreamMaxConnsPerHost, hostPool.acquire).
func newUpstreamTransport(l Limits, std *http.Transport, checks *checksOff) *upstreamTransport {
	t := &upstreamTransport{
		std:    std,
		dialer: net.Dialer{Timeout: l.UpstreamDialTimeout},
		limits: l,
		checks: checks,
		hosts:  map[string]*hostPool{},
	}
	if std != nil {
		std.DialContext = watchedDial(t.dialer.DialContext, func(ctx context.Context, addr string) (*hostPool, error) {
			hp := t.host(addr)
			return hp, hp.acquire(ctx)
		})
	}
	return t
}

// maxResponseHeaderBytes is the Transport's default limit on a response
// header (MaxResponseHeaderBytes 0).
const maxResponseHeaderBytes = 10 << 20

func (t *upstreamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.fast(req) {
		return t.roundTripStd(req)
	}
	var got1xx func(int, textproto.MIMEHeader) error
	if trace := httptrace.ContextClientTrace(req.Context()); trace != nil {
		got1xx = trace.Got1xxResponse
	}
	return t.roundTrip(req, nil, got1xx, nil)
}

// fast reports whether req goes over the transport's own connections.
func (t *upstreamTransport) fast(req *http.Request) bool {
	return req.URL.Scheme == "http" && !t.checks.off(checkFastUpstream) && req.Header["Upgrade"] == nil
}

// CloseIdleConnections closes the idle connections of both paths.
func (t *upstreamTransport) CloseIdleConnections() {
	t.std.CloseIdleConnections()
	t.mu.Lock()
	hosts := make([]*hostPool, 0, len(t.hosts))
	for _, hp := range t.hosts {
		hosts = append(hosts, hp)
	}
	t.mu.Unlock()
	for _, hp := range hosts {
		hp.closeIdle()
	}
}

// host returns the pool of the upstream address addr (host:port, see
// canonicalAddr), made on first use.
func (t *upstreamTransport) host(addr string) *hostPool {
	t.mu.Lock()
	hp := t.hosts[addr]
	if hp == nil {
		hp = &hostPool{addr: addr, max: t.limits.UpstreamMaxIdleConnsPerHost, idleTimeout: t.limits.UpstreamIdleConnTimeout, wait: t.limits.UpstreamDialTimeout}
		if hp.max <= 0 {
			hp.max = http.DefaultMaxIdleConnsPerHost
		}
		n := t.limits.UpstreamMaxConnsPerHost
		if n <= 0 {
			n = DefaultUpstreamMaxConnsPerHost
		}
		hp.slots = make(chan struct{}, n)
		if t.std != nil {
			hp.closeOtherIdle = t.std.CloseIdleConnections
		}
		t.hosts[addr] = hp
	}
	t.mu.Unlock()
	return hp
}

// hostPool is the idle connections to one upstream address, the most
// recently used last, and the count of all its open connections.
type hostPool struct {
	addr        string // host:port
	max         int
	idleTimeout time.Duration

	// slots holds a value per open connection to addr, of both paths
	// (the own pool's and std's), busy or idle: its capacity is
	// Limits.UpstreamMaxConnsPerHost. Only dials and closes touch it, not
	// the reuse of an idle connection.
	slots chan struct{}
	wait  time.Duration // how long a request waits for a connection
	// closeOtherIdle closes std's idle connections (takeOrAcquire); nil
	// without std.
	closeOtherIdle func()

	mu   sync.Mutex
	idle []*upConn
	// waiters are the requests waiting in takeOrAcquire, oldest first:
	// while any does, put hands the connection it is given to the
	// oldest instead of keeping it idle.
	waiters  []*connWaiter
	sweeping bool // a sweep of expired idle connections is scheduled
	// closeNew: closeIdle ran and no request has asked for a connection
	// since: put closes the connections it is given rather than keep
	// them, as net/http's Transport does after CloseIdleConnections. A
	// reload retires a configuration so; the requests still in flight on
	// it would otherwise leave their connections idle in a pool nobody
	// uses, until the idle timeout.
	closeNew bool
}

// connWaiter is a request waiting in takeOrAcquire.
type connWaiter struct {
	// pooled: it takes a connection of the own pool; otherwise (std's
	// dial) a slot.
	pooled bool
	// got is put's hand-off, sent with the waiter taken off the queue
	// under hp.mu: the connection, or nil for its slot (its socket
	// closed, the slot kept) to a waiter that is not pooled.
	got chan *upConn
}

// errUpstreamBusy is the error of a request that waited for a
// connection in vain (ReasonUpstreamBusy).
var errUpstreamBusy = errors.New("upstream connection limit (limits.upstream-max-conns-per-host) reached, and none came free within limits.upstream-dial-timeout")

// acquire takes a slot for a new connection of std's, waiting up to
// hp.wait for one to be released (a close, or put's hand-off); release
// gives it back.
func (hp *hostPool) acquire(ctx context.Context) error {
	_, err := hp.takeOrAcquire(ctx, false, false)
	return err
}

func (hp *hostPool) release() { <-hp.slots }

// takeOrAcquire is, for a request that found no idle connection, a slot
// for a new one (pc nil) or, when pooled, a connection another request
// put back meanwhile, waiting up to hp.wait for either. The wait is the
// overloaded case: without it, a channel send.
func (hp *hostPool) takeOrAcquire(ctx context.Context, noBody, pooled bool) (*upConn, error) {
	select {
	case hp.slots <- struct{}{}:
		return nil, nil
	default:
	}
	w := &connWaiter{pooled: pooled, got: make(chan *upConn, 1)}
	hp.mu.Lock()
	hp.waiters = append(hp.waiters, w)
	hp.mu.Unlock()
	// From here put hands the connections it is given to the waiters,
	// oldest first, rather than keep them; one it kept before is taken
	// now.
	if pooled {
		if pc := hp.get(time.Time{}, noBody); pc != nil {
			if got, handed := hp.leave(w); handed {
				hp.giveBack(w, got)
			}
			return pc, nil
		}
		// The own pool cannot take std's idle connections (a refused
		// WebSocket handshake's, kept for reuse), whose slots would
		// stay held until std's idle timeout. std keeps no per-host
		// handle: all of its idle ones go, in this overloaded case only.
		if hp.closeOtherIdle != nil {
			hp.closeOtherIdle()
		}
	} else {
		// std cannot take the own pool's idle connections, whose slots
		// would otherwise stay held until the idle timeout: a cap at or
		// below the idle limit, filled by a burst of plain requests,
		// refused every WebSocket handshake to the upstream meanwhile
		// (TestUpstreamCapIdleOfOtherPath).
		hp.dropIdle()
	}
	timer := time.NewTimer(hp.wait)
	defer timer.Stop()
	for {
		select {
		case hp.slots <- struct{}{}:
			// A slot a close freed. A hand-off that came meanwhile saves
			// a dial: the slot goes back (to the next waiter).
			if got, handed := hp.leave(w); handed {
				if pc, ok := hp.accept(w, got, noBody); ok {
					hp.release()
					return pc, nil
				}
			}
			return nil, nil
		case got := <-w.got:
			if pc, ok := hp.accept(w, got, noBody); ok {
				return pc, nil
			}
			// The upstream closed it: its slot went to a waiter blocked
			// on slots, or is free for this one's next try; w is still
			// the oldest for the next hand-off.
			hp.mu.Lock()
			hp.waiters = slices.Insert(hp.waiters, 0, w)
			hp.mu.Unlock()
		case <-timer.C:
			if got, handed := hp.leave(w); handed {
				if pc, ok := hp.accept(w, got, noBody); ok {
					return pc, nil
				}
			}
			return nil, errUpstreamBusy
		case <-ctx.Done():
			// A hand-off that raced the cancellation goes on to the next
			// waiter, or to the pool: neither it nor its slot is lost.
			if got, handed := hp.leave(w); handed {
				hp.giveBack(w, got)
			}
			return nil, ctx.Err()
		}
	}
}

// leave takes w off the queue of waiters. When put took it off first,
// handed is true and got is what put handed it (sent before put let go
// of hp.mu: it is there).
func (hp *hostPool) leave(w *connWaiter) (got *upConn, handed bool) {
	hp.mu.Lock()
	i := slices.Index(hp.waiters, w)
	if i >= 0 {
		hp.waiters = slices.Delete(hp.waiters, i, i+1)
	}
	hp.mu.Unlock()
	if i >= 0 {
		return nil, false
	}
	return <-w.got, true
}

// accept checks a hand-off to w: a slot (w not pooled) is taken as it
// is; a connection as get checks an idle one, but for the idle timeout
// (put gave it back just now). ok false: the connection was closed, its
// slot released.
func (hp *hostPool) accept(w *connWaiter, got *upConn, noBody bool) (pc *upConn, ok bool) {
	if !w.pooled {
		return nil, true
	}
	// The upstream may have closed it, or sent bytes no request asked
	// for, since its answer (get, idleAlive).
	if got.idleAlive(!(noBody && got.holder != nil)) {
		return got, true
	}
	got.close()
	return nil, false
}

// giveBack passes on a hand-off to w that w does not use: a connection
// to the next waiter or the pool (put), a slot to the next waiter
// blocked on slots.
func (hp *hostPool) giveBack(w *connWaiter, got *upConn) {
	if w.pooled {
		hp.put(got)
		return
	}
	hp.release()
}

// get returns an idle connection, nil when there is none. It closes those
// past the idle timeout at now (zero: the clock is read) and those the
// upstream closed or sent unasked bytes on.
//
// A request without a body passes its start (exchange.start, the clock
// read of the client watch; roundTrip finds it in the request's context
// on the direct path and ReverseProxy's), a few microseconds before this
// call under load: a connection idle for the timeout or a little longer
// at that read may still be taken (the idle peek finds one the upstream
// closed, and an upstream's own keep-alive timeout is not that close to
// ours), for one clock read fewer per request. A request with a body
// passes zero: its handler may have read the body first (a form token),
// for as long as the client took to send it.
//
// For a request without a body (noBody), a connection that holds its
// writes (a writeHolder) is not peeked at here: exchange has the peek
// made right before the request's write (holdWrites).
func (hp *hostPool) get(now time.Time, noBody bool) *upConn {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	hp.closeNew = false // in use again (net/http's Transport does the same)
	for len(hp.idle) > 0 {
		pc := hp.idle[len(hp.idle)-1]
		hp.idle[len(hp.idle)-1] = nil
		hp.idle = hp.idle[:len(hp.idle)-1]
		if hp.idleTimeout > 0 && idleFor(pc.idleAt, now) > hp.idleTimeout {
			pc.close()
			continue
		}
		// A deadline left on from the last exchange (see exchange), past
		// or not, stays: idleAlive's peek does not see it, and the next
		// exchange sets its own before it reads (readDeadline.set arms
		// it when the armed one is past).
		peekLater := noBody && pc.holder != nil
		if !pc.idleAlive(!peekLater) {
			pc.close()
			continue
		}
		return pc
	}
	return nil
}

// idleFor is how long a connection put back at idleAt has been idle at
// now (zero: the clock is read). A connection another request put back
// after now has not been idle at all.
func idleFor(idleAt, now time.Time) time.Duration {
	if now.IsZero() {
		return time.Since(idleAt)
	}
	return now.Sub(idleAt)
}

// put takes back a connection whose exchange ended cleanly: it goes to
// the oldest waiter if any (no close and dial under overload; the
// waiter checks it as get would), else to the idle ones.
func (hp *hostPool) put(pc *upConn) {
	pc.reused = true
	pc.ctx = nil
	pc.idleAt = time.Now()
	hp.mu.Lock()
	if len(hp.waiters) > 0 {
		w := hp.waiters[0]
		hp.waiters = slices.Delete(hp.waiters, 0, 1)
		if w.pooled {
			w.got <- pc
			hp.mu.Unlock()
			return
		}
		// std dials its own: the connection closes and its slot is w's.
		pc.closed.Store(true)
		w.got <- nil
		hp.mu.Unlock()
		pc.conn.Close()
		return
	}
	if len(hp.idle) >= hp.max || hp.closeNew {
		hp.mu.Unlock()
		pc.close()
		return
	}
	hp.idle = append(hp.idle, pc)
	if hp.idleTimeout > 0 && !hp.sweeping {
		hp.sweeping = true
		time.AfterFunc(hp.idleTimeout, hp.sweep)
	}
	hp.mu.Unlock()
}

// sweep closes the idle connections past the idle timeout, and comes
// back while any are left.
func (hp *hostPool) sweep() {
	hp.mu.Lock()
	keep := hp.idle[:0]
	var next time.Duration
	for _, pc := range hp.idle {
		if age := time.Since(pc.idleAt); age >= hp.idleTimeout {
			pc.close()
		} else {
			keep = append(keep, pc)
			if left := hp.idleTimeout - age; next == 0 || left < next {
				next = left
			}
		}
	}
	clear(hp.idle[len(keep):])
	hp.idle = keep
	hp.sweeping = len(keep) > 0
	if hp.sweeping {
		time.AfterFunc(next, hp.sweep)
	}
	hp.mu.Unlock()
}

// dropIdle closes the least recently used idle connection, if any,
// freeing its slot.
func (hp *hostPool) dropIdle() {
	hp.mu.Lock()
	if len(hp.idle) == 0 {
		hp.mu.Unlock()
		return
	}
	pc := hp.idle[0]
	hp.idle = slices.Delete(hp.idle, 0, 1)
	hp.mu.Unlock()
	pc.close()
}

func (hp *hostPool) closeIdle() {
	hp.mu.Lock()
	idle := hp.idle
	hp.idle = nil
	hp.closeNew = true
	hp.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

// upConn is one upstream connection. Reads go through it so that the
// response header's size is limited and a test can tell whether any byte
// of an answer arrived.
type upConn struct {
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	reused bool      // it served an exchange before
	idleAt time.Time // when it went back to the pool
	// dl is its read deadline, changed lazily (readDeadline): an
	// exchange's deadline is a little later than the last one's, and the
	// deadline may stay after an answer that needed no read after its
	// header (bodyBuffered).
	dl readDeadline
	// ctx is the current exchange's context: a read that times out
	// after its cancellation does not read again.
	ctx context.Context

	fields fieldBuf // writeRequest's

	limit int64 // bytes the header may still take; <0: no limit
	read  int64 // bytes read in the current exchange

	// writeFailed is set by an exchange's body writer before it ends the
	// reader with a past deadline (see exchange).
	writeFailed atomic.Bool

	peekState // idleAlive's (upstream_unix.go)

	// holder is conn as a writeHolder, nil when it is not one (not
	// Linux).
	holder writeHolder

	hp     *hostPool   // whose slot it holds; nil: none (a test's)
	closed atomic.Bool // close ran: the slot is released
}

// close closes the connection and releases its slot, once.
func (pc *upConn) close() {
	if pc.closed.CompareAndSwap(false, true) && pc.hp != nil {
		pc.hp.release()
	}
	pc.conn.Close()
}

// errPeerSpoke is a writeHolder's error when the peer had closed the
// connection or sent bytes before anything held was written (an idle
// upstream connection that cannot take a request).
var errPeerSpoke = errors.New("upstream closed the connection or sent bytes before the request")

// heldWriteFailed reports whether err, a read error of a writeHolder, is
// the failure of the held write that read made (named "write").
func heldWriteFailed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "write"
}

// A writeHolder's writes can be made by its next read (rawTCPConn's
// holdWrites, Linux).
type writeHolder interface{ holdWrites() }

// errStatusBelow100 fails an answer whose status code is below 100,
// which http.ReadResponse takes (any three digits) but no status is
// (RFC 9110, section 15): read as informational, or relayed as final by
// ReverseProxy, it made the server's WriteHeader panic, and the client
// got its connection cut with no answer (502 now).
var errStatusBelow100 = errors.New("upstream answered with a status code below 100")

var errResponseHeaderTooLarge = fmt.Errorf("upstream response header larger than %d bytes", maxResponseHeaderBytes)

func (pc *upConn) Read(p []byte) (int, error) {
	if pc.limit >= 0 {
		if pc.limit == 0 {
			return 0, errResponseHeaderTooLarge
		}
		if int64(len(p)) > pc.limit {
			p = p[:pc.limit]
		}
	}
	n, err := pc.conn.Read(p)
	for n == 0 && err != nil && isDeadlineErr(err) && pc.rearm() {
		n, err = pc.conn.Read(p)
	}
	pc.read += int64(n)
	if pc.limit >= 0 {
		pc.limit -= int64(n)
	}
	return n, err
}

// rearm is asked when a read timed out: it reports whether the timeout
// came before the deadline the connection's reads must have, which it
// then sets (readDeadline). An interruption's past deadline (the body
// writer's failure, the client going away) is final: whoever sets it
// notes it first (writeFailed, the context's cancellation), and a
// deadline set here meanwhile gives way to it.
func (pc *upConn) rearm() bool {
	if pc.interrupted() {
		return false
	}
	// Only this goroutine changes pc.dl: its generation is the read's.
	t, ok := pc.dl.retry(time.Now(), pc.dl.gen)
	if !ok {
		return false
	}
	pc.conn.SetReadDeadline(t)
	if pc.interrupted() {
		pc.dl.force(aLongTimeAgo)
		pc.conn.SetReadDeadline(aLongTimeAgo)
	}
	return true
}

func (pc *upConn) interrupted() bool {
	return pc.writeFailed.Load() || (pc.ctx != nil && pc.ctx.Err() != nil)
}

// aLongTimeAgo is a deadline in the past: it interrupts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// dial opens a connection to hp's address, in a slot the caller took
// (acquire, takeOrAcquire), released when it fails or is closed.
func (t *upstreamTransport) dial(ctx context.Context, hp *hostPool) (*upConn, error) {
	conn, err := t.dialer.DialContext(ctx, "tcp", hp.addr)
	if err != nil {
		hp.release()
		return nil, err
	}
	conn = rawSyscallConn(conn)
	pc := &upConn{conn: conn, limit: -1, hp: hp}
	pc.holder, _ = conn.(writeHolder)
	pc.br = bufio.NewReader(pc)
	pc.bw = bufio.NewWriter(conn)
	return pc, nil
}

// canonicalAddr is the URL's host with the default port added.
func canonicalAddr(host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(trimBrackets(host), "80")
}

func trimBrackets(h string) string {
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		return h[1 : len(h)-1]
	}
	return h
}

// roundTrip sends req over the own connections of hp, the pool of
// req.URL.Host (nil: looked up here); got1xx, when not nil, takes the
// informational answers. The answer's body is ub (nil: a new one),
// memory the caller keeps for this request alone. The pool's first idle
// check of a request without a body takes the start of the request's
// exchange (exchange.start), on the direct path and ReverseProxy's
// alike, for now (see get); with a body, without an exchange, and on a
// retry, it reads the clock.
func (t *upstreamTransport) roundTrip(req *http.Request, hp *hostPool, got1xx func(int, textproto.MIMEHeader) error, ub *upstreamBody) (*http.Response, error) {
	ctx := req.Context()
	if hp == nil {
		hp = t.host(canonicalAddr(req.URL.Host))
	}
	noBody := req.Body == nil || req.Body == http.NoBody
	var start time.Time // zero: get reads the clock
	if x := exchangeFrom(ctx); x != nil && noBody {
		start = x.start // the request's clock read, not another (why not with a body: get)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pc := hp.get(start, noBody)
		start = time.Time{} // a retry's check reads the clock
		if pc == nil {
			var err error
			if pc, err = hp.takeOrAcquire(ctx, noBody, true); err != nil {
				return nil, err
			}
			if pc == nil {
				if pc, err = t.dial(ctx, hp); err != nil {
					return nil, err
				}
			}
		}
		resp, err, retry := t.exchange(ctx, hp, pc, req, noBody, got1xx, ub)
		if err == nil {
			return resp, nil
		}
		if !retry || !noBody {
			return nil, err
		}
	}
}

// replayable is the Transport's rule for sending a request again:
// idempotent by method, or marked with an idempotency key.
func replayable(req *http.Request) bool {
	switch req.Method {
	case "", "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return req.Header["Idempotency-Key"] != nil || req.Header["X-Idempotency-Key"] != nil
}

// exchange sends req on pc and reads the answer's header, with ub (nil:
// a new one) as its body. retry reports that the exchange failed in a
// way that allows sending req again (see failReplay).
func (t *upstreamTransport) exchange(ctx context.Context, hp *hostPool, pc *upConn, req *http.Request, noBody bool, got1xx func(int, textproto.MIMEHeader) error, ub *upstreamBody) (resp *http.Response, err error, retry bool) {
	// The client going away ends the exchange, and the answer's body.
	watch := watchCancel(ctx, pc.conn)
	// A reused connection that fails before any byte of an answer came
	// back may have been closed by the upstream while idle, and the
	// request never seen: the Transport sends a request without a body
	// again then if it could not be written (nothingWrittenError) or is
	// idempotent. A read that failed on its deadline is not that race:
	// the header timeout (the upstream has the request and is slow; sent
	// again on each idle connection in turn, it would wait the timeout
	// once per connection), or an interruption.
	failReplay := func(err error, replay bool) (*http.Response, error, bool) {
		watch.end()
		pc.close()
		return nil, err, pc.reused && pc.read == 0 && replay && !isDeadlineErr(err)
	}
	fail := func(err error) (*http.Response, error, bool) { return failReplay(err, replayable(req)) }
	pc.read = 0
	pc.writeFailed.Store(false)
	pc.ctx = ctx

	var wrote chan error // the body writer's result; nil without a body
	var body *bodyReader
	if noBody {
		if pc.holder != nil {
			// The request is written by the answer's first read, which
			// then waits without a read that would find nothing; the
			// idle peek (get left it) comes first, on a new connection
			// too.
			pc.holder.holdWrites()
		}
		fields := &pc.fields
		if watch.rc != nil && watch.rc.fields != nil {
			// The client connection's, warm for its answer (h1ReqCtx),
			// free: its answer is written on this goroutine, after.
			fields = watch.rc.fields
		}
		err = writeRequest(pc.bw, req, fields)
		if err == nil {
			err = pc.bw.Flush()
		}
		if err != nil {
			return failReplay(err, true) // not written: any method
		}
	} else {
		// The body is written while the answer is read: both may stream,
		// and an upstream may answer before it has read it all.
		body = &bodyReader{ReadCloser: req.Body}
		out := *req
		out.Body = body
		wrote = make(chan error, 1)
		go func() {
			err := out.Write(pc.bw)
			if err == nil {
				err = pc.bw.Flush()
			}
			if err != nil && (body.err != nil || !readableNow(pc.conn)) {
				// Unblock the reader: the exchange is over. Not when
				// the socket failed (the upstream answered before the
				// whole body, then closed with the body unread: a
				// reset) with bytes or its end to read: those reads
				// do not wait, and a past deadline would fail them
				// before they take an answer already there (net checks
				// it before reading), a 502 for the upstream's 413.
				// The connection is not reused (finish). A failure to
				// read the client's body leaves the upstream waiting
				// for the rest: the reader is ended.
				pc.writeFailed.Store(true)
				pc.conn.SetReadDeadline(aLongTimeAgo)
			}
			wrote <- err
		}()
	}
	// writeFailed reports the body writer's error once it has ended; a
	// failure to read the client's body (its size limit: 413) wins.
	writeFailed := func(readErr error) error {
		// A writer that had not failed by itself is ended by this
		// deadline: its error says nothing more than readErr. (Its
		// timeout may not show: Request.Write wraps a write error of
		// ReadFrom in net/http's requestBodyReadError, which has no
		// Unwrap, and a 504 became a 502.)
		stopped := !pc.writeFailed.Load()
		pc.conn.SetDeadline(aLongTimeAgo) // ends the writer if it still runs
		werr := <-wrote
		if body.err != nil {
			return body.err
		}
		if werr != nil && !stopped && !isTimeout(werr) && ctx.Err() == nil {
			return werr
		}
		return readErr
	}

	if d := t.limits.UpstreamResponseHeaderTimeout; d > 0 {
		now := time.Now()
		if deadline := now.Add(d); pc.dl.set(deadline, now) {
			pc.conn.SetReadDeadline(deadline)
		}
		// The body writer may have failed, or the client left, before
		// this deadline replaced their past one: the reader would then
		// wait for an answer the upstream never sends (it still waits
		// for the body) until the timeout. Whichever sets its deadline
		// last, a past one stays.
		if pc.interrupted() {
			pc.dl.force(aLongTimeAgo)
			pc.conn.SetReadDeadline(aLongTimeAgo)
		}
	}
	pc.limit = maxResponseHeaderBytes
	for {
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			if wrote != nil {
				err = writeFailed(err)
			}
			if noBody && (errors.Is(err, errPeerSpoke) || heldWriteFailed(err)) {
				// The request, held for this read (holdWrites), did
				// not go out whole: the peek found the upstream closed
				// the connection or spoke first (nothing written), or
				// the write failed (the head's end never sent). Any
				// method may go again, as after a failed Flush; a pooled
				// connection is skipped as get's peek skips it, and on
				// a new one (not reused) failReplay does not retry.
				return failReplay(err, true)
			}
			return fail(err)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if resp.StatusCode < 100 {
			return fail(errStatusBelow100)
		}
		// An informational answer: pass it on and read the next. As the
		// Transport does, the header limit starts again when someone took
		// it (ReverseProxy relays it to the client).
		if got1xx != nil {
			if err := got1xx(resp.StatusCode, textproto.MIMEHeader(resp.Header)); err != nil {
				return fail(err)
			}
			pc.limit = maxResponseHeaderBytes
		}
	}
	pc.limit = -1
	if d := t.limits.UpstreamResponseHeaderTimeout; d > 0 {
		buffered := bodyBuffered(resp, pc.br)
		switch {
		case buffered:
			// Nothing more is read on this exchange: the deadline can
			// stay, and saves a timer update per request. The next
			// exchange sets its own (set arms it over a past one) before
			// it reads; idleAlive's peek ignores deadlines.
		case resp.StatusCode == http.StatusSwitchingProtocols:
			// The connection is the client's now: no deadline at all.
			pc.dl.force(time.Time{})
			pc.conn.SetReadDeadline(time.Time{})
		default:
			// The body is read through Read, which reads again with no
			// deadline when the one still armed fires. That one is
			// ahead of now: set above armed the exchange's deadline or
			// kept an earlier one still ahead, and retry only arms the
			// wanted one. (An interruption's past deadline fails every
			// read: no header came after it.)
			pc.dl.wantNone()
		}
		if !buffered && pc.interrupted() {
			// The client left, or the body writer failed, meanwhile:
			// keep their past deadline (the 101's clearing above may
			// have come after it).
			pc.dl.force(aLongTimeAgo)
			pc.conn.SetDeadline(aLongTimeAgo)
		}
	}

	if ub == nil {
		ub = new(upstreamBody)
	}
	*ub = upstreamBody{rc: resp.Body, pc: pc, hp: hp, watch: watch, wrote: wrote,
		reuse: !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols && !skipsBody(resp) &&
			// An HTTP/1.0 answer's Transfer-Encoding is dropped unread
			// (Go frames it by Content-Length; nginx by chunks): what
			// the upstream meant as its end is unknown.
			resp.ProtoAtLeast(1, 1)}
	if resp.Body == http.NoBody && resp.StatusCode != http.StatusSwitchingProtocols {
		// Nothing to read: the exchange is over now.
		ub.finish(true)
		return resp, nil, false
	}
	resp.Body = ub
	return resp, nil, false
}

// skipsBody reports whether resp is a 204 that declares a body (a
// Content-Length other than 0, or a Transfer-Encoding), which RFC 9110
// §8.6 and RFC 9112 §6.1 forbid and http.ReadResponse does not read: an
// upstream that sends one may send it after the answer, after the idle
// peek let the connection take another request (idleAlive), whose answer
// it would then be, another client's. Such a connection is not reused.
// (A HEAD's or a 304's answer may declare a body it does not have.)
func skipsBody(resp *http.Response) bool {
	if resp.StatusCode != http.StatusNoContent {
		return false
	}
	if len(resp.TransferEncoding) > 0 {
		return true
	}
	for _, v := range resp.Header["Content-Length"] {
		if textproto.TrimString(v) != "0" {
			return true
		}
	}
	return false
}

// bodyBuffered reports whether reading resp's body to its end reads
// nothing more from the connection: it has none, or a length that br
// already holds.
func bodyBuffered(resp *http.Response, br *bufio.Reader) bool {
	if resp.Body == http.NoBody {
		return resp.StatusCode != http.StatusSwitchingProtocols
	}
	return len(resp.TransferEncoding) == 0 && resp.ContentLength >= 0 && int64(br.Buffered()) >= resp.ContentLength
}

// bodyReader keeps the error of reading a request body, so that the
// client's failure (a body over the size limit) is told from the
// upstream's.
type bodyReader struct {
	io.ReadCloser
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// upstreamBody is an answer's body: read to its end, it gives the
// connection back to the pool when it may be reused; closed before, it
// closes the connection (draining an answer of unknown length could take
// forever).
type upstreamBody struct {
	rc    io.ReadCloser
	pc    *upConn
	hp    *hostPool
	watch cancelWatch
	wrote chan error // the request body writer's result, nil without a body
	reuse bool
	done  bool
}

func (b *upstreamBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.finish(err == io.EOF)
	}
	return n, err
}

func (b *upstreamBody) Close() error {
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish ends the exchange: clean (the body read to its end) or not.
func (b *upstreamBody) finish(clean bool) {
	b.done = true
	if !b.watch.end() {
		// The client left: the cancellation set a deadline on the
		// connection, or is about to.
		clean = false
	}
	if clean && b.reuse && b.wrote != nil {
		// Reuse only a connection whose request was written whole; a
		// writer still busy means the upstream answered early.
		select {
		case err := <-b.wrote:
			clean = err == nil
		default:
			clean = false
		}
	}
	if clean && b.reuse {
		b.hp.put(b.pc)
		return
	}
	b.pc.close()
}

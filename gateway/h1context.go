package gateway

import (
	"context"
	"net"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// An h1ReqCtx is the context of one request h1Server serves: what
// context.WithCancel makes, without its cost on the common path. It
// cancels as net/http's request context does (context.Canceled, when the
// handler returns, the client goes away or the connection ends), and
// differs in what that costs:
//
//   - its Done channel is made when first asked for, not per request;
//   - it has no parent to register with: h1Server uses it only under a
//     connection context that can never be cancelled (Done() == nil);
//   - the upstream exchange interrupts its connection on cancellation
//     through watchConn, not through context.AfterFunc, which allocates
//     a context, a closure and a children map per request.
//
// Profiles of the gateway under keep-alive load put context.WithCancel,
// context.AfterFunc and their cancellations at about 2 µs of server CPU
// and 5 allocations per request (bench/NOTES.md).
type h1ReqCtx struct {
	context.Context // the connection's: values only, never done

	cancelled atomic.Bool
	mu        sync.Mutex
	done      chan struct{} // made by Done, or closed ready-made by cancel
	conn      net.Conn      // interrupted on cancellation (watchConn)
	traced    bool          // the parent carries an httptrace.ClientTrace
	// cf is the connection's connState, its parent's value of
	// connKey (nil: none), without a lookup (connStateOf).
	cf *connState
	// fields is the client connection's fieldBuf (h1Conn.fields), which
	// the upstream exchange sorts its request's fields in: the answer's
	// header is sorted there next, in lines the request's sort has just
	// brought into the cache (the upstream connection's own buffer is
	// cold by then, one of many taking turns).
	fields *fieldBuf
	funcs  []*h1AfterFunc
	// x is the request's exchange once serveHTTP has set it (nil before,
	// and for a request no serveHTTP serves): the value of exchangeKey.
	// Set on the handler's goroutine before the route's handler runs;
	// the context is one request's, so it never reaches another.
	x *exchange
}

// setExchange makes x the value of exchangeKey in c.
func (c *h1ReqCtx) setExchange(x *exchange) { c.x = x }

// closedChan is the Done channel of a context cancelled before anyone
// asked for one.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// h1ReqCtxKey finds the request's h1ReqCtx under the values the gateway
// adds to it.
type h1ReqCtxKey struct{}

func (c *h1ReqCtx) Value(key any) any {
	switch key.(type) {
	case h1ReqCtxKey:
		return c
	case exchangeKey:
		if c.x != nil {
			return c.x
		}
	}
	return c.Context.Value(key)
}

func (c *h1ReqCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

func (c *h1ReqCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.cancelled.Load() {
			c.done = closedChan
		} else {
			c.done = make(chan struct{})
		}
	}
	return c.done
}

func (c *h1ReqCtx) Err() error {
	if c.cancelled.Load() {
		return context.Canceled
	}
	return nil
}

func (c *h1ReqCtx) String() string { return "gateway.h1ReqCtx" }

// cancel cancels the context: Done closes, a watched connection gets a
// past deadline, and the AfterFunc functions start. Later calls do
// nothing.
func (c *h1ReqCtx) cancel() {
	c.mu.Lock()
	if c.cancelled.Load() {
		c.mu.Unlock()
		return
	}
	c.cancelled.Store(true)
	if c.done != nil {
		close(c.done)
	}
	if c.conn != nil {
		c.conn.SetDeadline(aLongTimeAgo)
	}
	funcs := c.funcs
	c.funcs = nil
	c.mu.Unlock()
	for _, f := range funcs {
		f.start()
	}
}

// watchConn arranges for conn's I/O to be interrupted (a past deadline)
// when the context is cancelled, at once if it already is. It reports
// false, and watches nothing, when another connection is watched.
func (c *h1ReqCtx) watchConn(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return false
	}
	c.conn = conn
	if c.cancelled.Load() {
		conn.SetDeadline(aLongTimeAgo)
	}
	return true
}

// unwatchConn ends watchConn's watch. It reports false when the context
// was cancelled while the connection was watched: its deadline is past
// (or about to be), as context.AfterFunc's stop reports that its
// function ran.
func (c *h1ReqCtx) unwatchConn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = nil
	return !c.cancelled.Load()
}

// AfterFunc is what context.AfterFunc and the contexts derived from this
// one use to learn of its cancellation (without it they would start a
// goroutine each to wait on Done): f runs in its own goroutine once the
// context is cancelled. stop reports whether it stopped f from running.
func (c *h1ReqCtx) AfterFunc(f func()) (stop func() bool) {
	a := &h1AfterFunc{f: f}
	c.mu.Lock()
	if c.cancelled.Load() {
		c.mu.Unlock()
		a.start()
	} else {
		c.funcs = append(c.funcs, a)
		c.mu.Unlock()
	}
	return a.stop
}

// An h1AfterFunc is one AfterFunc registration: it runs or is stopped,
// once.
type h1AfterFunc struct {
	f    func()
	once sync.Once
}

func (a *h1AfterFunc) start() {
	a.once.Do(func() { go a.f() })
}

func (a *h1AfterFunc) stop() bool {
	stopped := false
	a.once.Do(func() { stopped = true })
	return stopped
}

// A cancelWatch interrupts a connection when a context is cancelled
// (watchCancel).
type cancelWatch struct {
	rc   *h1ReqCtx   // the request's h1ReqCtx, or
	stop func() bool // context.AfterFunc's stop
}

// watchCancel interrupts conn (a past deadline) when ctx is cancelled,
// until the watch's end: for a request h1Server serves, through its
// h1ReqCtx; for any other, through context.AfterFunc.
//
// The h1ReqCtx serves only when ctx is cancelled exactly when it is: ctx
// is it, or values on it (the gateway's), which share its Done channel.
// A context derived with its own cancellation (a handler's WithTimeout)
// has a channel of its own and goes through context.AfterFunc.
func watchCancel(ctx context.Context, conn net.Conn) cancelWatch {
	if rc, ok := ctx.Value(h1ReqCtxKey{}).(*h1ReqCtx); ok && (withoutExchange(ctx) == context.Context(rc) || ctx.Done() == rc.Done()) && rc.watchConn(conn) {
		return cancelWatch{rc: rc}
	}
	return cancelWatch{stop: context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })}
}

// end ends the watch. It reports false when the interruption happened or
// is happening.
func (w cancelWatch) end() bool {
	if w.rc != nil {
		return w.rc.unwatchConn()
	}
	return w.stop()
}

// clientTraced reports whether ctx carries an httptrace.ClientTrace. For
// a request h1Server serves, with nothing but the gateway's exchange on
// its context, the answer was found once per connection; any other
// context is searched (httptrace.ContextClientTrace walks the whole
// chain of values, about 0.3 µs per request under load).
func clientTraced(ctx context.Context) bool {
	if rc, ok := withoutExchange(ctx).(*h1ReqCtx); ok {
		return rc.traced
	}
	return httptrace.ContextClientTrace(ctx) != nil
}

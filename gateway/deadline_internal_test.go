package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func TestReadDeadline(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type step struct {
		op        string // "set", "force", "retry"
		t, now    time.Time
		wantApply bool      // set: the connection's deadline changes; retry: read again
		wantArmed time.Time // retry: the deadline to arm
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"first set is applied", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
		}},
		{"later deadline while armed is ahead: noted", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(12), now: at(2), wantApply: false},
			{op: "set", t: at(13), now: at(3), wantApply: false},
		}},
		{"equal deadline: noted", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(10), now: at(1), wantApply: false},
		}},
		{"earlier deadline: applied", []step{
			{op: "set", t: at(120), now: at(0), wantApply: true},
			{op: "set", t: at(11), now: at(1), wantApply: true},
		}},
		{"armed deadline passed: applied", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(20), now: at(10), wantApply: true},
		}},
		{"no deadline armed: applied", []step{
			{op: "set", t: at(20), now: at(1), wantApply: true},
		}},
		{"no deadline armed, none wanted: nothing to set", []step{
			// No timeouts configured: no deadline change per request.
			{op: "set", t: time.Time{}, now: at(0), wantApply: false},
			{op: "set", t: time.Time{}, now: at(1), wantApply: false},
			{op: "set", t: at(20), now: at(2), wantApply: true},
			{op: "set", t: time.Time{}, now: at(3), wantApply: false},
			{op: "retry", now: at(20), wantApply: true, wantArmed: time.Time{}},
			{op: "set", t: time.Time{}, now: at(21), wantApply: false},
		}},
		{"forced past, then none wanted: applied", []step{
			// A handler's past deadline, then the next request's idle
			// wait with no timeouts configured.
			{op: "set", t: time.Time{}, now: at(0), wantApply: false},
			{op: "force", t: aLongTimeAgo},
			{op: "set", t: time.Time{}, now: at(1), wantApply: true},
			{op: "set", t: time.Time{}, now: at(2), wantApply: false},
		}},
		{"the armed deadline again, past: nothing to set", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(10), now: at(20), wantApply: false},
			{op: "retry", now: at(20), wantApply: false},
		}},
		{"no deadline wanted, the armed one ahead: noted, retried", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "wantNone"},
			{op: "retry", now: at(10), wantApply: true, wantArmed: time.Time{}},
		}},
		{"forced to none after a blocked read's early timeout: read again", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(15), now: at(5), wantApply: false},
			{op: "read"},
			{op: "force", t: time.Time{}}, // a handler's SetReadDeadline
			{op: "retry", now: at(10), wantApply: true, wantArmed: time.Time{}},
		}},
		{"forced later after a blocked read's early timeout: read again under it", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(15), now: at(5), wantApply: false},
			{op: "read"},
			{op: "force", t: at(30)},
			{op: "retry", now: at(10), wantApply: true, wantArmed: at(30)},
			// Its own timeout is final, and so is a second one (a
			// clock that disagrees with the runtime's): once per change.
			{op: "retry", now: at(30), wantApply: false},
			{op: "retry", now: at(12), wantApply: false},
		}},
		{"forced earlier after a blocked read's early timeout: read again under it", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(15), now: at(5), wantApply: false},
			{op: "read"},
			{op: "force", t: at(12)},
			{op: "retry", now: at(10), wantApply: true, wantArmed: at(12)},
			{op: "retry", now: at(12), wantApply: false},
		}},
		{"forced past after a blocked read's early timeout: final", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(15), now: at(5), wantApply: false},
			{op: "read"},
			{op: "force", t: aLongTimeAgo}, // an interruption, or a handler's
			{op: "retry", now: at(10), wantApply: false},
		}},
		{"forced, then a read started: its timeout is the forced one's", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "force", t: at(20)},
			{op: "read"},
			{op: "retry", now: at(20), wantApply: false},
		}},
		{"clearing while armed is ahead: noted, retried", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: time.Time{}, now: at(1), wantApply: false},
			{op: "retry", now: at(10), wantApply: true, wantArmed: time.Time{}},
			{op: "retry", now: at(50), wantApply: false},
		}},
		{"early timeout: retried under the wanted deadline", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(15), now: at(5), wantApply: false},
			{op: "retry", now: at(10), wantApply: true, wantArmed: at(15)},
			// The wanted deadline's own timeout is final.
			{op: "retry", now: at(15), wantApply: false},
		}},
		{"timeout at or past the wanted deadline: final", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(15), now: at(5), wantApply: false},
			{op: "retry", now: at(15), wantApply: false},
		}},
		{"forced deadline: final", []step{
			{op: "set", t: at(10), now: at(0), wantApply: true},
			{op: "set", t: at(15), now: at(5), wantApply: false},
			{op: "force", t: aLongTimeAgo},
			{op: "retry", now: at(6), wantApply: false},
			// And the next set is applied: the forced one is past.
			{op: "set", t: at(20), now: at(7), wantApply: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d readDeadline
			var gen uint32 // the generation the read started at ("read")
			read := false
			for i, s := range tc.steps {
				switch s.op {
				case "set":
					if got := d.set(s.t, s.now); got != s.wantApply {
						t.Fatalf("step %d: set(%v) = %v, want %v", i, s.t.Sub(t0), got, s.wantApply)
					}
				case "force":
					d.force(s.t)
				case "wantNone":
					d.wantNone()
				case "read":
					gen, read = d.gen, true
				case "retry":
					if !read { // a read that started just now
						gen = d.gen
					}
					armed, got := d.retry(s.now, gen)
					if got != s.wantApply || (got && !armed.Equal(s.wantArmed)) {
						t.Fatalf("step %d: retry = %v, %v; want %v, %v", i, armed.Sub(t0), got, s.wantArmed.Sub(t0), s.wantApply)
					}
					gen = d.gen // the read again's, as the readers do
				}
				// Never later than wanted: what the connection has fires
				// no later than what its reads must have.
				if !d.armed.IsZero() && !d.want.IsZero() && d.armed.After(d.want) {
					t.Fatalf("step %d: armed %v after wanted %v", i, d.armed.Sub(t0), d.want.Sub(t0))
				}
				if d.armed.IsZero() && !d.want.IsZero() {
					t.Fatalf("step %d: no deadline armed, %v wanted", i, d.want.Sub(t0))
				}
			}
		})
	}
}

// deadlineConn sends the same request n times, one per Read, and counts
// the read deadlines set on it and the answers it gets. Its Read fails
// once with a deadline error before request timeoutBefore (0: never), as
// a read deadline that fires early would.
type deadlineConn struct {
	req           []byte
	n, sent       int
	timeoutBefore int
	setReads      int
	deadlines     []time.Time // the read deadlines set, in order
	answers       int
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if c.sent == c.n {
		return 0, io.EOF
	}
	if c.sent+1 == c.timeoutBefore {
		c.timeoutBefore = 0
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	c.sent++
	return copy(p, c.req), nil
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	c.answers += bytes.Count(p, []byte("HTTP/1.1 200 OK"))
	return len(p), nil
}
func (c *deadlineConn) Close() error                     { return nil }
func (c *deadlineConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *deadlineConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *deadlineConn) SetDeadline(time.Time) error      { return nil }
func (c *deadlineConn) SetWriteDeadline(time.Time) error { return nil }
func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.setReads++
	c.deadlines = append(c.deadlines, t)
	return nil
}

// TestH1IdleWaitFromHandlerEnd: the idle wait after a request without a
// body counts its timeout from the handler's end as the gateway read the
// clock for its access log (handlerEnded), not from a clock read of its
// own; after a request with a body (which finishRequest may read from the
// client first), or a handler that did not say when it ended, the clock
// is read. The idle timeout is shorter than the header timeout, so the
// idle deadline is set on the connection (readDeadline) and recorded.
func TestH1IdleWaitFromHandlerEnd(t *testing.T) {
	const idle = time.Hour
	ended := time.Now().Add(-time.Minute) // before any clock read below
	for _, tc := range []struct {
		name, req string
		tell      bool
		fromEnd   bool
	}{
		{"no body", "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", true, true},
		{"no body, not told", "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", false, false},
		{"body", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\n\r\nok", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.tell {
					handlerEnded(w, ended)
				}
			})
			c := &deadlineConn{req: []byte(tc.req), n: 1}
			newH1Server(&http.Server{Handler: handler, ReadHeaderTimeout: 2 * idle, IdleTimeout: idle}).ServeConn(c)
			if c.answers != 1 || len(c.deadlines) != 2 {
				t.Fatalf("got %d answers and read deadlines %v, want 1 answer, the header and the idle deadline", c.answers, c.deadlines)
			}
			got, fromEnd := c.deadlines[1], ended.Add(idle)
			if tc.fromEnd && !got.Equal(fromEnd) {
				t.Errorf("idle deadline %v, want the handler's end plus the idle timeout, %v", got, fromEnd)
			}
			if !tc.fromEnd && !got.After(fromEnd) {
				t.Errorf("idle deadline %v, want a clock read's, after %v", got, fromEnd)
			}
		})
	}
}

// TestH1KeepAliveReadDeadlineLazy: the idle wait of each keep-alive
// request wants a deadline later than the one the connection has, which
// stays armed (readDeadline); a read that times out on it early reads
// again, and the connection goes on.
func TestH1KeepAliveReadDeadlineLazy(t *testing.T) {
	const n = 50
	req := []byte("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	newServer := func() *h1Server {
		return newH1Server(&http.Server{Handler: handler, ReadHeaderTimeout: time.Hour, IdleTimeout: 2 * time.Hour})
	}

	t.Run("one deadline for many requests", func(t *testing.T) {
		c := &deadlineConn{req: req, n: n}
		newServer().ServeConn(c)
		if c.answers != n {
			t.Fatalf("got %d answers, want %d", c.answers, n)
		}
		// The header deadline at the start; before, one per request more.
		if c.setReads != 1 {
			t.Errorf("got %d read deadlines set for %d requests, want 1", c.setReads, n)
		}
	})
	t.Run("no timeouts configured: no deadline set", func(t *testing.T) {
		// Before, one SetReadDeadline(zero) per request (the idle wait's,
		// and a body's), with no deadline ever armed.
		for _, req := range []string{string(req), "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\n\r\nok"} {
			c := &deadlineConn{req: []byte(req), n: n}
			newH1Server(&http.Server{Handler: handler}).ServeConn(c)
			if c.answers != n {
				t.Fatalf("got %d answers, want %d", c.answers, n)
			}
			if c.setReads != 0 {
				t.Errorf("%.4s: got %d read deadlines set for %d requests, want 0", req, c.setReads, n)
			}
		}
	})
	t.Run("early timeout reads again", func(t *testing.T) {
		c := &deadlineConn{req: req, n: n, timeoutBefore: n / 2}
		newServer().ServeConn(c)
		if c.answers != n {
			t.Fatalf("got %d answers, want %d: the connection ended on an early timeout", c.answers, n)
		}
		if c.setReads != 2 {
			t.Errorf("got %d read deadlines set, want 2 (the header deadline, then the idle one on the early timeout)", c.setReads)
		}
	})
	t.Run("timeout at the wanted deadline ends the connection", func(t *testing.T) {
		// The first idle deadline is earlier than the header one: it is
		// set, and its timeout is the real one.
		c := &deadlineConn{req: req, n: n, timeoutBefore: 2}
		newH1Server(&http.Server{Handler: handler, ReadHeaderTimeout: 2 * time.Hour, IdleTimeout: time.Hour}).ServeConn(c)
		if c.answers != 1 {
			t.Fatalf("got %d answers, want 1: the connection outlived a timeout at its deadline", c.answers)
		}
		if c.setReads != 2 {
			t.Errorf("got %d read deadlines set, want 2", c.setReads)
		}
	})
}

// timeoutOnceConn fails its first Read with a deadline error, as a read
// deadline that fires would, then reads from Reader.
type timeoutOnceConn struct {
	net.Conn // nil: only Read and SetReadDeadline are called
	io.Reader
	failed   bool
	deadline []time.Time // read deadlines set, in order
}

func (c *timeoutOnceConn) Read(p []byte) (int, error) {
	if !c.failed {
		c.failed = true
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	return c.Reader.Read(p)
}

func (c *timeoutOnceConn) SetReadDeadline(t time.Time) error {
	c.deadline = append(c.deadline, t)
	return nil
}

func (c *timeoutOnceConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// TestUpConnReadRearm: an upstream connection's read that times out on a
// deadline earlier than the exchange's reads again under the exchange's;
// one that times out on the exchange's own deadline, or after the body
// writer failed or the client left (their past deadlines), does not.
func TestUpConnReadRearm(t *testing.T) {
	now := time.Now()
	armed, want := now.Add(-time.Second), now.Add(time.Hour)
	for _, tc := range []struct {
		name        string
		setup       func(pc *upConn, cancel context.CancelFunc)
		wantRead    bool
		wantArmedAt []time.Time
	}{
		{"early deadline: read again", func(pc *upConn, _ context.CancelFunc) {
			pc.dl = readDeadline{armed: armed, want: want}
		}, true, []time.Time{want}},
		{"no deadline wanted: read again", func(pc *upConn, _ context.CancelFunc) {
			pc.dl = readDeadline{armed: armed}
		}, true, []time.Time{{}}},
		{"the wanted deadline: final", func(pc *upConn, _ context.CancelFunc) {
			pc.dl = readDeadline{armed: armed, want: armed}
		}, false, nil},
		{"body writer failed: final", func(pc *upConn, _ context.CancelFunc) {
			pc.dl = readDeadline{armed: armed, want: want}
			pc.writeFailed.Store(true)
		}, false, nil},
		{"client gone: final", func(pc *upConn, cancel context.CancelFunc) {
			pc.dl = readDeadline{armed: armed, want: want}
			cancel()
		}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := &timeoutOnceConn{Reader: strings.NewReader("answer")}
			pc := &upConn{conn: c, limit: -1, ctx: ctx}
			tc.setup(pc, cancel)
			buf := make([]byte, 16)
			n, err := pc.Read(buf)
			if tc.wantRead {
				if err != nil || string(buf[:n]) != "answer" {
					t.Fatalf("Read = %q, %v; want the answer", buf[:n], err)
				}
			} else if n != 0 || !isDeadlineErr(err) {
				t.Fatalf("Read = %q, %v; want the deadline error", buf[:n], err)
			}
			if len(c.deadline) != len(tc.wantArmedAt) {
				t.Fatalf("deadlines set %v, want %v", c.deadline, tc.wantArmedAt)
			}
			for i := range c.deadline {
				if !c.deadline[i].Equal(tc.wantArmedAt[i]) {
					t.Fatalf("deadlines set %v, want %v", c.deadline, tc.wantArmedAt)
				}
			}
		})
	}
}

// answerConn answers each request written to it with answer, and counts
// the read deadlines set on it.
type answerConn struct {
	net.Conn // nil: only what the exchange calls is implemented
	answer   string
	pending  bytes.Buffer
	setReads int
}

func (c *answerConn) Write(p []byte) (int, error) {
	if bytes.HasSuffix(p, []byte("\r\n\r\n")) {
		c.pending.WriteString(c.answer)
	}
	return len(p), nil
}

func (c *answerConn) Read(p []byte) (int, error) {
	if c.pending.Len() == 0 {
		return 0, io.EOF
	}
	return c.pending.Read(p)
}

func (c *answerConn) SetReadDeadline(time.Time) error { c.setReads++; return nil }
func (c *answerConn) SetDeadline(time.Time) error     { c.setReads++; return nil }
func (c *answerConn) Close() error                    { return nil }

// TestUpstreamExchangeDeadlineLazy: each exchange on a kept connection
// wants a response header deadline a little later than the last, which
// the connection is not told while its own is still ahead: one deadline
// for many exchanges (before, one per exchange).
func TestUpstreamExchangeDeadlineLazy(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
	}{
		{"body read with the header", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"body read after it", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 20
			tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: 4, UpstreamResponseHeaderTimeout: time.Hour}, &http.Transport{}, nil)
			hp := tr.host("a.test:80")
			c := &answerConn{answer: tc.answer}
			pc := &upConn{conn: c, limit: -1}
			pc.br = bufio.NewReader(pc)
			pc.bw = bufio.NewWriter(c)
			hp.put(pc)
			u, _ := url.Parse("http://a.test/")
			for i := range n {
				res, err := tr.roundTrip(&http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}, hp, nil, nil)
				if err != nil {
					t.Fatalf("exchange %d: %v", i, err)
				}
				if b, err := io.ReadAll(res.Body); err != nil || string(b) != "ok" {
					t.Fatalf("exchange %d: body %q, %v", i, b, err)
				}
				res.Body.Close()
				if got := hp.get(time.Time{}, false); got != pc {
					t.Fatalf("exchange %d: the connection did not go back to the pool", i)
				} else {
					hp.put(got)
				}
			}
			if c.setReads != 1 {
				t.Errorf("got %d read deadlines set for %d exchanges, want 1", c.setReads, n)
			}
		})
	}
}

// scriptConn answers its Reads from script, one step each: bytes, or
// (a step with timeout) a deadline error after the step's hook ran, as a
// read whose deadline fired before something else happened would.
// It records the read deadlines set on it.
type scriptConn struct {
	net.Conn // nil: only what the server calls is implemented
	script   []scriptStep
	out      bytes.Buffer
	deadline []time.Time
}

type scriptStep struct {
	data    string
	timeout bool
	hook    func()
}

func (c *scriptConn) Read(p []byte) (int, error) {
	if len(c.script) == 0 {
		return 0, io.EOF
	}
	s := c.script[0]
	c.script = c.script[1:]
	if s.timeout {
		if s.hook != nil {
			s.hook()
		}
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	}
	return copy(p, s.data), nil
}

func (c *scriptConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }
func (c *scriptConn) SetDeadline(t time.Time) error    { return c.SetReadDeadline(t) }
func (c *scriptConn) SetReadDeadline(t time.Time) error {
	c.deadline = append(c.deadline, t)
	return nil
}

// TestH1HandlerReadDeadlineAfterEarlyTimeout: a body read blocked under
// the header deadline still armed (the request's own, ReadTimeout, is
// later: readDeadline) times out early; a handler's
// ResponseController.SetReadDeadline lands before the read asks whether
// to read again. The read goes on under the handler's deadline, as
// net/http's (never blocked under an earlier one) would: no deadline, a
// later one, an earlier one still ahead. Its twin, a past deadline from
// the handler, ends the read with the timeout. Before the fix the read
// returned the early timeout to the handler in every case.
func TestH1HandlerReadDeadlineAfterEarlyTimeout(t *testing.T) {
	head := "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\n"
	for _, tc := range []struct {
		name     string
		deadline func() time.Time // the handler's
		allow    bool
	}{
		{"none", func() time.Time { return time.Time{} }, true},
		{"later than the request's", func() time.Time { return time.Now().Add(3 * time.Hour) }, true},
		{"earlier than the armed one, ahead", func() time.Time { return time.Now().Add(time.Minute) }, true},
		{"past", func() time.Time { return aLongTimeAgo }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rc *http.ResponseController
			var setErr error
			var want time.Time // the handler's deadline
			var mark int       // deadlines set before the handler's
			c := &scriptConn{}
			c.script = []scriptStep{
				{data: head},
				{timeout: true, hook: func() {
					want = tc.deadline()
					mark = len(c.deadline)
					setErr = rc.SetReadDeadline(want)
				}},
				{data: "hello"},
			}
			var body []byte
			var readErr error
			var during []time.Time // deadlines set from the handler's on, while it ran
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				rc = http.NewResponseController(w)
				body, readErr = io.ReadAll(r.Body)
				during = append(during, c.deadline[mark:]...)
			})
			newH1Server(&http.Server{Handler: handler, ReadHeaderTimeout: time.Hour, ReadTimeout: 2 * time.Hour}).ServeConn(c)
			if rc == nil {
				t.Fatal("the handler did not run")
			}
			if setErr != nil {
				t.Fatalf("SetReadDeadline: %v", setErr)
			}
			if tc.allow {
				if readErr != nil || string(body) != "hello" {
					t.Fatalf("body %q, %v; want it read under the handler's deadline", body, readErr)
				}
			} else if !isDeadlineErr(readErr) {
				t.Fatalf("body %q, %v; want the timeout", body, readErr)
			}
			// The handler's deadline is what the connection has while
			// the body is read: nothing overwrote it.
			if len(during) == 0 {
				t.Fatal("the handler's deadline was not set on the connection")
			}
			for _, d := range during {
				if !d.Equal(want) {
					t.Fatalf("deadlines set from the handler's on %v, want only %v", during, want)
				}
			}
		})
	}
}

// switchConn answers any request with a 101; with waitPast, only once a
// past read deadline was set on it (a failed body writer's). It records
// the read deadlines set on it.
type switchConn struct {
	net.Conn // nil: only what the exchange calls is implemented
	waitPast bool
	past     chan struct{}

	mu       sync.Mutex
	deadline []time.Time
	answered bool
}

func (c *switchConn) Read(p []byte) (int, error) {
	if c.waitPast {
		select {
		case <-c.past:
		case <-time.After(10 * time.Second): // a hung test fails
			return 0, errors.New("no past deadline came")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.answered {
		return 0, io.EOF
	}
	c.answered = true
	return copy(p, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n"), nil
}

func (c *switchConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *switchConn) Close() error                { return nil }
func (c *switchConn) SetDeadline(t time.Time) error {
	return c.SetReadDeadline(t)
}
func (c *switchConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = append(c.deadline, t)
	if !t.IsZero() && t.Before(time.Now()) && len(c.past) == 0 {
		c.past <- struct{}{}
	}
	return nil
}

// TestUpstreamSwitchKeepsWriterInterruption: the request body writer
// failed and set its past deadline on the connection, and then the
// reader got a 101 answer, whose handling clears the response header
// timeout's deadline: the past deadline stays (interruptions are final).
// Before the fix the 101's clearing overwrote it. Its twin, a 101 to a
// request written whole, leaves no deadline.
func TestUpstreamSwitchKeepsWriterInterruption(t *testing.T) {
	for _, tc := range []struct {
		name      string
		body      io.Reader
		writeFail bool
	}{
		{"body writer failed", iotest.ErrReader(errors.New("the client's body failed")), true},
		{"body written whole", strings.NewReader("ok"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: 4, UpstreamResponseHeaderTimeout: time.Hour}, &http.Transport{}, nil)
			hp := tr.host("a.test:80")
			c := &switchConn{waitPast: tc.writeFail, past: make(chan struct{}, 1)}
			pc := &upConn{conn: c, limit: -1}
			pc.br = bufio.NewReader(pc)
			pc.bw = bufio.NewWriter(c)
			hp.put(pc)
			u, _ := url.Parse("http://a.test/")
			req := &http.Request{Method: "POST", URL: u, Host: u.Host, Header: http.Header{}, Body: io.NopCloser(tc.body)}
			res, err := tr.roundTrip(req, hp, nil, nil)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d, want 101", res.StatusCode)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			last := c.deadline[len(c.deadline)-1]
			if tc.writeFail {
				if last.IsZero() || !last.Before(time.Now()) {
					t.Fatalf("deadlines set %v: the writer's past one was overwritten", c.deadline)
				}
			} else if !last.IsZero() {
				t.Fatalf("deadlines set %v, want none at the end", c.deadline)
			}
		})
	}
}

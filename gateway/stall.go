package gateway

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// A client that stalls in the middle of a request (limits.stall-timeout)
// is given up on. On the gateway's own HTTP/1.1 server, the client
// connection does it: a write that waits for the client to take bytes
// arms a deadline stall ahead, from its wait (clientConn, below), and a
// read of a request body gets one from its start (h1ConnReader.Read). On
// HTTP/2, where one stream can stall while its connection is busy, the
// handler does it per request (stallGuard, stall_h2.go).

// stallConfig is limits.stall-timeout as the listeners apply it.
type stallConfig struct {
	timeout time.Duration // 0: none
	m       *metrics      // where stalls are counted; nil: nowhere
}

// counted counts a request given up on: protocol "http/1.1" or "h2",
// direction "body" or "answer".
func (c stallConfig) counted(protocol, direction string) {
	if c.m != nil {
		c.m.stalled(protocol, direction)
	}
}

// A stallReporter is a client connection whose writes tell when their
// stall deadline ended one (clientConn's).
//
// A stall is reported once: it gives the client up, and every later
// write to the connection fails at once with a deadline error, without
// waiting or being reported. What comes after a stall is the end of the
// connection, and closing a *tls.Conn writes a close_notify alert (under
// a deadline crypto/tls sets, 5 s): to a client that still takes
// nothing, that write waited for room too, until the stall timeout ended
// it and counted the request's stall a second time, and held the close
// as long.
type stallReporter interface {
	// onStall sets what a write calls when the stall ended it; set it
	// before the connection's first write that can stall.
	onStall(func())
}

// clientConn is a client connection as a listener serves it: raw system
// calls where the platform has them (rawSyscallConn), and, with stall
// set, writes that fail when the client takes no byte for that long.
//
// Why in the socket's write: every write to an HTTP/1.1 client (the
// handler's, the server's last flush, a WebSocket relay's) waits there
// when the client does not read, and only there is it known that a write
// waits (EAGAIN), so one that does not (the client reads, or the answer
// fits in the socket's buffer) costs nothing more. Above TLS the
// deadline would have to be set before every write: crypto/tls makes a
// write's timeout final, so it could not be armed early and moved on as
// the body reads' is (h1ConnReader.Read).
//
// "No byte" as far as the kernel tells: a waiting write learns that the
// client took some only when the kernel wakes it. On Linux that is each
// time about half of stallNotSentLowat has gone out (rawio_linux.go
// says what rate that allows).
func clientConn(c net.Conn, stall time.Duration) net.Conn {
	c = rawSyscallConn(c)
	if stall <= 0 {
		return c
	}
	return withWriteStall(c, stall)
}

// writeDeadlines composes a connection's write deadline as set from
// outside (SetWriteDeadline, SetDeadline: the server's write timeout, a
// handler's deadline, an interruption's past one) with the stall
// deadline its writes arm while they wait: the connection has the
// earlier of the two. An outside deadline set during a stalled write
// still interrupts it; a later one does not extend the stall.
type writeDeadlines struct {
	mu    sync.Mutex
	ext   time.Time // set from outside; zero: none
	stall time.Time // armed by a waiting write; zero: none
}

// setExt sets the outside deadline and gives the connection (set) the
// earlier one.
func (d *writeDeadlines) setExt(t time.Time, set func(time.Time) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ext = t
	return set(earlier(d.ext, d.stall))
}

// arm sets the stall deadline t.
func (d *writeDeadlines) arm(t time.Time, set func(time.Time) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stall = t
	set(earlier(d.ext, d.stall))
}

// disarm clears the stall deadline: the connection gets the outside one
// back.
func (d *writeDeadlines) disarm(set func(time.Time) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stall = time.Time{}
	set(d.ext)
}

// stallPassed reports whether the stall deadline is armed, is the
// connection's (not later than the outside one), and has passed at now:
// a deadline error then is the stall's.
func (d *writeDeadlines) stallPassed(now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.stall.IsZero() && !now.Before(d.stall) && (d.ext.IsZero() || !d.ext.Before(d.stall))
}

// earlier is the earlier of two deadlines, zero meaning none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// A writeStallConn is clientConn's stall where the connection is not a
// rawTCPConn (other platforms): each Write sets the stall deadline
// before it writes, again after each part the client took, and clears
// it after: two timer updates per write, which rawTCPConn saves by
// arming only when a write waits.
type writeStallConn struct {
	net.Conn
	stall   time.Duration
	wmu     sync.Mutex // one Write at a time: its deadline is the connection's
	dl      writeDeadlines
	gaveUp  bool   // under wmu: a stall ended a write (stallReporter)
	stalled func() // see stallReporter
}

func (c *writeStallConn) onStall(f func()) { c.stalled = f }

func (c *writeStallConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.gaveUp {
		return 0, &net.OpError{Op: "write", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.ErrDeadlineExceeded}
	}
	defer c.dl.disarm(c.Conn.SetWriteDeadline)
	n := 0
	for {
		c.dl.arm(time.Now().Add(c.stall), c.Conn.SetWriteDeadline)
		m, err := c.Conn.Write(p[n:])
		n += m
		if err == nil || m == 0 || !isDeadlineErr(err) {
			if err != nil && isDeadlineErr(err) && c.dl.stallPassed(time.Now()) {
				c.gaveUp = true
				if c.stalled != nil {
					c.stalled()
				}
			}
			return n, err
		}
		// Some was taken before the deadline: the client is slow, not
		// stalled. (Whether the outside deadline or the stall's fired,
		// the next round finds a past outside one at once.)
	}
}

func (c *writeStallConn) SetWriteDeadline(t time.Time) error {
	return c.dl.setExt(t, c.Conn.SetWriteDeadline)
}

func (c *writeStallConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// CloseWrite passes a half-close through, as *net.TCPConn's.
func (c *writeStallConn) CloseWrite() error { return closeWrite(c.Conn) }

// answerStalled reports whether the HTTP/1.1 connection cf (nil: none)
// had a write to its client ended by the stall timeout, while the
// request the access log is about to record was served: the handler's
// writes and a WebSocket's relay (a stall ends the connection, so it was
// its last request). A stall in what the server writes after the
// handler returned comes after the log line. (An HTTP/2 stream's stall
// is the guard's: stallGuard.end.)
func answerStalled(cf *connState) bool {
	return cf != nil && cf.framing != nil && cf.framing.answerStalled.Load()
}

// A clientTimeoutError is a failed read of a request body that ran out
// of time: limits.stall-timeout or read-timeout (408).
type clientTimeoutError struct{ err error }

func (e *clientTimeoutError) Error() string { return e.err.Error() }

func (e *clientTimeoutError) Unwrap() error { return e.err }

// A clientBodyError is any other failed read of a request body: the
// client's framing (a malformed chunk) or its connection ending before
// the body did. Either way it is the client's doing, not the upstream's
// (400, not 502).
type clientBodyError struct{ err error }

func (e *clientBodyError) Error() string { return e.err.Error() }

func (e *clientBodyError) Unwrap() error { return e.err }

// asClientReadError marks a failed read of a request body as the
// client's: a clientTimeoutError when a deadline ended it, else a
// clientBodyError. nil and io.EOF are returned as they are.
func asClientReadError(err error) error {
	switch {
	case err == nil || err == io.EOF:
		return err
	case isDeadlineErr(err):
		return &clientTimeoutError{err}
	}
	return &clientBodyError{err}
}

// A clientBody is the request body of a server not the gateway's own
// (Gateway.Handler mounted on net/http's): its failed reads are the
// client's as on the gateway's listeners (h1Body, stallBody), so a
// malformed chunk is 400 body-invalid there too, not 502.
type clientBody struct{ io.ReadCloser }

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	return n, asClientReadError(err)
}

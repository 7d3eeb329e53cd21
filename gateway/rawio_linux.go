package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A rawTCPConn is a *net.TCPConn whose Read and Write make their read(2)
// and write(2) calls raw (syscall.RawSyscall under RawConn.Read and
// RawConn.Write), where net's make them through syscall.Syscall. Both are
// non-blocking socket calls that the poller waits around, exactly as
// net's (internal/poll's FD.Read and FD.Write: the descriptor's lock, the
// deadline checked first, the call, and on EAGAIN a wait for readiness or
// the deadline, then the call again), with the same results and errors.
//
// Why: syscall.Syscall marks the goroutine as in a system call
// (_Gsyscall), and the runtime's sysmon thread takes its P away (retake,
// handoffp) when the call spans one of its ticks, which on two cores shared by
// four busy processes the kernel makes common (a thread preempted in its
// write). Each retake puts sysmon back on its shortest sleep (20 µs),
// and its wake-ups were about 5 µs of the gateway's CPU per keep-alive
// request (bench/NOTES.md, issue 17, session 11). A call that cannot
// block needs no P hand-off: the runtime makes its own such calls raw,
// and so does the gateway's idle peek (peek_linux.go). What bounds one is
// the kernel's copy of at most len(p) bytes (a write: as many as the
// send buffer takes); the kernel may still sleep in it briefly (the
// socket's lock, a page fault on p), and the P, and a stop-the-world,
// wait for it.
//
// Only Read and Write are raw: the methods promoted from *net.TCPConn
// (SyscallConn, File, ...), ReadFrom and WriteTo are net's, and safe
// beside them (the descriptor's locks order their calls); ReadFrom and
// WriteTo write what is held first.
//
// holdWrites lets the next Read make the last Write of an exchange (see
// there).
type rawTCPConn struct {
	*net.TCPConn
	rc syscall.RawConn

	// One read and one write at a time, as the descriptor's own locks
	// allow (they are held across the wait, too): the state of the call
	// in progress, which readSome and writeAll (as rfn and wfn, made
	// once, so that a call allocates nothing) use.
	rmu  sync.Mutex
	rbuf []byte
	rn   int
	rerr error
	wmu  sync.Mutex
	wbuf []byte
	wn   int
	werr error
	rfn  func(fd uintptr) bool
	wfn  func(fd uintptr) bool

	// holdWrites's state: held, holding and peek under wmu; hold is
	// set while holding, for Read to look at without the lock. hfn is
	// heldThenRead (made once), hphase its progress in one Read.
	hold    atomic.Bool
	holding bool
	peek    bool
	held    []byte
	hfn     func(fd uintptr) bool
	hphase  int
	peekBuf [1]byte

	// stall, when set (clientConn), is how long a write may wait for the
	// client to take a byte: writeAll arms the deadline when it must
	// wait (stallArmed, under wmu), writeLocked clears it after, and
	// sets gaveUp (under wmu) when the stall ended the write: the
	// connection's later writes fail at once (see stallReporter).
	stall      time.Duration
	stallArmed bool
	gaveUp     bool
	wdl        writeDeadlines
	stalled    func() // see stallReporter
}

func (c *rawTCPConn) onStall(f func()) { c.stalled = f }

// rawSyscallConn returns c as a rawTCPConn when it is a *net.TCPConn,
// else c.
func rawSyscallConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawTCPConn{TCPConn: tc, rc: rc}
	r.rfn, r.wfn = r.readSome, r.writeAll
	return r
}

// withWriteStall gives c clientConn's write stall: a rawTCPConn arms it
// in its own writes, when one must wait, and has TCP_NOTSENT_LOWAT set
// (stallNotSentLowat) so that a wait ends as the client reads; another
// connection is a writeStallConn.
func withWriteStall(c net.Conn, stall time.Duration) net.Conn {
	if r, ok := c.(*rawTCPConn); ok {
		r.stall = stall
		setNotSentLowat(r.rc)
		return r
	}
	// A PROXY protocol listener's connection (proxyproto.Conn): its
	// socket's writes wait alike.
	if p, ok := c.(interface{ TCPConn() (*net.TCPConn, bool) }); ok {
		if tc, ok := p.TCPConn(); ok {
			if rc, err := tc.SyscallConn(); err == nil {
				setNotSentLowat(rc)
			}
		}
	}
	return &writeStallConn{Conn: c, stall: stall}
}

// setNotSentLowat sets stallNotSentLowat on rc's socket: one system call
// per connection. Should it fail (it does not on a TCP socket since
// Linux 3.12), a waiting write is woken as before: a stalled client is
// still cut off, a slow one sooner.
func setNotSentLowat(rc syscall.RawConn) {
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, stallNotSentLowat)
	})
}

// stallNotSentLowat is the TCP_NOTSENT_LOWAT of a client connection
// with a stall: the socket takes more only while fewer bytes than this
// wait unsent, and a write waiting on it is woken once fewer than half
// of them do.
//
// Why: a write that waits arms the stall deadline (writeAll), and only
// its wake-up (or the deadline) ends the wait. Without the mark, Linux
// wakes a writer on a full send buffer once about a third of the buffer
// is free (sk_stream_min_wspace), and autotuning grows the buffer to
// tcp_wmem's most (4 MiB by default): a client that took less than
// about 1.4 MiB per stall timeout (23 KB/s at 60s) was cut off as
// stalled while it read. With it, unsent bytes go out as the client's
// window opens, that is as it reads, and a waiting write is woken each
// time about half the mark (plus up to one segment the kernel queued
// past it) has gone out: a client is cut off when it takes less than
// about 128 KiB per stall timeout (2 KiB/s at 60s). A client that stops
// reading opens no window once its kernel's receive buffer is full:
// nothing goes out, no wake, and the stall ends the write as before.
//
// Why 128 KiB: a lower mark wakes a fast client's writer more often
// (each wake then writes half the mark), and leaves the kernel less to
// send while the writer is woken and refills it; on a 10 Gb/s link
// half of 128 KiB lasts about 50 µs. Through the gateway, a 256 MiB
// answer to a client on loopback took the same time and CPU with 16
// KiB, 64 KiB, 128 KiB, 256 KiB and no mark, within the noise. The mark also
// bounds what each slow client holds unsent in the kernel (it had up to
// the send buffer). Nothing changes for a write that does not wait.
const stallNotSentLowat = 128 << 10

// tcpNotSentLowat is TCP_NOTSENT_LOWAT (Linux's include/uapi/linux/tcp.h;
// package syscall has it on few architectures).
const tcpNotSentLowat = 0x19

// holdMax is the most bytes holdWrites keeps: a request head.
const holdMax = 16 << 10

// holdWrites makes the connection's next Writes, up to holdMax bytes in
// all, return at once with their bytes kept, for the next Read to write
// before it waits for the answer, without the read(2) that would find
// nothing yet: one system call fewer per exchange. For a request on a
// connection that nobody should speak on before it (an upstream
// connection).
//
// Why: Read's RawConn.Read resets the poller's readiness, then reads
// (internal/poll's FD.Read does the same), and right after a request is
// written that read finds nothing (EAGAIN) before the wait. A write made
// after the reset can skip that read: every byte the peer sends from
// then on is a readiness the wait sees (the poller is edge-triggered,
// and the reset came first). nginx, event-driven, reads an upstream
// only once it is readable. On this project's benchmark guest a system
// call costs about a microsecond (bench/NOTES.md, session 13).
//
// What the reset drops is a readiness from before it: so the held write
// first looks at the socket, without waiting (recv with
// MSG_PEEK|MSG_DONTWAIT), and writes nothing when the peer has closed it
// or sent anything: the Read (or the Write past holdMax) then returns
// errPeerSpoke, and the bytes are dropped. That look is the idle check
// an upstream pool makes anyway (hostPool.get), moved here.
//
// Held bytes are written by the next Read, a Write that would hold more
// than holdMax, or CloseWrite; Close drops them (the exchange was given
// up before its request went out). A held write's error is the error of
// the call that made it, named "write".
func (c *rawTCPConn) holdWrites() {
	c.wmu.Lock()
	c.holding, c.peek = true, true
	c.held = c.held[:0]
	c.hold.Store(true)
	c.wmu.Unlock()
}

// dropHeldLocked ends the hold and forgets what it kept; c.wmu is held.
func (c *rawTCPConn) dropHeldLocked() {
	c.holding, c.peek = false, false
	c.held = c.held[:0]
	c.hold.Store(false)
}

// Read is net.TCPConn's Read.
func (c *rawTCPConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return c.TCPConn.Read(p) // net's: no system call, an error if closed
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerr = p, 0, nil
	fn, held := c.rfn, c.hold.Load()
	if held {
		if c.hfn == nil {
			c.hfn = c.heldThenRead
		}
		c.hphase, fn = heldWrite, c.hfn
	}
	err := c.rc.Read(fn)
	if held && err == nil && c.hphase == heldLeft {
		// The socket took only part of what was held: write the rest
		// as Write does (waiting for room, under the write deadline),
		// then read.
		if err = c.writeHeld(); err != nil {
			c.rbuf = nil
			return 0, err
		}
		err = c.rc.Read(c.rfn)
	}
	n, rerr := c.rn, c.rerr
	c.rbuf = nil
	if err != nil {
		return 0, c.opError("read", err)
	}
	return n, rerr
}

// heldThenRead's progress in one Read.
const (
	heldWrite = iota // write what is held first
	heldDone         // written: read
	heldLeft         // some left, for Read to write after
)

// heldThenRead is Read's call when writes are held (holdWrites): the
// peek and the held bytes first, then false (wait for readiness); after
// the wait, readSome.
func (c *rawTCPConn) heldThenRead(fd uintptr) bool {
	if c.hphase != heldWrite {
		return c.readSome(fd)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.hphase = heldDone
	if !c.holding { // written meanwhile (a Write past holdMax, CloseWrite)
		return c.readSome(fd)
	}
	if c.peek {
		c.peek = false
		if !c.peerQuiet(fd) {
			c.dropHeldLocked()
			c.rerr = errPeerSpoke
			return true
		}
	}
	c.wbuf, c.wn, c.werr = c.held, 0, nil
	done := c.writeAll(fd)
	n, werr := c.wn, c.werr
	c.wbuf = nil
	c.disarmStall() // this call does not wait: Read, or Write's call after it, does
	switch {
	case werr != nil:
		c.dropHeldLocked()
		c.rerr = werr
		return true
	case !done:
		// The socket is full: the rest stays held, for Read to write
		// as Write does (writeHeldLocked).
		c.held = c.held[:copy(c.held, c.held[n:])]
		c.hphase = heldLeft
		return true
	}
	c.dropHeldLocked()
	return false
}

// writeHeld is writeHeldLocked under c.wmu.
func (c *rawTCPConn) writeHeld() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeHeldLocked()
}

// writeHeldLocked writes what is held as Write does, after the peek
// when it has not run, and ends the hold; c.wmu is held.
func (c *rawTCPConn) writeHeldLocked() error {
	if !c.holding {
		return nil
	}
	if c.peek {
		quiet := false
		if err := c.rc.Control(func(fd uintptr) { quiet = c.peerQuiet(fd) }); err != nil {
			c.dropHeldLocked()
			return c.opError("write", err)
		}
		if !quiet {
			c.dropHeldLocked()
			return errPeerSpoke
		}
	}
	held := c.held
	c.dropHeldLocked()
	_, err := c.writeLocked(held)
	return err
}

// peerQuiet is the held write's look at the socket (holdWrites): true
// when there is nothing to read (EAGAIN), false when the peer sent
// bytes, closed or reset the connection. c.wmu is held.
func (c *rawTCPConn) peerQuiet(fd uintptr) bool {
	return peekSocket(fd, &c.peekBuf) == syscall.EAGAIN
}

// readSome reads once into c.rbuf: false (wait for readiness) on EAGAIN.
func (c *rawTCPConn) readSome(fd uintptr) bool {
	for {
		n, errno := sysRead(fd, c.rbuf)
		switch errno {
		case 0:
			if n == 0 {
				c.rerr = io.EOF
			}
			c.rn = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rerr = c.opError("read", os.NewSyscallError("read", errno))
		return true
	}
}

// Write is net.TCPConn's Write.
func (c *rawTCPConn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return c.TCPConn.Write(p) // net's: one write(2), which reports a reset
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.holding {
		if len(c.held)+len(p) <= holdMax {
			c.held = append(c.held, p...)
			return len(p), nil
		}
		// Too much to hold: what is held goes first, now.
		if err := c.writeHeldLocked(); err != nil {
			return 0, err
		}
	}
	return c.writeLocked(p)
}

// writeLocked is Write's call; c.wmu is held.
func (c *rawTCPConn) writeLocked(p []byte) (int, error) {
	if c.gaveUp {
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	c.wbuf, c.wn, c.werr = p, 0, nil
	err := c.rc.Write(c.wfn)
	n, werr := c.wn, c.werr
	c.wbuf = nil
	if c.stallArmed {
		stalled := err != nil && isDeadlineErr(err) && c.wdl.stallPassed(time.Now())
		c.disarmStall()
		if stalled {
			c.gaveUp = true
			if c.stalled != nil {
				c.stalled()
			}
		}
	}
	if err != nil {
		return n, c.opError("write", err)
	}
	return n, werr
}

// disarmStall clears the deadline writeAll armed, if it did; c.wmu is
// held.
func (c *rawTCPConn) disarmStall() {
	if c.stallArmed {
		c.stallArmed = false
		c.wdl.disarm(c.TCPConn.SetWriteDeadline)
	}
}

// SetWriteDeadline is net.TCPConn's; with a stall, composed with it
// (writeDeadlines).
func (c *rawTCPConn) SetWriteDeadline(t time.Time) error {
	if c.stall <= 0 {
		return c.TCPConn.SetWriteDeadline(t)
	}
	return c.wdl.setExt(t, c.TCPConn.SetWriteDeadline)
}

// SetDeadline is net.TCPConn's; with a stall, its write half is
// SetWriteDeadline's.
func (c *rawTCPConn) SetDeadline(t time.Time) error {
	if c.stall <= 0 {
		return c.TCPConn.SetDeadline(t)
	}
	if err := c.TCPConn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// CloseWrite is net.TCPConn's, after what is held (holdWrites) is
// written.
func (c *rawTCPConn) CloseWrite() error {
	if err := c.writeHeld(); err != nil {
		return err
	}
	return c.TCPConn.CloseWrite()
}

// ReadFrom is net.TCPConn's (io.Copy to the connection), after what is
// held (holdWrites) is written: net's ReadFrom writes the socket itself,
// and would otherwise send the copied bytes ahead of the held ones.
func (c *rawTCPConn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.writeHeld(); err != nil {
		return 0, err
	}
	return c.TCPConn.ReadFrom(r)
}

// WriteTo is net.TCPConn's (io.Copy from the connection), after what is
// held is written: net's WriteTo reads the socket itself, and would
// otherwise wait for the answer to a request never sent.
func (c *rawTCPConn) WriteTo(w io.Writer) (int64, error) {
	if err := c.writeHeld(); err != nil {
		return 0, err
	}
	return c.TCPConn.WriteTo(w)
}

// Close is net.TCPConn's; what is held (holdWrites) is dropped. A Write
// in progress is not waited for (Close may be what is to end it).
func (c *rawTCPConn) Close() error {
	if c.hold.Load() && c.wmu.TryLock() {
		c.dropHeldLocked()
		c.wmu.Unlock()
	}
	return c.TCPConn.Close()
}

// writeAll writes c.wbuf[c.wn:] until all is written (true), an error
// (true), or the socket is full (false: wait for room).
func (c *rawTCPConn) writeAll(fd uintptr) bool {
	for c.wn < len(c.wbuf) {
		p := c.wbuf[c.wn:]
		n, errno := sysWrite(fd, p)
		switch errno {
		case 0:
			if n > len(p) {
				panic("invalid return from write") // as internal/poll
			}
			if n == 0 {
				c.werr = c.opError("write", io.ErrUnexpectedEOF)
				return true
			}
			c.wn += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			if c.stall > 0 {
				// From this wait (again after each part the client
				// took: the wake stallNotSentLowat gives). Inside
				// RawConn.Write's call, before its wait: setting a
				// deadline takes none of the descriptor's locks.
				c.stallArmed = true
				c.wdl.arm(time.Now().Add(c.stall), c.TCPConn.SetWriteDeadline)
			}
			return false
		default:
			c.werr = c.opError("write", os.NewSyscallError("write", errno))
			return true
		}
	}
	return true
}

// opError is the error net's Read or Write returns for err: an
// *net.OpError naming op, the connection's addresses and the cause (an
// error of RawConn.Read or Write, named raw-read or raw-write, gives its
// own cause: a deadline, a closed connection). Net is "tcp", the network
// the gateway listens and dials on (net's names the dialed one).
func (c *rawTCPConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && (oe.Op == "raw-read" || oe.Op == "raw-write") {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

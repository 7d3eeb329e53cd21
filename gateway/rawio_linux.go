package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
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
// (ReadFrom, WriteTo, CloseWrite, SyscallConn, File, ...) are net's, and
// safe beside them (the descriptor's locks order their calls).
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
}

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

// Read is net.TCPConn's Read.
func (c *rawTCPConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return c.TCPConn.Read(p) // net's: no system call, an error if closed
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.rbuf, c.rn, c.rerr = p, 0, nil
	err := c.rc.Read(c.rfn)
	n, rerr := c.rn, c.rerr
	c.rbuf = nil
	if err != nil {
		return 0, c.opError("read", err)
	}
	return n, rerr
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
	c.wbuf, c.wn, c.werr = p, 0, nil
	err := c.rc.Write(c.wfn)
	n, werr := c.wn, c.werr
	c.wbuf = nil
	if err != nil {
		return n, c.opError("write", err)
	}
	return n, werr
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

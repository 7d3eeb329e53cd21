//go:build unix

package gateway

import (
	"net"
	"syscall"
)

// idleAlive reports whether an idle upstream connection can carry
// another request: the upstream has neither closed it nor sent anything
// unasked (an answer after a HEAD's, a 408). One non-blocking peek; the
// Transport learns the same from the read it keeps pending on every idle
// connection.
//
// The peek runs under RawConn.Control, not RawConn.Read: Read would
// also take the descriptor's read lock and reset the poller's readiness
// (and fail on a past read deadline), which a peek that never waits
// does not need; under keep-alive load that was about half of its user
// CPU (bench/NOTES.md, session 9).
//
// Without peek only the connection's reader is looked at: the caller
// has the peek made later (rawTCPConn's holdWrites).
func (pc *upConn) idleAlive(peek bool) bool {
	if pc.br.Buffered() > 0 {
		return false
	}
	if !peek {
		return true
	}
	if pc.peekFn == nil {
		sc, ok := pc.conn.(syscall.Conn)
		if !ok {
			return true
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		// Kept for the connection's life: a peek then allocates nothing.
		pc.raw, pc.peekFn = rc, pc.peek
	}
	pc.alive = false
	return pc.raw.Control(pc.peekFn) == nil && pc.alive
}

// peek is idleAlive's non-blocking look at the socket.
func (pc *upConn) peek(fd uintptr) {
	// Nothing to read (EAGAIN) is the one good answer: 0 bytes is the
	// upstream's close, more is bytes it sent unasked, any other error a
	// broken connection.
	pc.alive = peekSocket(fd, &pc.peekBuf) == syscall.EAGAIN
}

// peekState is what idleAlive keeps per connection.
type peekState struct {
	raw     syscall.RawConn
	peekFn  func(fd uintptr)
	peekBuf [1]byte
	alive   bool
}

// readableNow reports whether a read on c would not wait: bytes, the
// end or an error are there (one non-blocking peek). After a failed
// write (the upstream reset the connection) what is there is final.
// Not pc.idleAlive: the body writer calls it while the reader owns the
// connection's bufio.Reader and peek state.
func readableNow(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var buf [1]byte
	errno := syscall.EAGAIN
	if rc.Control(func(fd uintptr) { errno = peekSocket(fd, &buf) }) != nil {
		return false
	}
	return errno != syscall.EAGAIN
}

//go:build unix

package gateway

import (
	"syscall"
)

// idleAlive reports whether an idle upstream connection can carry
// another request: the upstream has neither closed it nor sent anything
// unasked (an answer after a HEAD's, a 408). One non-blocking peek; the
// Transport learns the same from the read it keeps pending on every idle
// connection.
func (pc *upConn) idleAlive() bool {
	if pc.br.Buffered() > 0 {
		return false
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
	return pc.raw.Read(pc.peekFn) == nil && pc.alive
}

// peek is idleAlive's non-blocking look at the socket.
func (pc *upConn) peek(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), pc.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	// Nothing to read (EAGAIN) is the one good answer: 0 bytes is the
	// upstream's close, more is bytes it sent unasked.
	pc.alive = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
	return true
}

// peekState is what idleAlive keeps per connection.
type peekState struct {
	raw     syscall.RawConn
	peekFn  func(fd uintptr) bool
	peekBuf [1]byte
	alive   bool
}

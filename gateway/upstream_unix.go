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
	sc, ok := pc.conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read (EAGAIN) is the one good answer: 0 bytes is
		// the upstream's close, more is bytes it sent unasked.
		alive = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true
	})
	return err == nil && alive
}

//go:build unix

package gateway_test

import "syscall"

// socketReadable reports whether a read of the socket would return at
// once: bytes, the end of the stream or an error are waiting in the
// kernel (recv with MSG_PEEK|MSG_DONTWAIT, which takes nothing).
func socketReadable(rc syscall.RawConn) bool {
	readable := false
	rc.Control(func(fd uintptr) {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		readable = err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
	})
	return readable
}

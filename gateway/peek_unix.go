//go:build unix && (!linux || 386)

package gateway

import "syscall"

// peekSocket looks at the next byte of socket fd without taking it and
// without waiting. It reports EAGAIN when there is none yet, zero when
// there is one or the peer closed its side, another errno on a broken
// connection.
func peekSocket(fd uintptr, buf *[1]byte) syscall.Errno {
	_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	if err == nil {
		return 0
	}
	if errno, ok := err.(syscall.Errno); ok {
		if errno == syscall.EWOULDBLOCK {
			return syscall.EAGAIN
		}
		return errno
	}
	return syscall.EIO
}

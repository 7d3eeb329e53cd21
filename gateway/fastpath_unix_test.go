//go:build unix

package gateway_test

import (
	"io"
	"sync"
	"syscall"
)

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

// readRecorded reads c into p and hands got what it read, with mu held
// from the read system call to got's return: one who holds mu finds
// each byte in the socket (socketReadable) or passed to got, never
// taken from the one and not yet given to the other.
func readRecorded(c *servedConn, p []byte, mu *sync.Mutex, got func([]byte)) (int, error) {
	var n int
	var err error
	rerr := c.raw.Read(func(fd uintptr) bool {
		mu.Lock()
		defer mu.Unlock()
		for {
			n, err = syscall.Read(int(fd), p)
			if err != syscall.EINTR {
				break
			}
		}
		if err == syscall.EAGAIN || err == syscall.EWOULDBLOCK {
			return false // wait until readable (or the deadline)
		}
		if n > 0 {
			got(p[:n])
		}
		return true
	})
	switch {
	case rerr != nil:
		return 0, rerr
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

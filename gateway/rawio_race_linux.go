//go:build race

package gateway

import "syscall"

// sysRead is read(2) into p through syscall.Read under the race
// detector: its annotations make a write on one end of a connection
// happen before the read of those bytes on the other, as net's reads
// and writes do; without them, code that orders its goroutines through
// a connection (a test server and its client) would be reported as
// racing. Not raw: the race build is not the one measured.
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	return n, errnoOf(err)
}

// sysWrite is write(2) from p through syscall.Write (see sysRead).
func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	return n, errnoOf(err)
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	if errno, ok := err.(syscall.Errno); ok {
		return errno
	}
	return syscall.EIO
}

//go:build !race

package gateway

import (
	"syscall"
	"unsafe"
)

// sysRead is read(2) of len(p) > 0 bytes into p, raw (rawTCPConn).
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}

// sysWrite is write(2) of len(p) > 0 bytes from p, raw (rawTCPConn).
func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), errno
}

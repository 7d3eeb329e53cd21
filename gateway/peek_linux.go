//go:build !386

package gateway

import (
	"syscall"
	"unsafe"
)

// peekSocket looks at the next byte of socket fd without taking it and
// without waiting (recv with MSG_PEEK|MSG_DONTWAIT). It reports EAGAIN
// when there is none yet, zero when there is one or the peer closed
// its side, another errno on a broken connection.
//
// A raw system call: one that cannot block needs no entersyscall and
// exitsyscall around it (the runtime makes such calls raw itself), and
// recv without an address buffer spares syscall.Recvfrom's sockaddr.
// Not on linux/386, which has no SYS_RECVFROM in package syscall (its
// socket calls go through socketcall): peek_unix.go's there.
func peekSocket(fd uintptr, buf *[1]byte) syscall.Errno {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), 1, syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return errno
}

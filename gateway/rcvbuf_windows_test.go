package gateway_test

import "syscall"

// setRcvBuf sets socket fd's SO_RCVBUF to n bytes.
func setRcvBuf(fd uintptr, n int) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}

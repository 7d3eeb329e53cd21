//go:build !linux

package gateway

import "net"

// rawSyscallConn returns c: the raw system calls of rawio_linux.go are
// Linux's.
func rawSyscallConn(c net.Conn) net.Conn { return c }

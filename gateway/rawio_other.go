//go:build !linux

package gateway

import (
	"net"
	"time"
)

// rawSyscallConn returns c: the raw system calls of rawio_linux.go are
// Linux's.
func rawSyscallConn(c net.Conn) net.Conn { return c }

// withWriteStall gives c clientConn's write stall, around every write.
func withWriteStall(c net.Conn, stall time.Duration) net.Conn {
	return &writeStallConn{Conn: c, stall: stall}
}

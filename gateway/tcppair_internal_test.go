package gateway

import (
	"net"
	"testing"
)

// tcpPairOf is a connected loopback pair: the dialed side, wrapped by
// wrap, and the accepted side.
func tcpPairOf(t *testing.T, wrap func(net.Conn) net.Conn) (net.Conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); p.Close() })
	return wrap(c), p.(*net.TCPConn)
}

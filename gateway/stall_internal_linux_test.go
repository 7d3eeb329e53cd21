package gateway

import (
	"net"
	"testing"
	"time"
)

// TestClientConnRaw: on Linux, clientConn is a rawTCPConn, with the
// stall in its own writes, and without a stall one with none.
func TestClientConnRaw(t *testing.T) {
	for _, stall := range []time.Duration{0, time.Minute} {
		c, _ := tcpPairOf(t, func(c net.Conn) net.Conn { return clientConn(c, stall) })
		r, ok := c.(*rawTCPConn)
		if !ok {
			t.Fatalf("stall %v: clientConn gave %T, want *rawTCPConn", stall, c)
		}
		if r.stall != stall {
			t.Errorf("stall %v: the rawTCPConn has %v", stall, r.stall)
		}
	}
}

package freeport

import (
	"fmt"
	"net"
	"testing"
)

func TestLoopback(t *testing.T) {
	hi := ephemeralLow()
	for range 20 {
		port, err := Loopback()
		if err != nil {
			t.Fatal(err)
		}
		if port < low || port >= hi {
			t.Fatalf("port %d is outside [%d, %d)", port, low, hi)
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		ln.Close()
	}
}

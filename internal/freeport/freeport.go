// Package freeport picks a loopback TCP port for a test to give to a
// server it starts in another process, which binds the port later.
//
// Between the pick and that bind, anyone may take the port. Asking the
// kernel for port 0 picks from the ephemeral range, the range every
// outgoing connection on the machine draws its local port from, so under
// parallel tests (go test runs packages at once, each connecting to
// servers) a port picked that way is soon some connection's and the
// server fails with "address already in use". Loopback picks at random
// below the ephemeral range instead, where only other explicit binds go.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
)

// low is the first port Loopback tries; Linux's default ephemeral range
// starts at 32768, and IANA's at 49152.
const low = 20000

// Loopback returns a port on 127.0.0.1 that is free now, below the
// machine's ephemeral port range. It falls back to one the kernel picks
// (port 0) when it finds none after a few tries.
func Loopback() (int, error) {
	high := ephemeralLow() - 1
	for range 64 {
		port := low + rand.IntN(high-low+1)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			return port, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("freeport: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// ephemeralLow is the first port of the ephemeral range: Linux's
// /proc/sys/net/ipv4/ip_local_port_range, else 32768.
func ephemeralLow() int {
	lo := 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var a, b int
		if n, _ := fmt.Sscan(string(data), &a, &b); n == 2 && a > low+1000 {
			lo = a
		}
	}
	return lo
}

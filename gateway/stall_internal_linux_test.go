package gateway

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// TestClientConnRaw: on Linux, clientConn is a rawTCPConn, with the
// stall in its own writes and TCP_NOTSENT_LOWAT set (stallNotSentLowat),
// and without a stall one with neither.
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
		lowat, serr := -1, error(nil)
		if err := r.rc.Control(func(fd uintptr) {
			lowat, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat)
		}); err != nil || serr != nil {
			t.Fatalf("stall %v: TCP_NOTSENT_LOWAT: %v, %v", stall, err, serr)
		}
		want := stallNotSentLowat
		if stall == 0 {
			want = 0 // not set: net.ipv4.tcp_notsent_lowat's
		}
		if lowat != want {
			t.Errorf("stall %v: TCP_NOTSENT_LOWAT %d, want %d", stall, lowat, want)
		}
	}
}

// TestWriteStallSteadyReader: a client that takes an answer steadily is
// not stalled, however little each part. Linux wakes a writer waiting
// on a full send buffer only once about a third of the buffer is free,
// and autotuning grows the buffer to MiBs (tcp_wmem: 4 MiB by default):
// armed from each wait, a stall timeout cut off every client that took
// less than that third per timeout (over 1 MiB a second here). The
// client here takes 16 KiB every 25 ms (640 KiB/s) through a receive
// buffer fixed at 16 KiB, for three stall timeouts, while the write of
// a large answer goes on; then the test ends the write from outside (a
// past deadline), which is no stall. The twin: the same client stops
// after a quarter of that, and the stall ends the write, reported once,
// after the client stopped.
func TestWriteStallSteadyReader(t *testing.T) {
	t.Parallel()
	const (
		stall = time.Second
		part  = 16 << 10
		every = 25 * time.Millisecond
		parts = int(3 * stall / every) // three stall timeouts' worth
	)
	big := make([]byte, 64<<20) // more than the send buffer grows to
	// pair is a connection wrapped by clientConn, with its stalls
	// counted, and its peer, whose receive buffer is fixed before it
	// connects (its window never grows).
	pair := func(t *testing.T) (net.Conn, net.Conn, *atomic.Int32) {
		lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, part)
			})
			return cmp.Or(err, serr)
		}}
		ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		peer, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); peer.Close() })
		var stalls atomic.Int32
		c = clientConn(c, stall)
		c.(stallReporter).onStall(func() { stalls.Add(1) })
		return c, peer, &stalls
	}
	// read takes n parts from peer, one every period, then closes
	// stopped.
	read := func(peer net.Conn, n int, stopped chan<- struct{}) {
		defer close(stopped)
		buf := make([]byte, part)
		for range n {
			time.Sleep(every)
			if _, err := io.ReadFull(peer, buf); err != nil {
				return
			}
		}
	}
	t.Run("steady", func(t *testing.T) {
		t.Parallel()
		c, peer, stalls := pair(t)
		stopped := make(chan struct{})
		go read(peer, parts, stopped)
		done := make(chan error, 1)
		go func() { _, err := c.Write(big); done <- err }()
		select {
		case err := <-done:
			t.Fatalf("the write to a client taking 640 KiB/s ended while it read: %v (%d stalls reported)", err, stalls.Load())
		case <-stopped:
		}
		c.SetWriteDeadline(aLongTimeAgo)
		if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("the write, after a past deadline from outside: %v, want a deadline error", err)
		}
		if n := stalls.Load(); n != 0 {
			t.Errorf("%d stalls reported, want none", n)
		}
	})
	t.Run("stops", func(t *testing.T) {
		t.Parallel()
		c, peer, stalls := pair(t)
		stopped := make(chan struct{})
		go read(peer, parts/4, stopped)
		_, err := c.Write(big)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a write to a client that stopped reading: %v, want the stall's deadline error", err)
		}
		select {
		case <-stopped:
		default:
			t.Errorf("the write was ended while the client still read")
		}
		if n := stalls.Load(); n != 1 {
			t.Errorf("%d stalls reported, want 1", n)
		}
	})
}

// TestClientConnProxyProtocolLowat: on a PROXY protocol listener the
// client connection is a proxyproto.Conn, not a *net.TCPConn; its
// socket gets TCP_NOTSENT_LOWAT all the same (else a slow reader behind
// the balancer is cut off as stalled, as before stallNotSentLowat). The
// twin: without a stall, none.
func TestClientConnProxyProtocolLowat(t *testing.T) {
	for _, stall := range []time.Duration{0, time.Minute} {
		var tc *net.TCPConn
		tcpPairOf(t, func(c net.Conn) net.Conn {
			tc = c.(*net.TCPConn)
			return clientConn(proxyproto.NewConn(c), stall)
		})
		rc, err := tc.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		lowat, serr := -1, error(nil)
		if err := rc.Control(func(fd uintptr) {
			lowat, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat)
		}); err != nil || serr != nil {
			t.Fatalf("stall %v: TCP_NOTSENT_LOWAT: %v, %v", stall, err, serr)
		}
		want := stallNotSentLowat
		if stall == 0 {
			want = 0
		}
		if lowat != want {
			t.Errorf("stall %v: TCP_NOTSENT_LOWAT %d, want %d", stall, lowat, want)
		}
	}
}

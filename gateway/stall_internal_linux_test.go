package gateway

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki/pkitest"
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
		// The writer is woken each time about 64 KiB more went out:
		// four parts, and the one it is in. A reader held so long that
		// this many reads took a stall timeout did stall, as far as the
		// writer can tell (readPauses).
		wakeSpan = 5
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
	// stopped; pauses keeps its longest pause between two parts (see
	// readPauses).
	read := func(peer net.Conn, n int, stopped chan<- struct{}, pauses *readPauses) {
		defer close(stopped)
		buf := make([]byte, part)
		pauses.read()
		for range n {
			time.Sleep(every)
			if _, err := io.ReadFull(peer, buf); err != nil {
				return
			}
			pauses.read()
		}
	}
	t.Run("steady", func(t *testing.T) {
		t.Parallel()
		c, peer, stalls := pair(t)
		stopped := make(chan struct{})
		pauses := readPauses{span: wakeSpan}
		go read(peer, parts, stopped, &pauses)
		done := make(chan error, 1)
		go func() { _, err := c.Write(big); done <- err }()
		select {
		case err := <-done:
			if held := pauses.longest(); held >= stall {
				t.Skipf("the client's goroutine took %v for %d reads, past the stall timeout: it stalled (a machine too busy to show the twin)", held, pauses.span)
			}
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
		pauses := readPauses{span: wakeSpan}
		go read(peer, parts/4, stopped, &pauses)
		_, err := c.Write(big)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a write to a client that stopped reading: %v, want the stall's deadline error", err)
		}
		select {
		case <-stopped:
		default:
			// Ended before the client's last part: right only if its
			// goroutine was held so that wakeSpan reads took a stall
			// timeout (a loaded machine).
			if held := pauses.longest(); held < stall {
				t.Errorf("the write was ended while the client still read (its longest %d reads took %v)", pauses.span, held)
			}
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

// TestWriteStallReportedOnce: a stall is reported once per connection,
// and the connection's later writes fail at once. A stall ends the
// connection, and closing a *tls.Conn over it writes a close_notify
// alert (under crypto/tls's own deadline of 5 s) to a client that still
// takes nothing: that write waited for room as well, was ended by the
// stall timeout too and reported as a second stall, on both kinds of
// clientConn (a rawTCPConn, and the writeStallConn of other platforms).
// Here the test fills the socket after the stall, so the alert finds
// no room whatever the client's window did since. The twin: a client
// that reads gets the answer and the alert (a clean end, io.EOF, not
// an unexpected one), and nothing is reported.
func TestWriteStallReportedOnce(t *testing.T) {
	t.Parallel()
	const stall = time.Second
	kinds := []struct {
		name string
		wrap func(net.Conn) net.Conn
	}{
		{"raw", func(c net.Conn) net.Conn { return clientConn(c, stall) }},
		{"generic", func(c net.Conn) net.Conn { return &writeStallConn{Conn: c, stall: stall} }},
	}
	// pair is a TLS server over a clientConn, with its stalls counted,
	// the TCP connection under it, and its client; with small, the
	// client's receive buffer is the least the kernel allows (its window
	// soon shuts).
	pair := func(t *testing.T, wrap func(net.Conn) net.Conn, small bool) (*tls.Conn, net.Conn, *net.TCPConn, *tls.Conn, *atomic.Int32) {
		craw, sraw := tcpPair(t)
		if small {
			craw.(*net.TCPConn).SetReadBuffer(1)
		}
		var stalls atomic.Int32
		sc := wrap(sraw)
		sc.(stallReporter).onStall(func() { stalls.Add(1) })
		ca := pkitest.CA(t)
		server := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{pkitest.Server(t, ca).TLSCertificate()}, SessionTicketsDisabled: true})
		client := tls.Client(craw, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
		t.Cleanup(func() { client.Close(); server.Close() })
		hs := make(chan error, 1)
		go func() { hs <- server.Handshake() }()
		if err := client.Handshake(); err != nil {
			t.Fatal(err)
		}
		if err := <-hs; err != nil {
			t.Fatal(err)
		}
		return server, sc, sraw.(*net.TCPConn), client, &stalls
	}
	for _, k := range kinds {
		t.Run(k.name+"/stalled, then closed", func(t *testing.T) {
			t.Parallel()
			server, sc, sraw, _, stalls := pair(t, k.wrap, true)
			if _, err := server.Write(make([]byte, 64<<20)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("a write to a client that reads nothing: %v, want the stall's deadline error", err)
			}
			if n := stalls.Load(); n != 1 {
				t.Fatalf("%d stalls reported for the write, want 1", n)
			}
			fillSocket(t, sraw)
			if _, err := sc.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("a write after the stall: %v, want a deadline error", err)
			}
			server.Close() // its close_notify finds no room
			if n := stalls.Load(); n != 1 {
				t.Errorf("%d stalls reported once the connection was closed, want 1", n)
			}
		})
		t.Run(k.name+"/read, then closed", func(t *testing.T) {
			t.Parallel()
			server, _, _, client, stalls := pair(t, k.wrap, false)
			const size = 4 << 20
			read := make(chan error, 1)
			go func() {
				b, err := io.ReadAll(client) // nil at close_notify
				if err == nil && len(b) != size {
					err = errors.New("short answer")
				}
				read <- err
			}()
			if _, err := server.Write(make([]byte, size)); err != nil {
				t.Fatalf("a write to a client that reads: %v", err)
			}
			if err := server.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
			if err := <-read; err != nil {
				t.Errorf("the client's read: %v, want the answer and close_notify", err)
			}
			if n := stalls.Load(); n != 0 {
				t.Errorf("%d stalls reported, want none", n)
			}
		})
	}
}

// fillSocket writes c's socket full (EAGAIN) beneath whatever wraps it:
// bytes its peer never reads.
func fillSocket(t *testing.T, c *net.TCPConn) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 64<<10)
	var werr error
	if err := rc.Control(func(fd uintptr) {
		for {
			_, err := syscall.Write(int(fd), junk)
			if err == syscall.EAGAIN {
				return
			}
			if err != nil && err != syscall.EINTR {
				werr = err
				return
			}
		}
	}); err != nil || werr != nil {
		t.Fatalf("filling the socket: %v, %v", err, werr)
	}
}

// readPauses is how a test's reader, which means to read steadily, did:
// the longest time it took for span reads (one when zero), so far, and
// including the span it is in. On a loaded machine its goroutine can be
// held so long that the writer, which waits for several reads' worth to
// go out (TCP_NOTSENT_LOWAT), sees no progress for a stall timeout; then
// it did stall, as far as the writer can tell.
type readPauses struct {
	span     int
	mu       sync.Mutex
	reads    []time.Time // the last span reads' times, oldest first
	mostSeen time.Duration
}

// read notes a read (or the start).
func (p *readPauses) read() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if len(p.reads) > 0 {
		p.mostSeen = max(p.mostSeen, now.Sub(p.reads[0]))
	}
	p.reads = append(p.reads, now)
	if len(p.reads) > max(p.span, 1) {
		p.reads = p.reads[1:]
	}
}

// longest is the longest span, the current one included.
func (p *readPauses) longest() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reads) == 0 {
		return 0
	}
	return max(p.mostSeen, time.Since(p.reads[0]))
}

package gateway

import (
	"errors"
	"io"
	"math"
	"net"
	"os"
	"testing"
	"time"
)

// TestWriteStall checks the client connections' write stall, in both
// forms: clientConn's (a rawTCPConn on Linux, which arms the deadline
// only when a write waits) and writeStallConn (other platforms, which
// sets it around every write). Small socket buffers on both sides make a
// large write wait at once.
func TestWriteStall(t *testing.T) {
	const stall = 300 * time.Millisecond
	wraps := map[string]func(net.Conn) net.Conn{
		"clientConn":     func(c net.Conn) net.Conn { return clientConn(c, stall) },
		"writeStallConn": func(c net.Conn) net.Conn { return &writeStallConn{Conn: c, stall: stall} },
	}
	big := make([]byte, 16<<20)
	pair := func(t *testing.T, wrap func(net.Conn) net.Conn) (net.Conn, *net.TCPConn) {
		c, peer := tcpPairOf(t, func(c net.Conn) net.Conn {
			c.(*net.TCPConn).SetWriteBuffer(64 << 10)
			return wrap(c)
		})
		peer.SetReadBuffer(64 << 10)
		return c, peer
	}
	for name, wrap := range wraps {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Run("stalled", func(t *testing.T) {
				t.Parallel()
				c, _ := pair(t, wrap)
				start := time.Now()
				n, err := c.Write(big)
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("a write the peer takes nothing of: %d bytes, %v; want a deadline error", n, err)
				}
				if waited := time.Since(start); waited < stall {
					t.Errorf("it gave up after %v, before the stall timeout", waited)
				}
			})
			t.Run("slow reader", func(t *testing.T) {
				t.Parallel()
				// The twin: a peer that takes some every stall/3 is
				// slow, not stalled. On a loaded machine the peer's
				// goroutine can itself be held longer than the stall
				// timeout between two reads: then it did stall, and
				// the write's end shows nothing; the run is made
				// again (the peer measures its own longest pause).
				for attempt := 1; ; attempt++ {
					c, peer := pair(t, wrap)
					start := time.Now()
					gap := make(chan time.Duration, 1)
					go func() {
						buf := make([]byte, 64<<10)
						last, most := start, time.Duration(0)
						defer func() { gap <- most }()
						for {
							time.Sleep(stall / 3)
							// A whole 64 KiB each time: a Read may return
							// less, and a client that takes less than
							// about half of stallNotSentLowat per stall
							// timeout is stalled (rawio_linux.go).
							_, err := io.ReadFull(peer, buf)
							now := time.Now() // after an error too: the pause the write ended in
							most, last = max(most, now.Sub(last)), now
							if err != nil {
								return
							}
						}
					}()
					n, err := c.Write(big[:1<<20])
					c.Close()
					peer.Close()
					most := <-gap
					switch {
					case err == nil:
						return
					case most < stall:
						t.Fatalf("a write to a slow reader, which never paused %v: %d bytes, %v", stall, n, err)
					case attempt == 5:
						t.Skipf("the peer was held past the stall timeout in each of %d runs (last: %v): a machine too busy to show the twin", attempt, most)
					}
					t.Logf("run %d: the peer was held %v between reads, past the stall timeout; again", attempt, most)
				}
			})
			t.Run("outside deadline interrupts", func(t *testing.T) {
				t.Parallel()
				c, _ := pair(t, func(c net.Conn) net.Conn {
					// An hour's stall: only the outside deadline can end
					// the write.
					if name == "clientConn" {
						return clientConn(c, time.Hour)
					}
					return &writeStallConn{Conn: c, stall: time.Hour}
				})
				done := make(chan error, 1)
				go func() { _, err := c.Write(big); done <- err }()
				time.Sleep(100 * time.Millisecond) // waiting, under the armed stall
				c.SetWriteDeadline(aLongTimeAgo)
				if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("after a past deadline from outside: %v, want a deadline error", err)
				}
			})
			t.Run("later outside deadline", func(t *testing.T) {
				t.Parallel()
				c, _ := pair(t, wrap)
				c.SetDeadline(time.Now().Add(time.Hour))
				if _, err := c.Write(big); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("under an outside deadline an hour ahead: %v, want the stall's deadline error", err)
				}
			})
			t.Run("later outside deadline during the wait", func(t *testing.T) {
				t.Parallel()
				c, _ := pair(t, wrap)
				done := make(chan error, 1)
				go func() { _, err := c.Write(big); done <- err }()
				time.Sleep(stall / 3)
				c.SetWriteDeadline(time.Now().Add(time.Hour)) // as a server's write timeout, set anew
				if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("under an outside deadline set an hour ahead during the wait: %v, want the stall's deadline error", err)
				}
			})
			t.Run("restored after", func(t *testing.T) {
				t.Parallel()
				c, peer := pair(t, wrap)
				// A write that waits, then is taken whole: its stall
				// deadline must not outlive it.
				go func() {
					time.Sleep(stall / 3)
					io.CopyN(io.Discard, peer, 1<<20)
				}()
				if _, err := c.Write(big[:1<<20]); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * stall)
				if _, err := c.Write([]byte("x")); err != nil {
					t.Errorf("a write after the stall deadline passed, with room in the socket: %v", err)
				}
			})
		})
	}
}

// TestStreamWriteTimeout: the deadline Go's HTTP/2 server gives each
// stream from its start is two stall timeouts (the margin for the
// guard's first tick, at half of one), never past write-timeout; when
// write-timeout is not longer than the stall timeout, the guard does not
// move it (stallGuard.movable) and it is write-timeout's.
func TestStreamWriteTimeout(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		stall, write, want time.Duration
	}{
		{0, 0, 0},                 // no guard, no bound
		{0, 5 * s, 5 * s},         // write-timeout alone
		{s, 0, 2 * s},             // the guard's margin
		{s, 3 * s, 2 * s},         // within write-timeout
		{s, 3 * s / 2, 3 * s / 2}, // write-timeout's bound first
		{s, s, s},                 // write-timeout's, not movable
		{2 * s, s, s},             // write-timeout's, not movable
		{math.MaxInt64 / 3 * 2, 0, math.MaxInt64},
	} {
		if got := streamWriteTimeout(Limits{StallTimeout: tc.stall, WriteTimeout: tc.write}); got != tc.want {
			t.Errorf("stall-timeout %v, write-timeout %v: %v, want %v", tc.stall, tc.write, got, tc.want)
		}
	}
}

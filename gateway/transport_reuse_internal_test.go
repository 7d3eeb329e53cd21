package gateway

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestWatchedConn: awaitRead returns once a read is in progress, or the
// connection is closed, or the context ends, and not before; CloseWrite
// reaches the TCP connection (a tunnel's half-close).
func TestWatchedConn(t *testing.T) {
	pair := func(t *testing.T) (*watchedConn, net.Conn) {
		c, peer := tcpPairOf(t, func(c net.Conn) net.Conn { return newWatchedConn(c) })
		wc := c.(*watchedConn)
		t.Cleanup(func() { wc.Close() }) // ends a wait left running
		return wc, peer
	}
	returns := func(f func()) <-chan struct{} {
		done := make(chan struct{})
		go func() { f(); close(done) }()
		return done
	}
	// waited checks that awaitRead returned (within 10 s: a hang guard),
	// or, !want, that it had not 50 ms on (it never may).
	waited := func(t *testing.T, done <-chan struct{}, want bool) {
		t.Helper()
		wait := 50 * time.Millisecond
		if want {
			wait = 10 * time.Second
		}
		select {
		case <-done:
			if !want {
				t.Fatal("awaitRead returned with no read in progress")
			}
		case <-time.After(wait):
			if want {
				t.Fatal("awaitRead still waits")
			}
		}
	}

	t.Run("a read starts", func(t *testing.T) {
		wc, peer := pair(t)
		done := returns(func() { wc.awaitRead(context.Background()) })
		waited(t, done, false) // the twin: nothing reads yet
		go wc.Read(make([]byte, 1))
		waited(t, done, true)
		peer.Write([]byte("x"))
	})
	t.Run("closed", func(t *testing.T) {
		wc, _ := pair(t)
		done := returns(func() { wc.awaitRead(context.Background()) })
		wc.Close()
		waited(t, done, true)
	})
	t.Run("context ends", func(t *testing.T) {
		wc, _ := pair(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := returns(func() { wc.awaitRead(ctx) })
		cancel()
		waited(t, done, true)
	})
	t.Run("a read that ended is not one in progress", func(t *testing.T) {
		wc, peer := pair(t)
		peer.Write([]byte("x"))
		if _, err := wc.Read(make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		waited(t, returns(func() { wc.awaitRead(context.Background()) }), false)
	})
	t.Run("CloseWrite", func(t *testing.T) {
		wc, peer := pair(t)
		if err := wc.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		peer.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("the peer read %d, %v after CloseWrite, want EOF", n, err)
		}
	})
}

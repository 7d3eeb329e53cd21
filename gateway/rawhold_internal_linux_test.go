package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// holdPair is a loopback pair whose dialed side is a rawTCPConn.
func holdPair(t *testing.T) (*rawTCPConn, *net.TCPConn) {
	t.Helper()
	c, peer := tcpPairOf(t, rawSyscallConn)
	rc, ok := c.(*rawTCPConn)
	if !ok {
		t.Fatalf("rawSyscallConn gave %T, want *rawTCPConn", c)
	}
	return rc, peer
}

// quiet reports what peer received within a short wait: "" when
// nothing, else the bytes, "EOF" when closed.
func quiet(t *testing.T, peer *net.TCPConn) string {
	t.Helper()
	peer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	defer peer.SetReadDeadline(time.Time{})
	b := make([]byte, 64)
	n, err := peer.Read(b)
	switch {
	case n > 0:
		return string(b[:n])
	case err == io.EOF:
		return "EOF"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return ""
	}
	t.Fatalf("peer read: %v", err)
	return ""
}

// answer reads want from peer, then writes reply.
func answer(t *testing.T, peer *net.TCPConn, want, reply string) <-chan string {
	got := make(chan string, 1)
	go func() {
		b := make([]byte, len(want))
		if _, err := io.ReadFull(peer, b); err != nil {
			got <- "peer: " + err.Error()
			return
		}
		peer.Write([]byte(reply))
		got <- string(b)
	}()
	return got
}

// readWithin reads what c has, failing on a hang (10 s: no byte that
// arrived may be missed by the wait).
func readWithin(t *testing.T, c net.Conn, n int) (string, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	b := make([]byte, n)
	n, err := io.ReadFull(c, b)
	return string(b[:n]), err
}

// TestHoldWrites: held writes stay in the connection until its next
// read, which writes them and then gets the answer, however fast it
// comes; each case has its twin without the hold, or with a quiet peer.
func TestHoldWrites(t *testing.T) {
	t.Run("written by the read", func(t *testing.T) {
		c, peer := holdPair(t)
		for i := range 50 {
			c.holdWrites()
			if n, err := c.Write([]byte("ping")); n != 4 || err != nil {
				t.Fatalf("held write: %d, %v", n, err)
			}
			if i == 0 {
				if got := quiet(t, peer); got != "" {
					t.Fatalf("before the read the peer got %q, want nothing", got)
				}
			}
			// The peer answers as soon as it has the request: the
			// answer may come before the read waits, and must wake it.
			sent := answer(t, peer, "ping", "pong")
			got, err := readWithin(t, c, 4)
			if got != "pong" || err != nil {
				t.Fatalf("exchange %d: read %q, %v, want pong", i, got, err)
			}
			if s := <-sent; s != "ping" {
				t.Fatalf("exchange %d: the peer got %q", i, s)
			}
		}
		// The twin: not held, the peer has the bytes before any read.
		c.Write([]byte("now"))
		if got := quiet(t, peer); got != "now" {
			t.Errorf("without the hold the peer got %q, want now", got)
		}
	})

	// The twin of the cases after it: a quiet peer gets the request.
	t.Run("peek: a quiet peer gets the request", func(t *testing.T) {
		c, peer := holdPair(t)
		c.holdWrites()
		c.Write([]byte("GET"))
		sent := answer(t, peer, "GET", "200")
		if got, err := readWithin(t, c, 3); got != "200" || err != nil {
			t.Fatalf("read %q, %v, want 200", got, err)
		}
		if s := <-sent; s != "GET" {
			t.Errorf("the peer got %q, want GET", s)
		}
	})

	for _, tc := range []struct {
		name string
		act  func(peer *net.TCPConn)
	}{
		{"unasked bytes", func(peer *net.TCPConn) { peer.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n")) }},
		{"half-closed", func(peer *net.TCPConn) { peer.CloseWrite() }},
		{"reset", func(peer *net.TCPConn) { peer.SetLinger(0); peer.Close() }},
	} {
		t.Run("peek: "+tc.name+": nothing written", func(t *testing.T) {
			c, peer := holdPair(t)
			tc.act(peer)
			waitReadable(t, c)
			c.holdWrites()
			c.Write([]byte("POST"))
			if _, err := readWithin(t, c, 1); !errors.Is(err, errPeerSpoke) {
				t.Fatalf("read: %v, want errPeerSpoke", err)
			}
			if tc.name != "reset" {
				if got := quiet(t, peer); got != "" {
					t.Errorf("the peer got %q, want nothing", got)
				}
			}
			if tc.name == "unasked bytes" {
				// The peek took nothing: the bytes are still there.
				if got, err := readWithin(t, c, 8); got != "HTTP/1.1" || err != nil {
					t.Errorf("after the peek: read %q, %v, want HTTP/1.1", got, err)
				}
			}
		})
	}

	t.Run("a failed held write is the read's error", func(t *testing.T) {
		c, _ := holdPair(t)
		c.TCPConn.CloseWrite() // net's: no more writes on this side
		c.holdWrites()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("held write: %v", err)
		}
		_, err := c.Read(make([]byte, 1))
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "write" || !errors.Is(err, syscall.EPIPE) {
			t.Fatalf("read: %v, want the write's broken pipe", err)
		}
	})

	t.Run("Close drops what is held", func(t *testing.T) {
		c, peer := holdPair(t)
		c.holdWrites()
		c.Write([]byte("POST"))
		c.Close()
		if got, _ := io.ReadAll(peer); len(got) != 0 {
			t.Errorf("the peer got %q, want nothing", got)
		}
	})

	t.Run("CloseWrite writes what is held", func(t *testing.T) {
		c, peer := holdPair(t)
		c.holdWrites()
		c.Write([]byte("last"))
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(peer); string(got) != "last" {
			t.Errorf("the peer got %q, want last", got)
		}
		peer.Write([]byte("ok"))
		if got, err := readWithin(t, c, 2); got != "ok" || err != nil {
			t.Errorf("read after: %q, %v", got, err)
		}
	})

	t.Run("ReadFrom writes what is held first", func(t *testing.T) {
		c, peer := holdPair(t)
		c.holdWrites()
		c.Write([]byte("head "))
		// io.Copy to the connection goes through ReadFrom (the source
		// has no WriteTo); net's alone would send "body" before the held
		// "head ".
		src := struct{ io.Reader }{strings.NewReader("body")}
		if n, err := io.Copy(c, src); n != 4 || err != nil {
			t.Fatalf("io.Copy: %d, %v", n, err)
		}
		c.TCPConn.CloseWrite()
		if got, _ := io.ReadAll(peer); string(got) != "head body" {
			t.Errorf("the peer got %q, want %q", got, "head body")
		}
	})

	t.Run("WriteTo writes what is held first", func(t *testing.T) {
		c, peer := holdPair(t)
		c.holdWrites()
		c.Write([]byte("ping"))
		sent := answer(t, peer, "ping", "pong")
		go func() { <-sent; peer.CloseWrite() }()
		// io.Copy from the connection goes through WriteTo (the
		// destination has no ReadFrom); net's alone would wait for an
		// answer to a request never sent.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var got strings.Builder
		if _, err := io.Copy(struct{ io.Writer }{&got}, c); err != nil || got.String() != "pong" {
			t.Errorf("io.Copy: %q, %v, want pong", got.String(), err)
		}
	})

	t.Run("more than holdMax goes at once, in order", func(t *testing.T) {
		c, peer := holdPair(t)
		c.holdWrites()
		a := bytes.Repeat([]byte("a"), holdMax-10)
		b := bytes.Repeat([]byte("b"), 20)
		c.Write(a)
		if got := quiet(t, peer); got != "" {
			t.Fatalf("the peer got bytes before the overflow")
		}
		c.Write(b)
		got := make([]byte, len(a)+len(b))
		if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, append(a, b...)) {
			t.Fatalf("the peer got %d bytes, %v, want a then b", len(got), err)
		}
		peer.Write([]byte("k"))
		if got, err := readWithin(t, c, 1); got != "k" || err != nil {
			t.Errorf("read: %q, %v", got, err)
		}
	})

	t.Run("a full socket: the rest after room, then the answer", func(t *testing.T) {
		c, peer := holdPair(t)
		c.SetWriteBuffer(1) // the kernel's minimum
		peer.SetReadBuffer(1)
		// Fill the socket (net's writes, not held) until it takes no
		// more, so that the held write finds it full.
		var filler []byte
		chunk := bytes.Repeat([]byte("f"), 4096)
		c.TCPConn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		for {
			n, err := c.TCPConn.Write(chunk)
			filler = append(filler, chunk[:n]...)
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatal(err)
				}
				break
			}
		}
		c.TCPConn.SetWriteDeadline(time.Time{})
		big := []byte(strings.Repeat("0123456789abcdef", holdMax/16))
		c.holdWrites()
		c.Write(big)
		got := make(chan []byte, 1)
		go func() {
			time.Sleep(50 * time.Millisecond) // the read finds the socket full
			b := make([]byte, len(filler)+len(big))
			io.ReadFull(peer, b)
			peer.Write([]byte("done"))
			got <- b
		}()
		if s, err := readWithin(t, c, 4); s != "done" || err != nil {
			t.Fatalf("read %q, %v, want done", s, err)
		}
		if b := <-got; !bytes.Equal(b, append(filler, big...)) {
			t.Error("the peer did not get the filler and the held bytes whole and in order")
		}
	})

	t.Run("a read that fails first keeps what is held", func(t *testing.T) {
		c, peer := holdPair(t)
		c.holdWrites()
		c.Write([]byte("req"))
		c.SetReadDeadline(aLongTimeAgo)
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read past its deadline: %v", err)
		}
		if got := quiet(t, peer); got != "" {
			t.Fatalf("the peer got %q, want nothing yet", got)
		}
		sent := answer(t, peer, "req", "res")
		if got, err := readWithin(t, c, 3); got != "res" || err != nil {
			t.Fatalf("next read: %q, %v", got, err)
		}
		<-sent
	})
}

// waitReadable waits until c's socket has something to read: bytes, a
// close or a reset from the peer.
func waitReadable(t *testing.T, c *rawTCPConn) {
	t.Helper()
	var buf [1]byte
	for deadline := time.Now().Add(10 * time.Second); ; {
		var errno syscall.Errno
		c.rc.Control(func(fd uintptr) { errno = peekSocket(fd, &buf) })
		if errno != syscall.EAGAIN {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing from the peer after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHoldWritesSavesARead: an exchange whose request is held makes one
// read(2) fewer than one written first (counted in /proc/self/io's
// syscr): the read that would find no answer yet.
func TestHoldWritesSavesARead(t *testing.T) {
	const exchanges = 100
	count := func(hold bool) int {
		c, peer := holdPair(t)
		go func() {
			b := make([]byte, 4)
			for range exchanges {
				if _, err := io.ReadFull(peer, b); err != nil {
					return
				}
				time.Sleep(200 * time.Microsecond) // the answer comes after the read
				peer.Write([]byte("pong"))
			}
		}()
		b := make([]byte, 4)
		before := syscr(t)
		for range exchanges {
			if hold {
				c.holdWrites()
			}
			c.Write([]byte("ping"))
			if _, err := io.ReadFull(c, b); err != nil {
				t.Fatal(err)
			}
		}
		return syscr(t) - before
	}
	plain, held := count(false), count(true)
	t.Logf("read calls of the process: %d written first, %d held", plain, held)
	if held > plain-exchanges/2 {
		t.Errorf("held exchanges made %d read calls, written-first ones %d: want about %d fewer", held, plain, exchanges)
	}
}

// syscr is the process's read calls so far.
func syscr(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no read count: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no syscr in /proc/self/io")
	return 0
}

// TestExchangeHeldRequestNotSent: a request held for its answer's read
// (holdWrites) that did not go out, because the upstream spoke first or
// the write failed, may go again on another connection when this one
// came from the pool (reused), whatever its method, as after a failed
// write; on a new connection the upstream is broken: no retry (else the
// gateway would dial again and again). The twin: a quiet upstream
// answers the request.
func TestExchangeHeldRequestNotSent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		act       func(t *testing.T, pc *upConn, up *net.TCPConn)
		reused    bool
		wantErr   string // "" answered
		wantRetry bool
		unsent    bool // the upstream must get nothing
	}{
		{"quiet upstream", func(*testing.T, *upConn, *net.TCPConn) {}, true, "", false, false},
		{"spoke first, pooled", spokeFirst, true, errPeerSpoke.Error(), true, true},
		{"spoke first, new", spokeFirst, false, errPeerSpoke.Error(), false, true},
		{"write failed, pooled", writeFails, true, "broken pipe", true, false},
		{"write failed, new", writeFails, false, "broken pipe", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc, up := peekPair(t)
			if pc.holder == nil {
				t.Skip("connections here cannot hold their writes")
			}
			pc.reused = tc.reused
			tc.act(t, pc, up)
			got := make(chan string, 1)
			go func() {
				up.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				b, _ := io.ReadAll(io.LimitReader(up, 17))
				if string(b) == "POST /x HTTP/1.1\r" {
					io.WriteString(up, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
				}
				got <- string(b)
			}()
			tr := newUpstreamTransport(Limits{}, nil, nil)
			req, _ := http.NewRequest("POST", "http://"+up.LocalAddr().String()+"/x", nil)
			resp, err, retry := tr.exchange(context.Background(), tr.host(up.LocalAddr().String()), pc, req, true, nil, nil)
			sent := <-got
			if tc.wantErr == "" {
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("got %v, %v, want the answer", resp, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || retry != tc.wantRetry {
				t.Errorf("got error %v, retry %v; want an error with %q, retry %v", err, retry, tc.wantErr, tc.wantRetry)
			}
			if tc.unsent && sent != "" {
				t.Errorf("the upstream got %q, want nothing", sent)
			}
		})
	}
}

// spokeFirst has the upstream answer before any request, and waits
// until the gateway's socket has it.
func spokeFirst(t *testing.T, pc *upConn, up *net.TCPConn) {
	io.WriteString(up, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
	waitNotAlive(t, pc)
}

// writeFails shuts the gateway's side for writing (net's, under the
// hold), so that the held write fails after a quiet peek.
func writeFails(t *testing.T, pc *upConn, _ *net.TCPConn) {
	if err := pc.conn.(*rawTCPConn).TCPConn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

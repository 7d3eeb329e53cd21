package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestRawTCPConnLikeNet: rawTCPConn's Read and Write give what net's
// give, error for error, over real loopback sockets: data both ways, a
// write larger than the socket buffers (the EAGAIN wait), the peer's
// close (io.EOF), a reset (read, and zero-length and other writes after
// it), a deadline (os.ErrDeadlineExceeded, a timeout, the connection
// usable after it), a closed connection (net.ErrClosed), a Read blocked
// while the connection is written, its deadline passes or it is closed,
// zero-length calls. The plain *net.TCPConn is the twin every case is compared with.
func TestRawTCPConnLikeNet(t *testing.T) {
	plain := func(c net.Conn) net.Conn { return c }
	if _, ok := rawSyscallConn(&net.TCPConn{}).(*rawTCPConn); ok {
		t.Fatal("a TCPConn without a descriptor was wrapped")
	}
	cases := []struct {
		name string
		run  func(t *testing.T, c net.Conn, peer *net.TCPConn) string
	}{
		{"echo", func(t *testing.T, c net.Conn, peer *net.TCPConn) string {
			if n, err := c.Write([]byte("ping")); n != 4 || err != nil {
				return fmt.Sprintf("write: %d %v", n, err)
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(peer, buf); err != nil {
				t.Fatal(err)
			}
			peer.Write([]byte("pong!"))
			got, err := io.ReadAll(io.LimitReader(c, 5))
			return fmt.Sprintf("peer got %q; read %q %v", buf, got, err)
		}},
		{"large write", func(t *testing.T, c net.Conn, peer *net.TCPConn) string {
			big := []byte(strings.Repeat("0123456789abcdef", 1<<18)) // 4 MiB
			var wg sync.WaitGroup
			var got []byte
			wg.Go(func() { got, _ = io.ReadAll(io.LimitReader(peer, int64(len(big)))) })
			n, err := c.Write(big)
			wg.Wait()
			return fmt.Sprintf("wrote %d %v; peer got all: %v", n, err, string(got) == string(big))
		}},
		{"peer closes", func(t *testing.T, c net.Conn, peer *net.TCPConn) string {
			peer.Write([]byte("bye"))
			peer.Close()
			got, err := io.ReadAll(c)
			n, err2 := c.Read(make([]byte, 1))
			return fmt.Sprintf("%q %v; again %d %v", got, err, n, err2)
		}},
		{"reset", func(t *testing.T, c net.Conn, peer *net.TCPConn) string {
			peer.SetLinger(0)
			peer.Close()
			time.Sleep(50 * time.Millisecond)
			n, err := c.Read(make([]byte, 1))
			var se *os.SyscallError
			return fmt.Sprintf("%d %v; ECONNRESET %v; SyscallError %v", n, errText(err, c), errors.Is(err, syscall.ECONNRESET), errors.As(err, &se))
		}},
		{"deadline", func(t *testing.T, c net.Conn, peer *net.TCPConn) string {
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			n, err := c.Read(make([]byte, 1))
			var ne net.Error
			timeout := errors.As(err, &ne) && ne.Timeout()
			past := errors.Is(err, os.ErrDeadlineExceeded)
			c.SetWriteDeadline(time.Now().Add(-time.Second))
			wn, werr := c.Write([]byte("x"))
			c.SetDeadline(time.Time{})
			peer.Write([]byte("z"))
			buf := make([]byte, 1)
			rn, rerr := c.Read(buf)
			return fmt.Sprintf("%d %v timeout %v past %v; write %d %v; after %d %q %v",
				n, errText(err, c), timeout, past, wn, errText(werr, c), rn, buf, rerr)
		}},
		{"closed", func(t *testing.T, c net.Conn, peer *net.TCPConn) string {
			c.Close()
			n, err := c.Read(make([]byte, 1))
			wn, werr := c.Write([]byte("x"))
			zn, zerr := c.Read(nil)
			return fmt.Sprintf("%d %v %v; write %d %v %v; zero %d %v",
				n, errText(err, c), errors.Is(err, net.ErrClosed), wn, errText(werr, c), errors.Is(werr, net.ErrClosed), zn, errText(zerr, c))
		}},
		{"zero length", func(t *testing.T, c net.Conn, peer *net.TCPConn) string {
			n, err := c.Read(nil)
			wn, werr := c.Write(nil)
			return fmt.Sprintf("%d %v; %d %v", n, err, wn, werr)
		}},
		{"blocked read", func(t *testing.T, c net.Conn, peer *net.TCPConn) string {
			// A Read waiting for data blocks neither a Write nor the
			// deadline or Close that ends it.
			read := func() chan string {
				done := make(chan string, 1)
				go func() {
					n, err := c.Read(make([]byte, 1))
					done <- fmt.Sprintf("%d %v", n, errText(err, c))
				}()
				time.Sleep(20 * time.Millisecond) // let it block (the results do not depend on it)
				return done
			}
			first := read()
			wn, werr := c.Write([]byte("w"))
			buf := make([]byte, 1)
			io.ReadFull(peer, buf)
			c.SetReadDeadline(time.Now().Add(-time.Second))
			byDeadline := <-first
			c.SetReadDeadline(time.Time{})
			second := read()
			c.Close()
			return fmt.Sprintf("write %d %v, peer got %q; deadline: %s; close: %s", wn, werr, buf, byDeadline, <-second)
		}},
		{"write after reset", func(t *testing.T, c net.Conn, peer *net.TCPConn) string {
			// net's zero-length Write too makes its write(2), which
			// reports the reset; the next write finds the pipe broken.
			peer.SetLinger(0)
			peer.Close()
			time.Sleep(50 * time.Millisecond)
			wn, werr := c.Write(nil)
			n, err := c.Write([]byte("x"))
			return fmt.Sprintf("%d %v; then %d %v", wn, errText(werr, c), n, errText(err, c))
		}},
		{"concurrent", func(t *testing.T, c net.Conn, peer *net.TCPConn) string {
			// Reads and writes of two goroutines each at once, as a
			// handler's body writer and reader may: every byte arrives.
			const each = 1 << 16
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					chunk := []byte(strings.Repeat(string(rune('a'+i)), 512))
					for range each / len(chunk) {
						c.Write(chunk)
					}
				})
			}
			go func() { peer.Write(make([]byte, 2*each)) }()
			var read int
			var mu sync.Mutex
			for range 2 {
				wg.Go(func() {
					buf := make([]byte, 1000)
					for {
						mu.Lock()
						done := read >= 2*each
						mu.Unlock()
						if done {
							return
						}
						c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
						n, err := c.Read(buf)
						mu.Lock()
						read += n
						mu.Unlock()
						if err != nil {
							return
						}
					}
				})
			}
			got, _ := io.ReadAll(io.LimitReader(peer, 2*each))
			wg.Wait()
			return fmt.Sprintf("peer got %d a %d b; read %d", strings.Count(string(got), "a"), strings.Count(string(got), "b"), read)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cn, pn := tcpPairOf(t, plain)
			want := tc.run(t, cn, pn)
			cr, pr := tcpPairOf(t, rawSyscallConn)
			if _, ok := cr.(*rawTCPConn); !ok {
				t.Fatalf("rawSyscallConn gave %T, want *rawTCPConn", cr)
			}
			if got := tc.run(t, cr, pr); got != want {
				t.Errorf("raw: %s\nnet: %s", got, want)
			}
		})
	}
}

// errText is err's text with c's addresses (different for each pair)
// taken out.
func errText(err error, c net.Conn) string {
	if err == nil {
		return "<nil>"
	}
	s := strings.ReplaceAll(err.Error(), c.LocalAddr().String(), "LOCAL")
	return fmt.Sprintf("%T %s", err, strings.ReplaceAll(s, c.RemoteAddr().String(), "REMOTE"))
}

// TestRawTCPConnNoSyscallState: the gateway's own connections make their
// reads and writes without entering the runtime's system call state, so
// that sysmon has no P to take: a client connection (under the TLS
// listener) and an upstream connection are rawTCPConns.
func TestRawTCPConnNoSyscallState(t *testing.T) {
	ca := pkitest.CA(t)
	srv := &http.Server{TLSConfig: &tls.Config{Certificates: []tls.Certificate{pkitest.Server(t, ca).TLSCertificate()}}}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := newTLSListener(inner, srv, nil)
	defer tl.Close()
	go func() {
		if c, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}); err == nil {
			defer c.Close()
			c.Read(make([]byte, 1)) // until the server closes
		}
	}()
	cc, err := tl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if fc, ok := cc.(*framingConn); !ok {
		t.Errorf("client connection is %T, want *framingConn", cc)
	} else if bc, ok := fc.NetConn().(*batchConn); !ok {
		t.Errorf("below TLS: %T, want *batchConn", fc.NetConn())
	} else if _, ok := bc.Conn.(*rawTCPConn); !ok {
		t.Errorf("client connection is %T, want *rawTCPConn", bc.Conn)
	}

	tr := newUpstreamTransport(Limits{}, &http.Transport{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	pc, err := tr.dialAddr(t.Context(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.conn.Close()
	if _, ok := pc.conn.(*rawTCPConn); !ok {
		t.Errorf("upstream connection is %T, want *rawTCPConn", pc.conn)
	}
}

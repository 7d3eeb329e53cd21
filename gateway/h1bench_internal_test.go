package gateway

import (
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"testing"
	"time"
)

// loopConn is a connection that sends the same request n times, then
// EOF, and takes every answer in.
type loopConn struct {
	req  []byte
	left int // bytes still to send
	off  int
}

func (c *loopConn) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), c.left)]
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.req[c.off:])
		n += k
		c.off = (c.off + k) % len(c.req)
	}
	c.left -= n
	return n, nil
}

func (c *loopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *loopConn) Close() error                     { return nil }
func (c *loopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *loopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *loopConn) SetDeadline(time.Time) error      { return nil }
func (c *loopConn) SetReadDeadline(time.Time) error  { return nil }
func (c *loopConn) SetWriteDeadline(time.Time) error { return nil }

var benchEscape []any

// BenchmarkH1ProxiedAnswer: the h1Server's work per keep-alive request
// for a proxied answer as the direct path gives it (a header from
// http.ReadResponse, the hop-by-hop fields removed, handed to the
// writer through the recorder, a short body), without TLS or sockets:
// what the answer costs the server, and what it allocates.
//
//	go test -run '^$' -bench BenchmarkH1ProxiedAnswer -benchmem ./gateway
func BenchmarkH1ProxiedAnswer(b *testing.B) {
	body := []byte("ok\n")
	for _, bc := range []struct {
		name, req string
	}{
		{"GET", "GET /api/items HTTP/1.1\r\nHost: a.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"},
		{"POST", "POST /api/items HTTP/1.1\r\nHost: a.test\r\nUser-Agent: bench\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\n\r\namount=1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := &directProxy{rp: &httputil.ReverseProxy{ErrorLog: log.New(io.Discard, "", 0)}}
			handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				rec := &recorder{ResponseWriter: w}
				h := http.Header{
					"Content-Length": {"3"},
					"Content-Type":   {"text/plain; charset=utf-8"},
					"Date":           {"Thu, 03 Dec 2026 08:00:13 GMT"},
				}
				benchEscape = append(benchEscape[:0], rec, h) // on the heap, as in the gateway
				removeHopByHopHeaders(h)
				if !adoptHeader(rec, h) {
					copyHeaders(rec.Header(), h)
				}
				rec.WriteHeader(http.StatusOK)
				p.copyResponse(rec, bytes.NewReader(body), false, int64(len(body)))
			})
			s := newH1Server(&http.Server{Handler: handler})
			b.ReportAllocs()
			b.ResetTimer()
			s.ServeConn(&loopConn{req: []byte(bc.req), left: b.N * len(bc.req)})
		})
	}
}

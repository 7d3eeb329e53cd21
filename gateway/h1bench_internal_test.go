package gateway

import (
	"bytes"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
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
	for _, bc := range h1ProxiedRequests {
		b.Run(bc.name, func(b *testing.B) {
			s := newH1Server(&http.Server{Handler: proxiedAnswerHandler()})
			b.ReportAllocs()
			b.ResetTimer()
			s.ServeConn(&loopConn{req: []byte(bc.req), left: b.N * len(bc.req)})
		})
	}
}

var h1ProxiedRequests = []struct {
	name, req string
}{
	{"GET", "GET /api/items HTTP/1.1\r\nHost: a.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"},
	{"POST", "POST /api/items HTTP/1.1\r\nHost: a.test\r\nUser-Agent: bench\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\n\r\namount=1"},
}

// proxiedAnswerHandler answers as the direct path does (see
// BenchmarkH1ProxiedAnswer).
func proxiedAnswerHandler() http.Handler {
	body := []byte("ok\n")
	p := &directProxy{rp: &httputil.ReverseProxy{ErrorLog: log.New(io.Discard, "", 0)}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		rec := withKeptHeaders(&recorder{ResponseWriter: w}, nil) // directProxy.ServeHTTP's
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
}

// TestH1ProxiedAnswerAllocs: the h1Server's allocations per keep-alive
// request with a proxied answer (BenchmarkH1ProxiedAnswer's GET), the
// handler's own three included (counted without the race detector).
// Among what it does not allocate: the response's header map, which the
// adopted answer header replaces (h1Response.Header makes it only when
// asked for, and withKeptHeaders does not ask).
func TestH1ProxiedAnswerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector (its sync.Pool drops items)")
	}
	const want = 17
	req := []byte(h1ProxiedRequests[0].req)
	serve := func(n int) float64 {
		return testing.AllocsPerRun(20, func() {
			s := newH1Server(&http.Server{Handler: proxiedAnswerHandler()})
			s.ServeConn(&loopConn{req: req, left: n * len(req)})
		})
	}
	// Per request: the connection's own allocations cancel out, and
	// rounding what the runtime allocates now and then (about 0.01).
	if got := math.Round((serve(200) - serve(100)) / 100); got > want {
		t.Errorf("got %v allocations per request, want at most %d", got, want)
	}
}

// TestHandlerStart: under the gateway's own HTTP/1.x server, serveHTTP's
// start is the client watch's clock read for that request, not a read of
// its own; with the watch off, and under another server, it reads the
// clock.
func TestHandlerStart(t *testing.T) {
	for _, watchOff := range []bool{false, true} {
		var prev time.Time
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			before := time.Now()
			got := handlerStart(w)
			cr := &w.(*h1Response).conn.r
			cr.mu.Lock()
			watchedAt := cr.watchedAt
			cr.mu.Unlock()
			switch {
			case !watchOff && !got.Equal(watchedAt):
				t.Errorf("watch on: got %v, want the watch's clock read %v", got, watchedAt)
			case !watchOff && !got.After(prev):
				t.Errorf("watch on: got %v, not after the last request's start %v", got, prev)
			case watchOff && got.Before(before):
				t.Errorf("watch off: got %v, before the handler ran (%v)", got, before)
			}
			prev = time.Now()
		})
		s := newH1Server(&http.Server{Handler: h})
		if watchOff {
			s.checks = new(checksOff)
			s.checks[checkClientWatch].Store(true)
		}
		req := []byte(h1ProxiedRequests[0].req)
		s.ServeConn(&loopConn{req: req, left: 3 * len(req)})
	}
	before := time.Now()
	if got := handlerStart(httptest.NewRecorder()); got.Before(before) {
		t.Errorf("another writer: got %v, before the call (%v)", got, before)
	}
}

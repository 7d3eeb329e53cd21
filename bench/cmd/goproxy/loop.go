package main

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync"
)

// serveLoop is the floor without net/http's server: one goroutine per
// connection reading requests with http.ReadRequest, writing them upstream
// with (*http.Request).Write over a pool of connections and the answer back
// with (*http.Response).Write. No checks, no hop-by-hop handling: a
// measurement of the standard library's parsers and writers alone.
func serveLoop(ln net.Listener, cfg *tls.Config, upAddr string) error {
	pool := &loopPool{addr: upAddr}
	return acceptLoop(ln, cfg, pool.proxy)
}

// acceptLoop serves each connection ln accepts as TLS, in a goroutine of
// its own: after the handshake, it reads requests with http.ReadRequest
// and answers each with serve (given the connection), which returns false
// to close it. Answers are flushed when no further request is buffered.
func acceptLoop(ln net.Listener, cfg *tls.Config, serve func(c net.Conn, req *http.Request, bw *bufio.Writer) bool) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go loopConn(tls.Server(c, cfg), serve)
	}
}

func loopConn(c *tls.Conn, serve func(c net.Conn, req *http.Request, bw *bufio.Writer) bool) {
	defer c.Close()
	if err := c.Handshake(); err != nil {
		return
	}
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if !serve(c, req, bw) {
			return
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

type loopUp struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

type loopPool struct {
	addr string
	mu   sync.Mutex
	idle []*loopUp
}

func (p *loopPool) get() (*loopUp, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		u := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return u, nil
	}
	p.mu.Unlock()
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		return nil, err
	}
	return &loopUp{c: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c)}, nil
}

func (p *loopPool) put(u *loopUp) {
	p.mu.Lock()
	p.idle = append(p.idle, u)
	p.mu.Unlock()
}

// proxy writes req to a pooled upstream connection and its answer to bw.
func (p *loopPool) proxy(_ net.Conn, req *http.Request, bw *bufio.Writer) bool {
	u, err := p.get()
	if err != nil {
		return false
	}
	if err := req.Write(u.bw); err != nil {
		u.c.Close()
		return false
	}
	if err := u.bw.Flush(); err != nil {
		u.c.Close()
		return false
	}
	resp, err := http.ReadResponse(u.br, req)
	if err != nil {
		u.c.Close()
		return false
	}
	err = resp.Write(bw)
	resp.Body.Close()
	p.put(u)
	return err == nil
}

// serveLoopHandler is serveLoop with an http.Handler behind a minimal
// ResponseWriter: what net/http's server costs beyond the parsing.
func serveLoopHandler(ln net.Listener, cfg *tls.Config, h http.Handler) error {
	return acceptLoop(ln, cfg, func(c net.Conn, req *http.Request, bw *bufio.Writer) bool {
		req.RemoteAddr = c.RemoteAddr().String()
		w := &loopRW{bw: bw, h: make(http.Header)}
		h.ServeHTTP(w, req)
		w.finish()
		io.Copy(io.Discard, req.Body)
		return true
	})
}

type loopRW struct {
	bw      *bufio.Writer
	h       http.Header
	wrote   bool
	chunked bool
	cw      io.WriteCloser
}

func (w *loopRW) Header() http.Header { return w.h }

func (w *loopRW) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if _, ok := w.h["Content-Length"]; !ok {
		w.chunked = true
		w.h.Set("Transfer-Encoding", "chunked")
	}
	w.bw.WriteString("HTTP/1.1 ")
	w.bw.WriteString(strconv.Itoa(code))
	w.bw.WriteByte(' ')
	w.bw.WriteString(http.StatusText(code))
	w.bw.WriteString("\r\n")
	w.h.Write(w.bw)
	w.bw.WriteString("\r\n")
	if w.chunked {
		w.cw = httputil.NewChunkedWriter(w.bw)
	}
}

func (w *loopRW) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(200)
	}
	if w.chunked {
		return w.cw.Write(p)
	}
	return w.bw.Write(p)
}

func (w *loopRW) Flush() { w.bw.Flush() }

func (w *loopRW) finish() {
	if !w.wrote {
		w.WriteHeader(200)
	}
	if w.chunked {
		w.cw.Close()
		w.bw.WriteString("\r\n")
	}
}

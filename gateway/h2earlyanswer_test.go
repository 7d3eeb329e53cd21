package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
)

// TestHTTP2EarlyAnswerResetNoError: an upstream that answers a POST
// before reading its body (a WSGI app that leaves wsgi.input unread, on
// wsgiref) gets its answer to the HTTP/2 client whole, END_STREAM
// included, and only then is the stream reset, with NO_ERROR: Go's
// server asks the client to stop sending the body it no longer needs
// (RFC 9113 §8.1), which curl 7.88 reports as error 92 when it still had
// body to send. The client sends none of its body here, so the answer
// always ends first.
func TestHTTP2EarlyAnswerResetNoError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				// The head only: the body is never read.
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nearly")
				io.Copy(io.Discard, conn) // until the gateway lets go
			}()
		}
	}()
	w, cfg := h2World(t)
	cfg.Routes[0].Upstream = "http://" + ln.Addr().String() // /api
	gw := w.start(cfg)
	h := dialH2Raw(t, gw, "localhost", w.web)
	fields := []string{":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/api/x", "accept", "application/json", "content-length", "100000"}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block(fields...), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	a, err := h.answer(1)
	if err != nil {
		t.Fatal(err)
	}
	if a.status != 200 || a.body != "early" || a.reset != 0 {
		t.Fatalf("got %d %q, reset %v; want the whole answer, 200 \"early\" with END_STREAM", a.status, a.body, a.reset)
	}
	a, err = h.answer(1)
	if err != nil {
		t.Fatal(err)
	}
	if a.reset != http2.ErrCodeNo || a.status != 0 || a.body != "" {
		t.Errorf("after the answer: got %d %q, reset %v; want RST_STREAM NO_ERROR alone", a.status, a.body, a.reset)
	}
}

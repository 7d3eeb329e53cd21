package gateway

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// An upstream that takes a request but never reads its body, nor
// answers, is a timeout (504 upstream-timeout, as nginx's
// proxy_send_timeout), as it is for a request without a body. The
// response header timeout ends the exchange, and its deadline the body
// writer, whose error net/http's Request.Write wraps in an unexported
// type without Unwrap when the write went through ReadFrom (it takes it
// for an error reading the body): isTimeout could not see the i/o
// timeout in it, and the writer's error won, a 502 upstream-unavailable
// logged as "upstream error". The twin: an upstream that resets the
// connection while the body is sent is still no timeout (502).
//
// The twin's header timeout is long: the reset, not a timer, must end
// its exchange, or an upstream goroutine scheduled late on a loaded
// machine (past a short timeout) made the timeout fire first and the
// twin see the 504 it refuses. The timeout is still set, so that the
// twin goes through the same deadline code as the first case.
func TestUpstreamUnreadBodyIsTimeout(t *testing.T) {
	body := make([]byte, 32<<20) // more than the loopback socket buffers hold
	post := func(addr string, headerTimeout time.Duration) error {
		tr := newUpstreamTransport(Limits{UpstreamMaxConnsPerHost: 4, UpstreamDialTimeout: 30 * time.Second, UpstreamMaxIdleConnsPerHost: 4, UpstreamResponseHeaderTimeout: headerTimeout}, &http.Transport{}, nil)
		defer tr.CloseIdleConnections()
		req, err := http.NewRequest("POST", "http://"+addr+"/", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res, err := tr.RoundTrip(req)
		if err == nil {
			res.Body.Close()
		}
		return err
	}

	if err := post(holdingListener(t).Addr().String(), 200*time.Millisecond); err == nil || !isTimeout(err) {
		t.Errorf("upstream never reads: error %v (%T), want a timeout (504)", err, err)
	}

	// The twin: reads a little, then resets the connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.ReadFull(c, make([]byte, 4096))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	if err := post(ln.Addr().String(), 10*time.Minute); err == nil || isTimeout(err) {
		t.Errorf("upstream resets: error %v (%T), want one that is no timeout (502)", err, err)
	}
}

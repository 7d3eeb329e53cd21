package gateway_test

// A raw-socket upstream and client for the path and Host tests of issue
// 11: the upstream records the exact bytes of each request head it
// receives, so a test proves what reached it, not only what status the
// client saw; the client writes request bytes that net/http's client
// would normalise or refuse to send.

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki"
)

// pathUpstream is an HTTP/1.1 upstream on 127.0.0.1 made of a bare TCP
// listener: it reads each request head as bytes, records it, answers 200
// "ok" and closes the connection (one request per connection).
type pathUpstream struct {
	URL string
	ln  net.Listener
	wg  sync.WaitGroup
	mu  sync.Mutex
	got []string // request heads as received, up to the blank line
}

func newPathUpstream(t testing.TB) *pathUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &pathUpstream{URL: "http://" + ln.Addr().String(), ln: ln}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			u.wg.Add(1)
			go u.serve(conn)
		}
	}()
	t.Cleanup(func() { ln.Close(); u.wg.Wait() })
	return u
}

func (u *pathUpstream) serve(conn net.Conn) {
	defer u.wg.Done()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	br := bufio.NewReader(conn)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil || line == "\r\n" {
			break
		}
	}
	u.mu.Lock()
	u.got = append(u.got, head.String())
	u.mu.Unlock()
	io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
}

// heads returns the request heads received so far, and forgets them.
// The gateway has read the whole answer before its client gets it, so
// after a response the upstream's record of that request is complete.
func (u *pathUpstream) heads() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	got := u.got
	u.got = nil
	return got
}

// rawExchange sends one raw HTTP/1.1 request on a new mTLS connection to
// the gateway, presenting cert (none when nil), and returns the response
// and its body.
func (r *running) rawExchange(t testing.TB, cert *pki.Cert, raw string) (*http.Response, string) {
	t.Helper()
	cfg := &tls.Config{RootCAs: r.w.ca.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"}}
	if cert != nil {
		tc := cert.TLSCertificate()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(r.base, "https://"), cfg)
	if err != nil {
		t.Fatalf("dial gateway: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatalf("send: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response to %q: %v", raw, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

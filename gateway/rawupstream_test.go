package gateway_test

// Raw-socket helpers for the request-normalisation tests (issue 11): they
// prove what bytes reached the upstream, not only what status the client
// saw, and they let a test send bytes that net/http's client would never
// write (two Content-Lengths, a smuggled second request, a tunnel).
//
//	u := newRawUpstream(t, respondH2C)           // or newRawUpstreamTLS
//	cfg := w.config()
//	cfg.Routes[i].Upstream = u.URL
//	gw := w.start(cfg)
//	c := gw.dialRaw(t, w.web)                    // mTLS, HTTP/1.1
//	c.send("GET /public HTTP/1.1\r\nHost: localhost\r\n\r\n")
//	resp, body := c.read()
//	c.Close()
//	for _, conn := range u.wait() { ... conn.requests, conn.tunnel, conn.bytes }

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// Scripted upstream answers. Each ends the connection, so that one
// upstream connection carries one request and wait has an end to wait
// for; only a 101 keeps it open (as a tunnel, see rawUpstream).
const (
	rawOK = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
	// rawSwitchH2C accepts an h2c upgrade (RFC 7540 §3.2).
	rawSwitchH2C = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
	// rawSwitchWebSocket accepts a WebSocket handshake whatever its key
	// (the gateway does not check Sec-WebSocket-Accept; the client would).
	rawSwitchWebSocket = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)

// respondOK answers every request with rawOK.
func respondOK(*http.Request) string { return rawOK }

// respondH2C is an upstream that, like Jetty, Tomcat or Node with h2c
// enabled, accepts any h2c upgrade it is offered and answers 200
// otherwise. It also accepts WebSocket handshakes.
func respondH2C(r *http.Request) string {
	for _, v := range r.Header.Values("Upgrade") {
		for p := range strings.SplitSeq(v, ",") {
			switch strings.ToLower(strings.TrimSpace(p)) {
			case "h2c":
				return rawSwitchH2C
			case "websocket":
				return rawSwitchWebSocket
			}
		}
	}
	return rawOK
}

// rawUpstream is an HTTP/1.1 upstream on 127.0.0.1 made of a bare TCP (or
// TLS) listener. It records the exact bytes of every connection and reads
// them as requests with http.ReadRequest, answering each with the raw
// bytes respond returns. After an answer whose status is 101 the
// connection is a tunnel: everything that follows is recorded, never
// parsed or answered, until the peer closes it. Any other answer is
// followed by closing the connection: one request per connection.
type rawUpstream struct {
	t       testing.TB
	URL     string // http://127.0.0.1:port or https://127.0.0.1:port
	ln      net.Listener
	respond func(*http.Request) string

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []*rawConnLog
}

// rawConnLog is what one upstream connection received.
type rawConnLog struct {
	// bytes is everything the peer sent, as sent.
	bytes []byte
	// requests are the request lines ("GET /x HTTP/1.1") parsed before
	// any tunnel; headers are each request's header, in the same order.
	requests []string
	headers  []http.Header
	// tunnel: the upstream answered 101 and relayed raw bytes after it;
	// tunneled is what arrived after the 101 (a request there reached
	// the upstream unchecked).
	tunnel   bool
	tunneled []byte
}

// newRawUpstream starts a plain-TCP raw upstream until the test ends.
func newRawUpstream(t testing.TB, respond func(*http.Request) string) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startRawUpstream(t, ln, "http://", respond)
}

// newRawUpstreamTLS starts a TLS raw upstream with a certificate for
// 127.0.0.1 from w's CA: set the route's UpstreamCAFile to
// w.path("ca.pem").
func newRawUpstreamTLS(t testing.TB, w *world, respond func(*http.Request) string) *rawUpstream {
	t.Helper()
	cert := pkitest.ServerWith(t, w.ca, pki.ServerOptions{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert.TLSCertificate()},
		NextProtos:   []string{"http/1.1"}, // never h2: the point is HTTP/1.1 framing
	})
	if err != nil {
		t.Fatal(err)
	}
	return startRawUpstream(t, ln, "https://", respond)
}

func startRawUpstream(t testing.TB, ln net.Listener, scheme string, respond func(*http.Request) string) *rawUpstream {
	u := &rawUpstream{t: t, URL: scheme + ln.Addr().String(), ln: ln, respond: respond}
	u.wg.Add(1)
	go u.accept()
	t.Cleanup(func() { ln.Close() })
	return u
}

func (u *rawUpstream) accept() {
	defer u.wg.Done()
	for {
		conn, err := u.ln.Accept()
		if err != nil {
			return // closed by wait or cleanup
		}
		log := &rawConnLog{}
		u.mu.Lock()
		u.conns = append(u.conns, log)
		u.mu.Unlock()
		u.wg.Add(1)
		go u.serve(conn, log)
	}
}

// recording appends every byte read from the connection to the log.
type recording struct {
	u   *rawUpstream
	r   io.Reader
	log *rawConnLog
}

func (rc *recording) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	rc.u.mu.Lock()
	rc.log.bytes = append(rc.log.bytes, p[:n]...)
	if rc.log.tunnel {
		rc.log.tunneled = append(rc.log.tunneled, p[:n]...)
	}
	rc.u.mu.Unlock()
	return n, err
}

func (u *rawUpstream) serve(conn net.Conn, log *rawConnLog) {
	defer u.wg.Done()
	defer conn.Close()
	// Hang guard only: a test that forgets to close its client would
	// otherwise block wait forever.
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(&recording{u: u, r: conn, log: log})
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	io.Copy(io.Discard, req.Body)
	u.mu.Lock()
	log.requests = append(log.requests, req.Method+" "+req.RequestURI+" "+req.Proto)
	log.headers = append(log.headers, req.Header.Clone())
	u.mu.Unlock()
	answer := u.respond(req)
	if _, err := io.WriteString(conn, answer); err != nil {
		return
	}
	if !strings.HasPrefix(answer, "HTTP/1.1 101 ") {
		return
	}
	// A tunnel: bytes already buffered after the request count too.
	u.mu.Lock()
	log.tunnel = true
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		log.tunneled = append(log.tunneled, b...)
	}
	u.mu.Unlock()
	io.Copy(io.Discard, br)
}

// wait stops accepting, waits until every connection has been closed by
// the gateway (close the clients first) and returns what each received.
func (u *rawUpstream) wait() []*rawConnLog {
	u.t.Helper()
	u.ln.Close()
	u.wg.Wait()
	return u.snapshot()
}

// snapshot returns what each connection received so far.
func (u *rawUpstream) snapshot() []*rawConnLog {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]*rawConnLog, len(u.conns))
	for i, c := range u.conns {
		cp := *c
		cp.bytes = bytes.Clone(c.bytes)
		cp.tunneled = bytes.Clone(c.tunneled)
		cp.requests = append([]string(nil), c.requests...)
		cp.headers = append([]http.Header(nil), c.headers...)
		out[i] = &cp
	}
	return out
}

// received returns every byte the upstream received, over all
// connections, in the order the connections were accepted.
func received(conns []*rawConnLog) string {
	var b strings.Builder
	for _, c := range conns {
		b.Write(c.bytes)
	}
	return b.String()
}

// rawClient is one mTLS connection to the gateway that speaks HTTP/1.1
// bytes as written by the test.
type rawClient struct {
	*tls.Conn
	t  testing.TB
	br *bufio.Reader
}

// dialRaw opens an HTTP/1.1 mTLS connection to the gateway's first
// listener, presenting cert (none when nil). The test closes it.
func (r *running) dialRaw(t testing.TB, cert *pki.Cert) *rawClient {
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
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	t.Cleanup(func() { conn.Close() })
	return &rawClient{Conn: conn, t: t, br: bufio.NewReader(conn)}
}

// send writes raw bytes to the gateway.
func (c *rawClient) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.Conn, raw); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// read reads one response. It fails the test when there is none; use
// next to tell a closed connection apart.
func (c *rawClient) read() (*http.Response, string) {
	c.t.Helper()
	resp, body, err := c.next()
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	return resp, body
}

// next reads one response, if any (the body of a 101 is left unread).
// An io.EOF (or io.ErrUnexpectedEOF) error means the gateway closed the
// connection.
func (c *rawClient) next() (*http.Response, string, error) {
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, "", nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// TestRawUpstreamRecords: the helper itself. A request sent as raw bytes
// through the gateway arrives at the raw upstream (plain and TLS) with the
// gateway's headers.
func TestRawUpstreamRecords(t *testing.T) {
	t.Parallel()
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp", true: "tls"}[useTLS], func(t *testing.T) {
			w := newWorld(t)
			u := newRawUpstream(t, respondOK)
			if useTLS {
				u = newRawUpstreamTLS(t, w, respondOK)
			}
			cfg := w.config()
			for i := range cfg.Routes {
				cfg.Routes[i].Upstream = u.URL
				if useTLS {
					cfg.Routes[i].UpstreamCAFile = w.path("ca.pem")
				}
			}
			gw := w.start(cfg)
			c := gw.dialRaw(t, w.web)
			c.send("GET /public/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
			if resp, body := c.read(); resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("got %d %q, want 200 \"ok\"", resp.StatusCode, body)
			}
			c.Close()
			conns := u.wait()
			if len(conns) != 1 || len(conns[0].requests) != 1 || conns[0].requests[0] != "GET /public/x HTTP/1.1" {
				t.Fatalf("upstream got %q, want one GET /public/x", received(conns))
			}
			if got := conns[0].headers[0].Get("X-Forwarded-Proto"); got != "https" {
				t.Errorf("X-Forwarded-Proto: got %q, want https", got)
			}
			if conns[0].tunnel {
				t.Errorf("a 200 was recorded as a tunnel")
			}
		})
	}
}

// TestRawUpstreamTunnel: the helper records a WebSocket tunnel. A
// same-origin handshake through the gateway is answered 101 by the raw
// upstream, and the bytes the client sends after it arrive as tunneled.
func TestRawUpstreamTunnel(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	u := newRawUpstream(t, respondH2C)
	cfg := w.config()
	for i := range cfg.Routes {
		cfg.Routes[i].Upstream = u.URL
	}
	gw := w.start(cfg)
	c := gw.dialRaw(t, w.web)
	c.send("GET /api/socket HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-Fetch-Site: same-origin\r\nOrigin: " + gw.base + "\r\n\r\n")
	if resp, _ := c.read(); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got %d, want 101", resp.StatusCode)
	}
	c.send("frame")
	c.Close()
	conns := u.wait()
	if len(conns) != 1 || !conns[0].tunnel || string(conns[0].tunneled) != "frame" {
		t.Fatalf("upstream got %q, want a tunnel carrying \"frame\"", received(conns))
	}
}

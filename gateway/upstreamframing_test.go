package gateway_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
)

// Framing toward the upstream (redteam finding): the gateway reuses its
// upstream connections across clients, so a request whose body an
// upstream does not read leaves that body on the connection, where the
// upstream parses it as a request of its own ("CL.0" desync): one that
// no route, identity or CSRF check saw, carrying whatever headers the
// attacker wrote into it (Client-Cert, X-Forwarded-For). Servers skip the
// bodies of methods whose body has no defined meaning (GET, HEAD,
// OPTIONS, DELETE, TRACE: RFC 9110 §9.3) and of requests they answer
// before reading (Expect: 100-continue answered with a final status).
// The gateway forwards such a body with "Connection: close", so the
// upstream reads no request after it, and never forwards Expect (it
// answers 100-continue to the client itself, as Envoy does).

// cl0Upstream is a keep-alive HTTP/1.1 upstream that, like a server that
// skips bodies, never reads the body of a GET, HEAD, OPTIONS, DELETE or
// TRACE, nor of a request with Expect: 100-continue (which it answers
// 200 without sending 100): what follows the header is parsed as the
// next request (once its bytes have arrived). With skipAll it skips
// every body, as a handler that answers without reading one does
// (Python's http.server). It honours "Connection: close". It records
// every request line it parsed and the headers of each.
type cl0Upstream struct {
	URL     string
	ln      net.Listener
	wg      sync.WaitGroup
	skipAll bool

	mu       sync.Mutex
	requests []string
	headers  []http.Header
}

func newCL0Upstream(t *testing.T, skipAll bool) *cl0Upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &cl0Upstream{URL: "http://" + ln.Addr().String(), ln: ln, skipAll: skipAll}
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
	t.Cleanup(func() { ln.Close() })
	return u
}

func (u *cl0Upstream) serve(conn net.Conn) {
	defer u.wg.Done()
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	br := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		u.mu.Lock()
		u.requests = append(u.requests, req.Method+" "+req.RequestURI)
		u.headers = append(u.headers, req.Header.Clone())
		u.mu.Unlock()
		switch {
		case u.skipAll, req.Method == "GET", req.Method == "HEAD", req.Method == "OPTIONS", req.Method == "DELETE", req.Method == "TRACE":
			// The body is left on the connection. It waits until the
			// body's bytes are there, as they are when they came in the
			// same segment as the header: otherwise whether the gateway
			// had written them before reading the answer is a race.
			if req.ContentLength > 0 {
				br.Peek(int(req.ContentLength))
			}
		default:
			if req.Header.Get("Expect") == "" {
				io.Copy(io.Discard, req.Body)
			}
		}
		answer := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		if req.Close {
			answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
		}
		if _, err := io.WriteString(conn, answer); err != nil || req.Close {
			return
		}
	}
}

// wait stops the upstream, waits for its connections to end (the
// gateway's idle ones are closed by closing the gateway first) and
// returns the request lines and headers it parsed.
func (u *cl0Upstream) wait() ([]string, []http.Header) {
	u.ln.Close()
	u.wg.Wait()
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.requests, u.headers
}

// TestBodyDesync: a client allowed only /public sends a body that is a
// whole request for /admin/secret with a forged Client-Cert. The upstream
// must parse only the client's own request. Allowed twins: the POST with
// the same body, which the upstream reads as a body, on a route that
// keeps the connection after bodies (upstream-reuse-after-body). Negative
// controls: with the check off, the GET's smuggled request reaches the
// upstream, and so does a POST's, to an upstream that answers without
// reading bodies, on a route that keeps the connection. (Whether the
// Expect one does without the check depends on whether the upstream's
// early answer beats the body's bytes: no stable control.)
func TestBodyDesync(t *testing.T) {
	const smuggled = "GET /admin/secret HTTP/1.1\r\nHost: localhost\r\nClient-Cert: :Zm9yZ2Vk:\r\n\r\n"
	// Upgrade on a path whose upstream does not upgrade: it answers 200.
	const wsHead = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	tests := []struct {
		name, head string
		skipAll    bool // the upstream skips every body (cl0Upstream)
		reuse      bool // the route sets upstream-reuse-after-body
		closes     bool // the upstream request says Connection: close
	}{
		{name: "GET with a body", head: "GET /public/x HTTP/1.1\r\n", closes: true},
		{name: "HEAD with a body", head: "HEAD /public/x HTTP/1.1\r\n", closes: true},
		{name: "OPTIONS with a body", head: "OPTIONS /public/x HTTP/1.1\r\n", closes: true},
		{name: "DELETE with a body", head: "DELETE /public/x HTTP/1.1\r\nSec-Fetch-Site: same-origin\r\n", closes: true},
		{name: "GET with a body, reuse after bodies", head: "GET /public/x HTTP/1.1\r\n", reuse: true, closes: true},
		// net/http's Transport would not add Connection: close for a
		// request with Upgrade on its own (DisableKeepAlives); Close does.
		{name: "WebSocket handshake with a body", head: "GET /public/x HTTP/1.1\r\n" + wsHead, closes: true},
		{name: "POST with Expect: 100-continue", head: "POST /public/x HTTP/1.1\r\nSec-Fetch-Site: same-origin\r\nExpect: 100-continue\r\n", closes: true},
		{name: "POST to an upstream that reads no body", head: "POST /public/x HTTP/1.1\r\nSec-Fetch-Site: same-origin\r\n", skipAll: true, closes: true},
		{name: "PUT to an upstream that reads no body", head: "PUT /public/x HTTP/1.1\r\nSec-Fetch-Site: same-origin\r\n", skipAll: true, closes: true},
		{name: "POST, the twin: reuse after bodies, upstream reads them", head: "POST /public/x HTTP/1.1\r\nSec-Fetch-Site: same-origin\r\n", reuse: true},
		{name: "negative control: GET with a body, check off", head: "GET /public/x HTTP/1.1\r\n"},
		{name: "negative control: WebSocket handshake with a body, check off", head: "GET /public/x HTTP/1.1\r\n" + wsHead},
		{name: "negative control: POST, reuse after bodies, upstream reads no body", head: "POST /public/x HTTP/1.1\r\nSec-Fetch-Site: same-origin\r\n", skipAll: true, reuse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			u := newCL0Upstream(t, tt.skipAll)
			cfg := w.config()
			for i := range cfg.Routes {
				cfg.Routes[i].Upstream = u.URL
				cfg.Routes[i].UpstreamReuseAfterBody = tt.reuse
			}
			gw := w.start(cfg)
			control := strings.HasPrefix(tt.name, "negative control")
			gateway.SetBodyFraming(gw.g, !control || tt.reuse)
			c := gw.dialRaw(t, nil)
			c.send(tt.head + "Host: localhost\r\nContent-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled)
			method, _, _ := strings.Cut(tt.head, " ")
			resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
			for err == nil && resp.StatusCode == http.StatusContinue {
				resp, err = http.ReadResponse(c.br, &http.Request{Method: method})
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d, want 200", resp.StatusCode)
			}
			c.Close()
			gw.close()
			requests, headers := u.wait()
			if control {
				// The attack works without the check: the smuggled request
				// reaches the upstream, forged identity and all.
				if len(requests) != 2 || requests[1] != "GET /admin/secret" || headers[1].Get("Client-Cert") == "" {
					t.Fatalf("upstream parsed %q, want the smuggled GET /admin/secret with its Client-Cert too", requests)
				}
				return
			}
			if len(requests) != 1 || requests[0] != method+" /public/x" {
				t.Fatalf("upstream parsed %q, want only %s /public/x", requests, method)
			}
			if got := headers[0].Get("Connection") == "close"; got != tt.closes {
				t.Errorf("upstream request Connection: close: %v, want %v", got, tt.closes)
			}
			if got := headers[0].Get("Expect"); got != "" {
				t.Errorf("upstream got Expect %q, want none", got)
			}
		})
	}
}

// TestUpstreamNoContentBodyNotReused (redteam finding): an upstream that
// answers 204 with a Content-Length (or chunked), which RFC 9110 §8.6
// forbids, may send the body it declared after the answer: a handler
// that writes a body after its 204 header, in a write of its own.
// http.ReadResponse reads a 204 as having no body, and the gateway put
// the connection back in its pool; the next request, another client's,
// passed the idle peek before the late bytes came, and got them as its
// answer (here a whole forged answer). Such a connection is now closed.
// The twin: a 204 with "Content-Length: 0" keeps its connection.
func TestUpstreamNoContentBodyNotReused(t *testing.T) {
	t.Parallel()
	const forged = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
	for _, tc := range []struct {
		name, head string
		late       string // sent 100ms after head
		conns      int    // upstream connections the two requests take
	}{
		{"Content-Length", "HTTP/1.1 204 No Content\r\nContent-Length: " + strconv.Itoa(len(forged)) + "\r\n\r\n", forged, 2},
		{"chunked", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", forged, 2},
		{"Content-Length: 0 (allowed twin)", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			var conns atomic.Int32
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					conns.Add(1)
					go func() {
						defer conn.Close()
						br := bufio.NewReader(conn)
						for {
							req, err := http.ReadRequest(br)
							if err != nil {
								return
							}
							if req.URL.Path != "/public/first" {
								io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal")
								continue
							}
							io.WriteString(conn, tc.head)
							if tc.late != "" {
								time.Sleep(100 * time.Millisecond)
								io.WriteString(conn, tc.late)
							}
						}
					}()
				}
			}()
			w := newWorld(t)
			cfg := w.config()
			for i := range cfg.Routes {
				cfg.Routes[i].Upstream = "http://" + ln.Addr().String()
			}
			gw := w.start(cfg)
			first := gw.dialRaw(t, nil)
			first.send("GET /public/first HTTP/1.1\r\nHost: localhost\r\n\r\n")
			if resp, _ := first.read(); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("first: got %d, want 204", resp.StatusCode)
			}
			second := gw.dialRaw(t, nil) // another client
			second.send("GET /public/second HTTP/1.1\r\nHost: localhost\r\n\r\n")
			if resp, body := second.read(); resp.StatusCode != http.StatusOK || body != "real" {
				t.Errorf("second client: got %d %q, want its own answer 200 \"real\"", resp.StatusCode, body)
			}
			if got := conns.Load(); got != int32(tc.conns) {
				t.Errorf("upstream connections: got %d, want %d", got, tc.conns)
			}
		})
	}
}

// TestBodyCloseHTTP2Upstream: over an https:// upstream that speaks
// HTTP/2 every body is framed by DATA frames, so there is no body to
// leave on the connection; "Connection: close" there (req.Close) makes
// Go's Transport dial a single-use connection per request with a body
// and stop reusing the shared one, a TLS handshake per POST that buys
// nothing. Ten POSTs and a GET after them share one upstream connection
// (and one more for the first POST, sent before the gateway knew the
// upstream's protocol). Twin: the same upstream on HTTP/1.1 gets a
// connection per POST (the CL.0 defence, TestBodyDesync).
func TestBodyCloseHTTP2Upstream(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		h2        bool
		wantConns int32
	}{
		{"HTTP/2 upstream: one connection, and one for the first POST", true, 2},
		{"twin: HTTP/1.1 upstream: one per POST", false, 11},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			var conns atomic.Int32
			var protos sync.Map
			up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				protos.Store(r.Proto, true)
			}))
			up.EnableHTTP2 = tt.h2
			up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			up.TLS = &tls.Config{Certificates: []tls.Certificate{w.upstreamCert().TLSCertificate()}}
			up.StartTLS()
			t.Cleanup(up.Close)
			cfg := w.config()
			for i := range cfg.Routes {
				cfg.Routes[i].Upstream = up.URL
				cfg.Routes[i].UpstreamCAFile = w.path("ca.pem")
			}
			gw := w.start(cfg)
			c := gw.client(w.web)
			h := http.Header{"Sec-Fetch-Site": {"same-origin"}}
			for i := 0; i < 10; i++ {
				if status, body := do(t, c, "POST", gw.base+"/public/x", h, "a=1"); status != 200 {
					t.Fatalf("POST: got %d %s", status, body)
				}
			}
			if status, body := do(t, c, "GET", gw.base+"/public/x", nil, ""); status != 200 {
				t.Fatalf("GET: got %d %s", status, body)
			}
			if _, ok := protos.Load(map[bool]string{true: "HTTP/2.0", false: "HTTP/1.1"}[tt.h2]); !ok {
				t.Fatalf("the upstream was not reached over the protocol meant")
			}
			if got := conns.Load(); got != tt.wantConns {
				t.Errorf("got %d upstream connections, want %d", got, tt.wantConns)
			}
		})
	}
}

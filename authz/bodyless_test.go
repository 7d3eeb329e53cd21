package authz_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lazyUpstream is an HTTP/1.1 upstream that, like the servers that skip
// the bodies of methods for which a body has no defined meaning, never
// reads the body of a GET, HEAD, OPTIONS, DELETE or TRACE: the body's
// bytes stay on the connection and are parsed as the next request
// ("CL.0" desync). It reads the bodies of other methods, keeps
// connections open unless asked to close, and records every request
// line with its Client-Cert.
type lazyUpstream struct {
	ln net.Listener
	// readsNone: it reads the body of no request at all, as Python's
	// http.server speaking HTTP/1.1 does when a handler answers a POST
	// without reading it (the upstreams forgeproof serve closes the
	// connection after every body for, see upstream-reuse-after-body).
	readsNone bool
	mu        sync.Mutex
	lines     []string
}

func newLazyUpstream(t *testing.T) *lazyUpstream { return newLazyUpstreamReading(t, false) }

// newLazyUpstreamReading is newLazyUpstream, reading no body at all when
// readsNone.
func newLazyUpstreamReading(t *testing.T, readsNone bool) *lazyUpstream {
	u := &lazyUpstream{readsNone: readsNone}
	u.ln = serveTCP(t, func(c net.Conn) { u.serve(c) })
	return u
}

// serveTCP listens on a loopback port and serves each connection with
// serve in its own goroutine until the test ends.
func serveTCP(t *testing.T, serve func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln
}

func (u *lazyUpstream) serve(c net.Conn) {
	defer c.Close()
	tp := textproto.NewReader(bufio.NewReader(c))
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		h, err := tp.ReadMIMEHeader()
		if err != nil {
			return
		}
		u.mu.Lock()
		u.lines = append(u.lines, line+" cert="+h.Get("Client-Cert"))
		u.mu.Unlock()
		method, _, _ := strings.Cut(line, " ")
		switch {
		case u.readsNone:
		case method == "GET", method == "HEAD", method == "OPTIONS", method == "DELETE", method == "TRACE":
		default:
			if n, err := strconv.Atoi(h.Get("Content-Length")); err == nil {
				buf := make([]byte, n)
				if _, err := io.ReadFull(tp.R, buf); err != nil {
					return
				}
			}
		}
		closing := strings.EqualFold(h.Get("Connection"), "close")
		conn := "keep-alive"
		if closing {
			conn = "close"
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: %s\r\n\r\nupstream ok", conn)
		if closing {
			return
		}
	}
}

func (u *lazyUpstream) received() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.lines...)
}

// smuggled is a request hidden in a GET's body: a private route, with
// a forged identity, that forgeproof never saw.
const smuggled = "GET /api/balance HTTP/1.1\r\nHost: localhost\r\nClient-Cert: :Zm9yZ2Vk:\r\n\r\n"

// smuggledLine is what the lazy upstream records for smuggled.
const smuggledLine = "GET /api/balance HTTP/1.1 cert=:Zm9yZ2Vk:"

// sendBodyOnGET sends a public GET whose body is another request, with
// the headers kv, then a plain GET, and returns the request lines the
// upstream received.
func (r *rig) sendBodyOnGET(u *lazyUpstream, kv ...string) []string {
	t := r.t
	before := len(u.received())
	if got := r.send(nil, "GET", "/public/rates", hdr(append([]string{"Content-Type", "text/plain"}, kv...)...), smuggled); got.status != 200 {
		t.Fatalf("GET with a body: got %d %q", got.status, got.body)
	}
	// Another request, which the proxy may send on the same upstream
	// connection.
	if got := r.send(nil, "GET", "/public/rates", hdr(), ""); got.status != 200 {
		t.Fatalf("next GET: got %d %q", got.status, got.body)
	}
	// The upstream records a request before it answers it, and parses
	// a hidden one before the next: both are recorded by now.
	return u.received()[before:]
}

// checkBodyOnGET: a public GET whose body is another request reaches
// the lazy upstream as the GET alone (the proxy closes the upstream
// connection after a request of a bodyless method, as serve does), and
// its allowed twin, a POST with a body, arrives as one request.
func (r *rig) checkBodyOnGET(u *lazyUpstream) {
	t := r.t
	t.Run("GET whose body is a request", func(t *testing.T) {
		got := r.sendBodyOnGET(u)
		for _, line := range got {
			if strings.HasPrefix(line, "GET /api/balance") {
				t.Fatalf("the upstream received the request hidden in the body: %q", got)
			}
		}
		if len(got) != 2 {
			t.Fatalf("the upstream received %q, want the two GETs", got)
		}
	})
	t.Run("POST with a body (allowed twin)", func(t *testing.T) {
		before := len(u.received())
		if got := r.send(r.client, "POST", "/api/pay", hdr("Content-Type", "application/json"), `{"amount":1}`); got.status != 200 {
			t.Fatalf("got %d %q", got.status, got.body)
		}
		if got := u.received()[before:]; len(got) != 1 || !strings.HasPrefix(got[0], "POST /api/pay") {
			t.Fatalf("the upstream received %q, want the POST", got)
		}
	})
}

// newLazyRig is a rig whose upstream is a lazyUpstream, with forgeproof
// authz started as the integration page says.
func newLazyRig(t *testing.T, page string) (*rig, *lazyUpstream) {
	return newLazyRigReading(t, page, false)
}

// newLazyRigReading is newLazyRig whose upstream reads no body at all
// when readsNone (newLazyUpstreamReading).
func newLazyRigReading(t *testing.T, page string, readsNone bool) (*rig, *lazyUpstream) {
	r := newRig(t)
	u := newLazyUpstreamReading(t, readsNone)
	r.upstream = u.ln.Addr().String()
	r.startAuthz(page)
	return r, u
}

func TestNginxBodyOnGET(t *testing.T) {
	r, u := newLazyRig(t, "../docs/integrations/nginx.md")
	r.startNginx(true)
	r.checkBodyOnGET(u)
}

func TestCaddyBodyOnGET(t *testing.T) {
	r, u := newLazyRig(t, "../docs/integrations/caddy.md")
	r.startCaddy(true)
	r.checkBodyOnGET(u)
}

// TestCaddyBodyOnGETKeepalive is the negative control: with the upstream
// connections of bodyless methods kept alive, the request hidden in a
// GET's body reaches the upstream with its forged Client-Cert.
func TestCaddyBodyOnGETKeepalive(t *testing.T) {
	r, u := newLazyRig(t, "../docs/integrations/caddy.md")
	r.startCaddy(true, "keepalive off", "keepalive 2m")
	if !slices.Contains(r.sendBodyOnGET(u), smuggledLine) {
		t.Fatalf("the hidden request did not reach the upstream: %q", u.received())
	}
}

// sendHidden sends, without a certificate, a request of method to a
// public path whose body is another request, then a plain GET, and
// returns the request lines the upstream received.
func (r *rig) sendHidden(u *lazyUpstream, method string) []string {
	t := r.t
	before := len(u.received())
	raw := method + " /public/rates HTTP/1.1\r\nHost: " + r.hostPort() + "\r\nContent-Type: text/plain\r\n" +
		"Content-Length: " + strconv.Itoa(len(smuggled)) + "\r\n\r\n" + smuggled
	if st, reason := r.sendRaw(nil, raw); st != 200 {
		t.Fatalf("%s with a body: got %d %q", method, st, reason)
	}
	if got := r.send(nil, "GET", "/public/rates", hdr(), ""); got.status != 200 {
		t.Fatalf("next GET: got %d %q", got.status, got.body)
	}
	return u.received()[before:]
}

// checkBodyUnread: through an upstream that reads no body at all, a
// request hidden in the body of a POST, a PUT or a lower-case "get" (which
// Caddy forwards as sent) never reaches it: the proxy closes the upstream
// connection after every request with a body, as serve does by default
// (upstream-reuse-after-body). The allowed twin, each request itself,
// arrives once.
func (r *rig) checkBodyUnread(u *lazyUpstream) {
	for _, method := range []string{"POST", "PUT", "get"} {
		r.t.Run(method, func(t *testing.T) {
			got := r.sendHidden(u, method)
			for _, line := range got {
				if strings.HasPrefix(line, "GET /api/balance") {
					t.Fatalf("the upstream received the request hidden in the body: %q", got)
				}
			}
			if len(got) != 2 || !strings.HasPrefix(got[0], method+" /public/rates ") {
				t.Fatalf("the upstream received %q, want the %s and the GET", got, method)
			}
		})
	}
}

func TestCaddyBodyUnread(t *testing.T) {
	r, u := newLazyRigReading(t, "../docs/integrations/caddy.md", true)
	r.startCaddy(true)
	r.checkBodyUnread(u)
}

// TestNginxBodyUnread: nginx never reuses an upstream connection by
// default (HTTP/1.0, Connection: close), nor forwards a lower-case method.
func TestNginxBodyUnread(t *testing.T) {
	r, u := newLazyRigReading(t, "../docs/integrations/nginx.md", true)
	r.startNginx(true)
	for _, method := range []string{"POST", "PUT"} {
		t.Run(method, func(t *testing.T) {
			if got := r.sendHidden(u, method); len(got) != 2 || !strings.HasPrefix(got[0], method+" /public/rates ") {
				t.Fatalf("the upstream received %q, want the %s and the GET", got, method)
			}
		})
	}
}

// TestCaddyBodyUnreadKeepalive is checkBodyUnread's negative control:
// with the upstream connections kept alive, the request hidden in a
// POST's body reaches the upstream with its forged Client-Cert.
func TestCaddyBodyUnreadKeepalive(t *testing.T) {
	r, u := newLazyRigReading(t, "../docs/integrations/caddy.md", true)
	r.startCaddy(true, "keepalive off", "keepalive 2m")
	if got := r.sendHidden(u, "POST"); !slices.Contains(got, smuggledLine) {
		t.Fatalf("the hidden request did not reach the upstream: %q", got)
	}
}

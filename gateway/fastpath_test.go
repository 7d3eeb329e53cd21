package gateway_test

// The gateway's fast paths against the standard library's, for
// plain-HTTP upstreams: the direct path (direct.go) against
// httputil.ReverseProxy, and the gateway's own HTTP/1.1 upstream
// connections (upstream.go) against net/http's Transport. The same client
// request must reach the upstream as the same bytes, and the same upstream
// answer must reach the client as the same bytes (the Date header and the
// framing aside).

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
)

// scriptedUpstream is a keep-alive HTTP/1.1 upstream on a bare TCP
// listener. It records every byte it receives, in order, and answers each
// request with the raw bytes answer returns for it; it closes the
// connection after an answer when close is true.
type scriptedUpstream struct {
	t   testing.TB
	URL string
	ln  net.Listener

	mu     sync.Mutex
	got    bytes.Buffer
	conns  int
	answer func(r *http.Request) (raw string, close bool)
	// closed counts the connections it is done with (it closed them, or
	// the gateway did); changed is closed and replaced at each event
	// (a connection accepted, bytes read, a request answered, a
	// connection closed).
	closed  int
	changed chan struct{}
	// live is the connections being served (settle); accepted, the
	// same by remote address (settle's marker).
	live     map[*servedConn]bool
	accepted map[string]*servedConn
}

// servedConn is a connection the upstream serves, as settle sees it.
type servedConn struct {
	conn net.Conn
	raw  syscall.RawConn
	// pending is the bytes read of a request not yet answered.
	pending int
	// answering: the request is read whole and answer runs (or its
	// answer is being written): the connection is not read meanwhile.
	answering bool
	marker    bool // settle's own connection: not counted
}

func newScriptedUpstream(t testing.TB, answer func(*http.Request) (string, bool)) *scriptedUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &scriptedUpstream{t: t, URL: "http://" + ln.Addr().String(), ln: ln, answer: answer, changed: make(chan struct{}),
		live: map[*servedConn]bool{}, accepted: map[string]*servedConn{}}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			raw, err := conn.(*net.TCPConn).SyscallConn()
			if err != nil {
				conn.Close()
				continue
			}
			uc := &servedConn{conn: conn, raw: raw}
			u.mu.Lock()
			u.conns++
			u.live[uc] = true
			u.accepted[conn.RemoteAddr().String()] = uc
			u.notifyLocked()
			u.mu.Unlock()
			go u.serve(conn, uc)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return u
}

// notifyLocked wakes whoever waits for an event; u.mu is held.
func (u *scriptedUpstream) notifyLocked() {
	close(u.changed)
	u.changed = make(chan struct{})
}

type recordTo struct {
	u *scriptedUpstream
	c *servedConn
}

// Read records what it reads with u.mu held (readRecorded).
func (rt recordTo) Read(p []byte) (int, error) {
	return readRecorded(rt.c, p, &rt.u.mu, func(b []byte) {
		rt.u.got.Write(b)
		rt.c.pending += len(b)
		rt.u.notifyLocked()
	})
}

func (u *scriptedUpstream) serve(conn net.Conn, uc *servedConn) {
	defer func() {
		conn.Close()
		u.mu.Lock()
		if !uc.marker {
			u.closed++
		}
		delete(u.live, uc)
		// A later connection may have its address.
		if addr := conn.RemoteAddr().String(); u.accepted[addr] == uc {
			delete(u.accepted, addr)
		}
		u.notifyLocked()
		u.mu.Unlock()
	}()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	br := bufio.NewReader(recordTo{u, uc})
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		u.mu.Lock()
		answer := u.answer
		// What is buffered is the next request's.
		uc.pending, uc.answering = br.Buffered(), true
		u.notifyLocked()
		u.mu.Unlock()
		raw, closeAfter := answer(req)
		_, err = io.WriteString(conn, raw)
		if err != nil || closeAfter {
			return
		}
		u.mu.Lock()
		uc.answering = false
		u.notifyLocked()
		u.mu.Unlock()
	}
}

// settle returns once u has received all that was sent to it before it
// was called: every connection the gateway opened is accepted (a
// connection of settle's own, accepted after them, says so), and each
// is closed, answering a request it read whole, or waiting for the next
// request with nothing read of it and nothing to read (socketReadable).
// Each wait is for an event: the bytes or the end of the connection a
// reader will see. It fails the test when that takes 10 seconds (a hang
// guard, or a gateway that left half a request on an open connection).
//
// It replaces a wait for a quiet moment, which under load could end
// before the upstream read what a gateway sent ahead of an early answer
// (a body over the size limit).
func (u *scriptedUpstream) settle(t testing.TB) {
	t.Helper()
	guard := time.After(10 * time.Second)
	wait := func(changed chan struct{}, what string) {
		select {
		case <-changed:
		case <-guard:
			t.Fatalf("upstream not settled after 10s: %s", what)
		}
	}
	marker, err := net.Dial("tcp", u.ln.Addr().String())
	if err != nil {
		t.Fatalf("upstream settle: %v", err)
	}
	for {
		u.mu.Lock()
		uc := u.accepted[marker.LocalAddr().String()]
		if uc != nil {
			uc.marker = true
			u.conns--
			delete(u.accepted, marker.LocalAddr().String())
		}
		changed := u.changed
		u.mu.Unlock()
		if uc != nil {
			break
		}
		wait(changed, "its own connection not accepted")
	}
	marker.(*net.TCPConn).SetLinger(0)
	marker.Close()
	for {
		// With u.mu held a byte is in a socket or recorded, never
		// between (readRecorded).
		u.mu.Lock()
		settled := true
		for c := range u.live {
			if c.answering {
				continue
			}
			if c.pending > 0 || c.marker || socketReadable(c.raw) {
				settled = false
				break
			}
		}
		changed := u.changed
		u.mu.Unlock()
		if settled {
			return
		}
		wait(changed, "a connection is left mid-request")
	}
}

// take returns the bytes received since the last take.
func (u *scriptedUpstream) take() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.got.String()
	u.got.Reset()
	return s
}

func (u *scriptedUpstream) connections() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.conns
}

// waitClosed returns once n connections are closed (closed), and fails
// the test when they are not in 10 seconds (a hang guard).
func (u *scriptedUpstream) waitClosed(t testing.TB, n int) {
	t.Helper()
	guard := time.After(10 * time.Second)
	for {
		u.mu.Lock()
		closed, changed := u.closed, u.changed
		u.mu.Unlock()
		if closed >= n {
			return
		}
		select {
		case <-changed:
		case <-guard:
			t.Fatalf("%d upstream connections closed, want %d", closed, n)
		}
	}
}

// exchangeRaw sends raw on a new mTLS connection to gw and returns the
// answer (through the final one, after any 1xx) in a canonical form:
// status, whether the connection closes after it, header fields in order
// without Date, Content-Length and Transfer-Encoding, body, trailers. The framing is left out because
// ReverseProxy's choice between a length and chunks for an answer of
// unknown length depends on when its first flush runs, on either path.
// complete is false when the connection ended before the answer did.
func exchangeRaw(t testing.TB, gw *running, raw string) (answer string, complete bool) {
	t.Helper()
	c := gw.dialRaw(t, gw.w.web)
	defer c.Close()
	c.send(raw)
	method := "GET"
	if strings.HasPrefix(raw, "HEAD ") {
		method = "HEAD"
	}
	var b strings.Builder
	for {
		resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
		if err != nil {
			break
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&b, "%s %s (close %v)\n", resp.Proto, resp.Status, resp.Close)
		writeFields(&b, resp.Header)
		fmt.Fprintf(&b, "\n%q\n", body)
		writeFields(&b, resp.Trailer)
		if resp.StatusCode >= 200 {
			complete = err == nil
			break
		}
	}
	return b.String(), complete
}

func writeFields(b *strings.Builder, h http.Header) {
	for _, k := range slices.Sorted(maps.Keys(h)) {
		switch k {
		case "Date", "Content-Length", "Transfer-Encoding":
			continue
		}
		fmt.Fprintf(b, "%s: %q\n", k, h[k])
	}
}

// A pathMode is one way the gateway proxies a plain-HTTP upstream: its
// test switches.
type pathMode struct {
	name string
	set  func(*gateway.Gateway)
}

var (
	// reverseProxyPath is httputil.ReverseProxy over the gateway's own
	// upstream connections: the reference the others are compared with.
	reverseProxyPath = pathMode{"ReverseProxy", func(g *gateway.Gateway) { gateway.SetDirectProxy(g, false) }}
	// directPath is the default: the direct path (direct.go) over the
	// own connections.
	directPath = pathMode{"direct path", func(*gateway.Gateway) {}}
	// transportPath is ReverseProxy over net/http's Transport.
	transportPath = pathMode{"net/http's Transport", func(g *gateway.Gateway) {
		gateway.SetDirectProxy(g, false)
		gateway.SetFastUpstream(g, false)
	}}
	allPaths = []pathMode{reverseProxyPath, directPath, transportPath}
)

// pathSet is gateways with the same configuration, one per pathMode, each
// with its own scripted upstream; the first is the reference.
type pathSet struct {
	modes []pathMode
	gws   []*running
	ups   []*scriptedUpstream
	// settle, when not nil, returns once every upstream has what it will
	// receive of a compare's request; compare then waits for each
	// upstream to settle (scriptedUpstream.settle).
	settle func()
}

// newPathSet starts a gateway per mode; edit changes the configuration
// and set, when not nil, the gateways.
func newPathSet(t testing.TB, modes []pathMode, answer func(*http.Request) (string, bool), edit func(*gateway.Config), set func(*gateway.Gateway)) *pathSet {
	t.Helper()
	w := newWorld(t)
	p := &pathSet{modes: modes}
	for _, m := range modes {
		up := newScriptedUpstream(t, answer)
		cfg := w.config()
		cfg.Routes = append(cfg.Routes, gateway.Route{
			Name: "scripted", PathPrefix: "/s/", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true},
			Cookies: gateway.Cookies{Secure: true, HTTPOnly: true, SameSite: gateway.SameSiteLax},
		})
		cfg.Limits.MaxBodyBytes = 1 << 16
		if edit != nil {
			edit(cfg)
		}
		g, err := gateway.New(cfg, gateway.Options{})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		m.set(g)
		if set != nil {
			set(g)
		}
		p.gws = append(p.gws, startHandler(t, w, g))
		p.ups = append(p.ups, up)
	}
	return p
}

// compare sends raw through every gateway and fails when an upstream
// received other bytes than the reference's, or a client another answer.
// It returns the reference's answer.
// received returns what each upstream received since the last call,
// once it has all that was sent to it (scriptedUpstream.settle).
func (p *pathSet) received(t testing.TB) []string {
	t.Helper()
	up := make([]string, len(p.ups))
	for i, u := range p.ups {
		u.settle(t)
		up[i] = u.take()
	}
	return up
}

func (p *pathSet) compare(t testing.TB, raw string) (answer string) {
	t.Helper()
	got := make([]string, len(p.gws))
	ok := make([]bool, len(p.gws))
	for i, gw := range p.gws {
		got[i], ok[i] = exchangeRaw(t, gw, raw)
	}
	// A request the upstream answered was read before; one a gateway
	// answered early may still be on its way (settle).
	if p.settle != nil {
		p.settle()
	}
	up := p.received(t)
	ref := p.modes[0].name
	for i := 1; i < len(p.gws); i++ {
		name := p.modes[i].name
		if up[i] != up[0] {
			t.Errorf("upstream received different bytes:\n%s:\n%q\n%s:\n%q", ref, up[0], name, up[i])
		}
		switch {
		case ok[0] != ok[i]:
			t.Errorf("client received a complete answer on one path only:\n%s:\n%q\n%s:\n%q", ref, got[0], name, got[i])
		case ok[0] && got[i] != got[0]:
			t.Errorf("client received different answers:\n%s:\n%q\n%s:\n%q", ref, got[0], name, got[i])
		}
	}
	// An answer whose body failed is aborted on every path; how much of
	// it the client saw first depends on when the first flush ran.
	return got[0]
}

// compareMetrics fails when the gateways counted requests or dropped
// headers differently.
func (p *pathSet) compareMetrics(t *testing.T) {
	t.Helper()
	counted := func(gw *running) string {
		var b strings.Builder
		for l := range strings.SplitSeq(metricsText(t, gw), "\n") {
			if strings.HasPrefix(l, "forgeproof_gateway_requests_total{") || strings.HasPrefix(l, "forgeproof_gateway_request_headers_dropped_total{") {
				b.WriteString(l + "\n")
			}
		}
		return b.String()
	}
	ref := counted(p.gws[0])
	if ref == "" {
		t.Fatal("no request counted")
	}
	for i := 1; i < len(p.gws); i++ {
		if got := counted(p.gws[i]); got != ref {
			t.Errorf("metrics differ:\n%s:\n%s\n%s:\n%s", p.modes[0].name, ref, p.modes[i].name, got)
		}
	}
}

// answers are the scripted upstream's answers, by the request's path
// after /s/.
var answers = map[string]struct {
	raw   string
	close bool
}{
	"cl":            {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Upstream: 1\r\n\r\nhello", false},
	"head":          {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false},
	"chunked":       {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n", false},
	"eof":           {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the upstream closes", true},
	"204":           {"HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n", false},
	"304":           {"HTTP/1.1 304 Not Modified\r\nEtag: \"v1\"\r\n\r\n", false},
	"hints":         {"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
	"http10":        {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", true},
	"close":         {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true},
	"gzip":          {"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\nVary: Accept-Encoding\r\n\r\n\x1f\x8b\x08\x00", false},
	"cookie":        {"HTTP/1.1 200 OK\r\nSet-Cookie: sid=1; Path=/\r\nSet-Cookie: pref=x; SameSite=Strict\r\nContent-Length: 0\r\n\r\n", false},
	"hop":           {"HTTP/1.1 200 OK\r\nConnection: X-Hop, close\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok", true},
	"nothing":       {"", true},
	"garbage":       {"this is not HTTP\r\n\r\n", true},
	"switch":        {"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", true},
	"short":         {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true},
	"bad-chunks":    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", true},
	"created":       {"HTTP/1.1 201 Created\r\nLocation: /s/cl\r\nContent-Length: 0\r\n\r\n", false},
	"hop-kept":      {"HTTP/1.1 200 OK\r\nConnection: X-Hop, Cache-Control\r\nCache-Control: no-store\r\nX-Hop: 1\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTe: trailers\r\nTrailer: X-None\r\nProxy-Authenticate: Basic\r\nX-Kept: 1\r\nContent-Length: 2\r\n\r\nok", false},
	"late-trailer":  {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Late: 1\r\n\r\n", false},
	"1xx-series":    {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </b.js>; rel=preload\r\nX-Hint: 2\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
	"sse":           {"HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream; charset=utf-8\r\nContent-Length: 20\r\n\r\ndata: 1\n\ndata: 2\n\n\n\n", false},
	"sse-chunked":   {"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n9\r\ndata: 1\n\n\r\n0\r\n\r\n", false},
	"sse-bad-param": {"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; a=1; a=2\r\nContent-Length: 9\r\n\r\ndata: 1\n\n", false},
	"500":           {"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nbad", false},
	"empty-eof":     {"HTTP/1.1 200 OK\r\n\r\n", true},
	"cl-2047":       {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2047\r\n\r\n" + strings.Repeat("a", 2047), false},
	"cl-2048":       {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2048\r\n\r\n" + strings.Repeat("b", 2048), false},
	"cl-large":      {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("0123456789", 10000), false},
	"empty-value":   {"HTTP/1.1 200 OK\r\nX-Empty:\r\nx-lower: 1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok", false},
}

func scripted(r *http.Request) (string, bool) {
	a, ok := answers[strings.TrimPrefix(r.URL.Path, "/s/")]
	if !ok {
		return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false
	}
	return a.raw, a.close
}

// TestUpstreamPathsEquivalent: over a table of requests and answers, the
// upstream receives the same bytes and the client the same answer through
// the direct path as through ReverseProxy, and through ReverseProxy on the
// gateway's own connections as on net/http's Transport; the gateways count
// the same.
func TestUpstreamPathsEquivalent(t *testing.T) {
	t.Parallel()
	p := newPathSet(t, allPaths, scripted, nil, nil)
	get := func(path, extra string) string {
		return "GET /s/" + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n"
	}
	tests := []struct {
		name, raw string
		want      string // a part of the client's answer, so each case shows it did what it says
	}{
		{"content-length", get("cl", "Accept: */*\r\n"), `"hello"`},
		{"head", "HEAD /s/head HTTP/1.1\r\nHost: localhost\r\n\r\n", "200 OK"},
		{"chunked with trailers", get("chunked", "TE: trailers\r\n"), `X-Sum: ["5"]`},
		{"close-delimited", get("eof", ""), "until the upstream closes"},
		{"204", get("204", ""), "204 No Content"},
		{"304", get("304", "If-None-Match: \"v1\"\r\n"), "304 Not Modified"},
		{"103 early hints", get("hints", ""), "103 Early Hints"},
		{"HTTP/1.0 answer", get("http10", ""), "200 OK"},
		{"upstream closes", get("close", ""), `"ok"`},
		{"accept-encoding passes through", get("gzip", "Accept-Encoding: gzip, br\r\n"), `Content-Encoding: ["gzip"]`},
		{"cookies hardened", get("cookie", ""), `Set-Cookie: ["sid=1; Path=/; Secure; HttpOnly; SameSite=Lax"`},
		{"hop-by-hop removed", get("hop", "Connection: X-Client-Hop\r\nX-Client-Hop: 1\r\nKeep-Alive: 300\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\n"), `"ok"`},
		{"identity headers replaced", get("cl", "Client-Cert: :Zm9v:\r\nX-Forwarded-For: 10.0.0.1\r\nForgeproof-Client-Identity: admin\r\nX_Forwarded_Client_Cert: x\r\n"), "hello"},
		{"no answer", get("nothing", "Accept: application/json\r\n"), "upstream-unavailable"},
		{"not HTTP", get("garbage", "Accept: application/json\r\n"), "upstream-unavailable"},
		{"unasked 101", get("switch", "Accept: application/json\r\n"), "upstream-upgrade-refused"},
		// The answer's header is still buffered when its body fails:
		// the client's connection is closed without an answer.
		{"short body", get("short", ""), ""},
		{"bad chunks", get("bad-chunks", ""), ""},
		{"head answered with a body", "HEAD /s/chunked HTTP/1.1\r\nHost: localhost\r\n\r\n", "200 OK"},
		{"after the unasked body", get("cl", ""), "hello"},
		{"post with content-length", "POST /s/created HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"a\":\"hello\"}", "201 Created"},
		{"post chunked", "POST /s/created HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "(close true)"},
		{"post with request trailers", "POST /s/created HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTrailer: Client-Cert\r\n\r\n5\r\nhello\r\n0\r\nClient-Cert: :Zm9v:\r\n\r\n", "201 Created"},
		{"post too large", "POST /s/created HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nContent-Length: 70000\r\n\r\n" + strings.Repeat("a", 70000), "body-too-large"},
		{"expect continue", "POST /s/created HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", "201 Created"},
		{"query and escapes", get("cl?a=1&b=%2F", "User-Agent: equivalence\r\n"), "hello"},
		{"no user-agent", get("cl", ""), "hello"},
		{"options", "OPTIONS /s/cl HTTP/1.1\r\nHost: localhost\r\n\r\n", "hello"},
		{"delete", "DELETE /s/204 HTTP/1.1\r\nHost: localhost\r\n\r\n", "204"},
		{"connection-named request headers", get("cl", "Connection: keep-alive, X-Named, accept-language\r\nX-Named: 1\r\nAccept-Language: en\r\nTE: gzip, trailers\r\nProxy-Authorization: Basic Zm9v\r\nForwarded: for=192.0.2.1\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: http\r\n"), "hello"},
		{"te without trailers", get("cl", "TE: gzip\r\n"), "hello"},
		{"connection names te", get("cl", "Connection: TE\r\nTE: trailers\r\n"), "hello"},
		{"connection upgrade without upgrade", get("cl", "Connection: Upgrade\r\n"), "hello"},
		{"upgrade without connection", get("cl", "Upgrade: websocket\r\n"), "hello"},
		{"dropped client headers", get("cl", "X_Custom: 1\r\nX-Ssl-Client-Cert: x\r\nX-Real-Ip: 192.0.2.1\r\nX-Original-Url: /admin\r\nHttp2-Settings: x\r\n"), "hello"},
		{"repeated headers", get("cl", "Accept: a\r\nAccept: b\r\nX-Multi: 1\r\nX-Multi: 2\r\nX-Multi: 3\r\n"), "hello"},
		{"query cleaned", get("cl?a=1;b=2&c=%zz&d=%41", ""), "hello"},
		{"response hop-by-hop removed", get("hop-kept", ""), `X-Kept: ["1"]`},
		{"undeclared trailer", get("late-trailer", "TE: trailers\r\n"), `X-Late: ["1"]`},
		{"1xx series", get("1xx-series", ""), `X-Hint: ["2"]`},
		{"server-sent events", get("sse", "Accept: text/event-stream\r\n"), "data: 2"},
		{"server-sent events chunked", get("sse-chunked", ""), "data: 1"},
		{"event stream with a bad parameter", get("sse-bad-param", ""), "data: 1"},
		{"head of a stream", "HEAD /s/sse HTTP/1.1\r\nHost: localhost\r\n\r\n", "200 OK"},
		{"upstream 500", get("500", ""), "500 Internal Server Error"},
		{"empty close-delimited", get("empty-eof", ""), "200 OK"},
		{"post chunked to a stream", "POST /s/sse-chunked HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "data: 1"},
		{"post with no body", "POST /s/created HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n", "201 Created"},
		// The answer's header handed to the gateway's server, not copied
		// (h1proxied.go), after a request with a body too: the header
		// as of WriteHeader goes out, trailers after the body.
		{"post to chunked with trailers", "POST /s/chunked HTTP/1.1\r\nHost: localhost\r\nTE: trailers\r\nContent-Length: 2\r\n\r\nhi", `X-Sum: ["5"]`},
		{"post to an undeclared trailer", "POST /s/late-trailer HTTP/1.1\r\nHost: localhost\r\nTE: trailers\r\nContent-Length: 2\r\n\r\nhi", `X-Late: ["1"]`},
		{"post to a 1xx series", "POST /s/1xx-series HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi", `X-Hint: ["2"]`},
		{"post to content-length", "POST /s/cl HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi", `X-Upstream: ["1"]`},
		{"post to close-delimited", "POST /s/eof HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi", "until the upstream closes"},
		{"post to 304", "POST /s/304 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi", "304 Not Modified"},
		{"empty and lower-case field", get("empty-value", ""), `X-Empty: [""]`},
		// The body copied through the connection's idle body buffer
		// (copyScratch) up to its size, through 32 KiB beyond.
		{"body filling the scratch but one byte", get("cl-2047", ""), strings.Repeat("a", 2047)},
		{"body the size of the scratch", get("cl-2048", ""), strings.Repeat("b", 2048)},
		{"large body", get("cl-large", ""), "0123456789" + strings.Repeat("0123456789", 9998) + "0123456789"},
		{"large body to a post", "POST /s/cl-large HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi", "0123456789\""},
		{"small body to a post", "POST /s/cl-2047 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi", "aaaa\""},
		{"body the size of the scratch to a post", "POST /s/cl-2048 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi", "bbbb\""},
		{"small body after a large one", get("cl", ""), `"hello"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.compare(t, tt.raw)
			if !strings.Contains(got, tt.want) {
				t.Errorf("answer %q does not contain %q", got, tt.want)
			}
		})
	}
	p.compareMetrics(t)
}

// TestUpstreamPathsKeepAliveSequence: requests one after another on one
// client connection reach the upstream as ReverseProxy sends them, each
// with its own fields only. The direct path builds the upstream header
// of a request without a body in the map of the connection's last one
// (takeUpstreamHeader): a field of an earlier request must not stay, a
// map grown past its one group is let go, and a request with a body
// gets a map of its own in between.
func TestUpstreamPathsKeepAliveSequence(t *testing.T) {
	t.Parallel()
	p := newPathSet(t, allPaths, scripted, nil, nil)
	get := func(extra string) string {
		return "GET /s/cl HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n"
	}
	var many strings.Builder
	for i := range 12 {
		fmt.Fprintf(&many, "X-Many-%d: %d\r\n", i, i)
	}
	sequence := []string{
		get("Accept: */*\r\nX-First: 1\r\nUser-Agent: one\r\n"),
		get("X-Second: 2\r\n"), // no User-Agent: the upstream gets an empty one
		get("TE: trailers\r\nAccept-Language: en\r\n"),
		get(many.String()),
		get("X-After-Many: 1\r\n"),
		"POST /s/cl HTTP/1.1\r\nHost: localhost\r\nX-Post: 1\r\nContent-Length: 2\r\n\r\nhi",
		get("X-After-Post: 1\r\n"),
		get(""),
	}
	answers := make([][]string, len(p.gws))
	for i, gw := range p.gws {
		c := gw.dialRaw(t, gw.w.web)
		for _, raw := range sequence {
			c.send(raw)
			resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("%s: %q: %v", p.modes[i].name, raw, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %q: %s %q, %v", p.modes[i].name, raw, resp.Status, body, err)
			}
			answers[i] = append(answers[i], string(body))
		}
		c.Close()
	}
	up := p.received(t)
	for _, leftover := range []string{"X-First", "X-Many-0", "X-Post"} {
		if n := strings.Count(up[1], leftover); n != 1 {
			t.Errorf("the direct path's upstream got %s %d times, want once:\n%s", leftover, n, up[1])
		}
	}
	for i := 1; i < len(p.gws); i++ {
		if up[i] != up[0] {
			t.Errorf("upstream received different bytes:\n%s:\n%q\n%s:\n%q", p.modes[0].name, up[0], p.modes[i].name, up[i])
		}
		if !slices.Equal(answers[i], answers[0]) {
			t.Errorf("client received different answers:\n%s: %q\n%s: %q", p.modes[0].name, answers[0], p.modes[i].name, answers[i])
		}
	}
}

// TestUpstreamPathsUpgradeCheckOff: with the refusal of unasked 101s
// turned off (the negative control of headers_test.go), such an answer
// still ends in 502 on every path: ReverseProxy refuses a switch nobody
// asked for, and the direct path does as it does.
func TestUpstreamPathsUpgradeCheckOff(t *testing.T) {
	t.Parallel()
	p := newPathSet(t, allPaths, scripted, nil, func(g *gateway.Gateway) { gateway.SetUpgradeCheck(g, false) })
	switches := map[string]string{
		"switch":       answers["switch"].raw,
		"switch-bare":  "HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"switch-upper": "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: \x80\r\n\r\n",
	}
	for path, raw := range switches {
		answers := func(*http.Request) (string, bool) { return raw, true }
		for _, u := range p.ups {
			u.mu.Lock()
			u.answer = answers
			u.mu.Unlock()
		}
		got := p.compare(t, "GET /s/"+path+" HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n")
		if !strings.Contains(got, "502 Bad Gateway") {
			t.Errorf("%s: got %q, want 502", path, got)
		}
	}
}

// TestUpstreamPathsStream: a server-sent event stream, even one of known
// length, and an answer of unknown length reach the client as they come,
// on the direct path as through ReverseProxy: the upstream sends the
// rest only after the client has read the first event.
func TestUpstreamPathsStream(t *testing.T) {
	t.Parallel()
	heads := map[string]string{
		"sse":     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 19\r\n\r\n",
		"chunked": "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
	}
	for _, m := range []pathMode{reverseProxyPath, directPath} {
		for name, head := range heads {
			t.Run(m.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				chunked := name == "chunked"
				event := func(s string) string {
					if chunked {
						return fmt.Sprintf("%x\r\n%s\r\n", len(s), s)
					}
					return s
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				read := make(chan struct{})
				go func() {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					defer conn.Close()
					if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
						return
					}
					io.WriteString(conn, head+event("data: first\n\n"))
					<-read
					rest := event("next\n\n")
					if chunked {
						rest += "0\r\n\r\n"
					}
					io.WriteString(conn, rest)
				}()
				w := newWorld(t)
				cfg := w.config()
				cfg.Routes = append(cfg.Routes, gateway.Route{Name: "stream", PathPrefix: "/s/", Upstream: "http://" + ln.Addr().String(), Allow: gateway.Allow{AnyVerified: true}})
				g, err := gateway.New(cfg, gateway.Options{})
				if err != nil {
					t.Fatal(err)
				}
				m.set(g)
				gw := startHandler(t, w, g)
				c := gw.dialRaw(t, w.web)
				c.send("GET /s/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
				resp, err := http.ReadResponse(c.br, nil)
				if err != nil {
					t.Fatal(err)
				}
				first := make([]byte, len("data: first\n\n"))
				if _, err := io.ReadFull(resp.Body, first); err != nil {
					t.Fatalf("first event: %v", err)
				}
				close(read)
				rest, err := io.ReadAll(resp.Body)
				if err != nil || string(rest) != "next\n\n" {
					t.Errorf("rest: %q, %v; want %q", rest, err, "next\n\n")
				}
			})
		}
	}
}

// TestUpstreamPathsTimeout: an upstream that does not answer in time is
// 504 upstream-timeout on every path. The upstream answers only when the
// test ends, so no load makes it beat the timeout; and compare takes
// what each upstream received once each has the whole request (under
// load the gateway may give up before the upstream read it).
func TestUpstreamPathsTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	received := make(chan struct{}, len(allPaths))
	slow := func(r *http.Request) (string, bool) {
		received <- struct{}{} // it is recorded (recordTo) before this runs
		<-release
		return answers["cl"].raw, false
	}
	p := newPathSet(t, allPaths, slow, func(cfg *gateway.Config) { cfg.Limits.UpstreamResponseHeaderTimeout = 50 * time.Millisecond }, nil)
	t.Cleanup(func() { close(release) })
	p.settle = func() {
		for range p.ups {
			select {
			case <-received:
			case <-time.After(10 * time.Second): // a hang guard, not a speed limit
				t.Fatal("an upstream never got the request")
			}
		}
	}
	got := p.compare(t, "GET /s/cl HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n")
	if !strings.Contains(got, "504 Gateway Timeout") || !strings.Contains(got, "upstream-timeout") {
		t.Errorf("got %q, want 504 upstream-timeout", got)
	}
}

// TestUpstreamConnectionReuse: the gateway's own connections are reused
// only after an answer read to its end, never after a failure, and a
// request without a body that meets a connection the upstream closed while
// idle is sent again on a new one. Each "not reused" case has its reused
// twin. It holds on the direct path as through ReverseProxy.
func TestUpstreamConnectionReuse(t *testing.T) {
	t.Parallel()
	for _, m := range []pathMode{reverseProxyPath, directPath} {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			testUpstreamConnectionReuse(t, m)
		})
	}
}

func testUpstreamConnectionReuse(t *testing.T, m pathMode) {
	w := newWorld(t)
	var mu sync.Mutex
	closeNext := false // the upstream closes after its next answer, without saying so
	up := newScriptedUpstream(t, func(r *http.Request) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		c := closeNext
		closeNext = false
		if r.URL.Path == "/s/stall" {
			// Part of the body, then nothing: the connection stays open.
			// Streamed (chunked), so that the gateway passes on what came.
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n" + strings.Repeat("x", 10) + "\r\n", c
		}
		a, _ := scripted(r)
		return a, c
	})
	cfg := w.config()
	cfg.Routes = append(cfg.Routes, gateway.Route{Name: "scripted", PathPrefix: "/s/", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}})
	g, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.set(g)
	gw := startHandler(t, w, g)
	c := gw.client(w.web)

	get := func(path string) int {
		t.Helper()
		status, _ := do(t, c, "GET", gw.base+path, nil, "")
		return status
	}
	steps := []struct {
		name      string
		run       func()
		wantConns int // upstream connections opened so far
	}{
		{"first request dials", func() { get("/s/cl") }, 1},
		{"answer read to its end: reused", func() { get("/s/cl"); get("/s/chunked"); get("/s/204") }, 1},
		{"upstream failure: not reused", func() { get("/s/garbage") }, 1},
		{"after the failure a new connection", func() { get("/s/cl") }, 2},
		{"reused again", func() { get("/s/cl") }, 2},
		{"closed while idle: sent again on a new connection", func() {
			mu.Lock()
			closeNext = true
			mu.Unlock()
			get("/s/cl") // answered, then the upstream closes
			// The first two: the failed one and this one. The gateway
			// then finds the close at its idle check, or replays the
			// request when its write or read meets it: either way a
			// new connection.
			up.waitClosed(t, 2)
			if s := get("/s/cl"); s != 200 {
				t.Errorf("GET after the upstream closed an idle connection: status %d, want 200", s)
			}
		}, 3},
		{"client leaves mid-body: not reused", func() {
			raw := gw.dialRaw(t, w.web)
			raw.send("GET /s/stall HTTP/1.1\r\nHost: localhost\r\n\r\n")
			if resp, err := http.ReadResponse(raw.br, nil); err != nil || resp.StatusCode != 200 {
				t.Fatalf("stalled answer: %v, %v", resp, err)
			}
			raw.Close()
			// The gateway lets go of the stalled connection: closed,
			// never back in the pool.
			up.waitClosed(t, 3)
			get("/s/cl")
		}, 4},
	}
	for _, s := range steps {
		s.run()
		if got := up.connections(); got != s.wantConns {
			t.Fatalf("%s: %d upstream connections, want %d", s.name, got, s.wantConns)
		}
	}
}

// FuzzUpstreamPaths: for any request the gateway forwards and any bytes an
// upstream answers with, the direct path and ReverseProxy, and the
// gateway's own connections and net/http's Transport, deliver the same
// bytes to the upstream and to the client.
func FuzzUpstreamPaths(f *testing.F) {
	for _, a := range answers {
		f.Add(uint8(0), "x", "", a.raw)
	}
	f.Add(uint8(1), "y", "X-Custom: v\r\nAccept-Encoding: gzip\r\n", answers["chunked"].raw)
	f.Add(uint8(2), "z", "Content-Type: text/plain\r\n", answers["hints"].raw)
	f.Add(uint8(3), "a?b=c", "Accept: */*\r\n", "HTTP/1.1 200 OK\r\nTrailer: X-A\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: 1\r\n\r\n")
	f.Add(uint8(4), "q?a=1;b=2&c=%zz", "Connection: keep-alive, X-Named\r\nX-Named: 1\r\nTE: trailers\r\nX_Under: 1\r\n", answers["hop"].raw)
	f.Add(uint8(0), "sse", "Accept: text/event-stream\r\n", answers["sse"].raw)
	var mu sync.Mutex
	answer := ""
	// The upstream closes after every answer, so that no connection
	// carries the state one input left (an answer longer or shorter than
	// its framing says) into the next: each input is judged alone.
	// Reuse is TestUpstreamConnectionReuse's and the table's business.
	p := newPathSet(f, allPaths, func(*http.Request) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		return answer, true
	}, func(cfg *gateway.Config) { cfg.Limits.UpstreamResponseHeaderTimeout = 2 * time.Second }, nil)
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}
	f.Fuzz(func(t *testing.T, method uint8, path, headers, raw string) {
		// The request must be one the gateway forwards as it is: a valid
		// path and header block (the gateway's own checks are tested
		// elsewhere).
		if strings.ContainsAny(path, " \r\n#") || !validHeaderBlock(headers) || len(raw) > 4096 {
			t.Skip()
		}
		m := methods[int(method)%len(methods)]
		req := m + " /s/" + path + " HTTP/1.1\r\nHost: localhost\r\n" + headers
		if m == "POST" || m == "PUT" || m == "PATCH" {
			req += "Content-Length: 4\r\n\r\nbody"
		} else {
			req += "\r\n"
		}
		mu.Lock()
		answer = raw
		mu.Unlock()
		p.compare(t, req)
	})
}

// validHeaderBlock reports whether s is zero or more "Name: value\r\n"
// lines with a token name, a printable value, and no framing header
// (hop-by-hop headers are welcome: Connection, TE, Upgrade, Trailer).
func validHeaderBlock(s string) bool {
	for s != "" {
		line, rest, ok := strings.Cut(s, "\r\n")
		if !ok {
			return false
		}
		s = rest
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return false
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
		for i := 0; i < len(value); i++ {
			if value[i] < 0x20 || value[i] > 0x7e {
				return false
			}
		}
		switch strings.ToLower(name) {
		case "content-length", "transfer-encoding", "host", "expect":
			return false
		}
	}
	return true
}

// TestUpstreamPathsHTTP2: requests from an HTTP/2 client take the direct
// path too; the upstream receives the same bytes and the client the same
// answer as through ReverseProxy.
func TestUpstreamPathsHTTP2(t *testing.T) {
	t.Parallel()
	p := newPathSet(t, []pathMode{reverseProxyPath, directPath}, scripted, nil, nil)
	tests := []struct {
		name, method, path string
		header             http.Header
		body               string
		unknownLength      bool
		want               string
	}{
		{"content-length", "GET", "cl", http.Header{"Accept": {"*/*"}}, "", false, `"hello"`},
		{"chunked with trailers", "GET", "chunked", http.Header{"Te": {"trailers"}}, "", false, `X-Sum: ["5"]`},
		{"undeclared trailer", "GET", "late-trailer", nil, "", false, `X-Late: ["1"]`},
		{"server-sent events", "GET", "sse", nil, "", false, "data: 2"},
		{"early hints", "GET", "hints", nil, "", false, `"ok"`},
		{"204", "GET", "204", nil, "", false, "204 No Content"},
		{"head", "HEAD", "head", nil, "", false, "200 OK"},
		{"response hop-by-hop removed", "GET", "hop-kept", nil, "", false, `X-Kept: ["1"]`},
		{"cookies hardened", "GET", "cookie", nil, "", false, "SameSite=Lax"},
		{"not HTTP", "GET", "garbage", http.Header{"Accept": {"application/json"}}, "", false, "upstream-unavailable"},
		{"post", "POST", "created", http.Header{"Content-Type": {"application/json"}}, `{"a":1}`, false, "201 Created"},
		{"post of unknown length", "POST", "created", nil, "hello", true, "201 Created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]string, len(p.gws))
			for i, gw := range p.gws {
				var body io.Reader
				if tt.body != "" {
					body = strings.NewReader(tt.body)
					if tt.unknownLength {
						body = io.MultiReader(body) // no length known
					}
				}
				req, err := http.NewRequest(tt.method, gw.base+"/s/"+tt.path, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = "localhost" // the connection's SNI
				maps.Copy(req.Header, tt.header)
				resp, err := h2Conn(t, gw, "localhost", gw.w.web).RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var sb strings.Builder
				fmt.Fprintf(&sb, "%s %s\n", resp.Proto, resp.Status)
				writeFields(&sb, resp.Header)
				fmt.Fprintf(&sb, "\n%q\n", b)
				writeFields(&sb, resp.Trailer)
				got[i] = sb.String()
			}
			up := p.received(t)
			if up[1] != up[0] {
				t.Errorf("upstream received different bytes:\nReverseProxy:\n%q\ndirect path:\n%q", up[0], up[1])
			}
			if got[1] != got[0] {
				t.Errorf("client received different answers:\nReverseProxy:\n%q\ndirect path:\n%q", got[0], got[1])
			}
			if !strings.Contains(got[0], tt.want) || !strings.HasPrefix(got[0], "HTTP/2.0") {
				t.Errorf("answer %q does not contain %q over HTTP/2", got[0], tt.want)
			}
		})
	}
}

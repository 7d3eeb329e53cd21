package gateway

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Requests to two upstream hosts through one transport, alternating and
// in runs, each reach their own host (the transport looks up each host's
// pool) and reuse that host's connections.
func TestUpstreamTransportHosts(t *testing.T) {
	conns := map[string]map[string]bool{}
	newHost := func(name string) *httptest.Server {
		conns[name] = map[string]bool{}
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conns[name][r.RemoteAddr] = true // one request at a time: no race
			io.WriteString(w, name)
		}))
	}
	a, b := newHost("a"), newHost("b")
	defer a.Close()
	defer b.Close()
	tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: 4}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	for i, name := range []string{"a", "b", "a", "a", "b", "b", "a", "b"} {
		srv := a
		if name == "b" {
			srv = b
		}
		u, _ := url.Parse(srv.URL + "/")
		req := &http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("request %d to %s: %v", i, name, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != name {
			t.Fatalf("request %d for %s reached %q", i, name, body)
		}
	}
	for name, seen := range conns {
		if len(seen) != 1 {
			t.Errorf("host %s saw %d connections, want 1 (reused)", name, len(seen))
		}
	}
}

// A route's proxy holds the transport's pool of its upstream host, the
// one RoundTrip finds for that host: routes to the same host, with the
// default port written or not, share it, and the direct path and
// ReverseProxy (RoundTrip) share its connections; a route to another
// host has its own, and an https route none (its requests go to the
// standard transport).
func TestDirectProxyHostPool(t *testing.T) {
	tr := newUpstreamTransport(Limits{}, &http.Transport{}, nil)
	proxy := func(upstream string) *directProxy {
		u, err := url.Parse(upstream)
		if err != nil {
			t.Fatal(err)
		}
		return newProxy(&route{upstream: u}, tr, &compiled{}, slog.New(slog.DiscardHandler))
	}
	a, a80, b, tls := proxy("http://a.test"), proxy("http://a.test:80/x"), proxy("http://b.test:8080"), proxy("https://a.test")
	if a.hp == nil || a.hp.addr != "a.test:80" || a80.hp != a.hp {
		t.Errorf("routes to a.test: pools %p (%+v) and %p, want one for a.test:80", a.hp, a.hp, a80.hp)
	}
	if b.hp == nil || b.hp.addr != "b.test:8080" || b.hp == a.hp {
		t.Errorf("route to b.test:8080: pool %+v, want its own", b.hp)
	}
	if tls.hp != nil {
		t.Errorf("https route: pool %+v, want none", tls.hp)
	}
	for _, host := range []string{"a.test", "a.test:80"} {
		if hp := tr.host(canonicalAddr(host)); hp != a.hp {
			t.Errorf("RoundTrip's pool for %s is not the route's", host)
		}
	}
}

// An exchange whose answer was read whole with its header leaves the
// response header timeout's deadline on the connection (no timer update
// to clear it). The connection is reused after the deadline passed
// (idleAlive's peek ignores it; the exchange arms its own), the timeout still ends
// a slow answer on a reused connection, and a body that streams for
// longer than the timeout is read whole.
//
// The waits are bounds, not margins: the idle one lasts until the left
// deadline, read from the pooled connection, has passed; the slow answer
// never comes before the gateway gives up; the stream's second part
// comes a timeout after its handler started, later than the gateway's
// deadline, set before it sent the request. Load can only make them
// longer. The one margin is the timeout itself, which the two quick
// answers must beat: a second, for loaded -race runs.
func TestUpstreamHeaderDeadlineLeftOn(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	var mu sync.Mutex
	conns := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr]++
		mu.Unlock()
		switch r.URL.Path {
		case "/slow":
			select {
			case <-r.Context().Done(): // the gateway gave up and closed
			case <-time.After(10 * time.Second): // a hang guard
			}
		case "/stream":
			w.Header().Set("Content-Length", "6")
			w.Write([]byte("abc"))
			w.(http.Flusher).Flush()
			time.Sleep(timeout)
			w.Write([]byte("def"))
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: 4, UpstreamResponseHeaderTimeout: timeout}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	get := func(path string) (string, error) {
		u, _ := url.Parse(srv.URL + path)
		return answerBody(tr.RoundTrip(&http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}))
	}
	if body, err := get("/"); err != nil || body != "ok" {
		t.Fatalf("first: %q, %v", body, err)
	}
	// The left deadline passes while the connection idles.
	hp := tr.host(canonicalAddr(strings.TrimPrefix(srv.URL, "http://")))
	hp.mu.Lock()
	if len(hp.idle) != 1 || hp.idle[0].dl.armed.IsZero() {
		hp.mu.Unlock()
		t.Fatal("no idle connection with a deadline left on it")
	}
	left := hp.idle[0].dl.armed
	hp.mu.Unlock()
	time.Sleep(time.Until(left) + time.Millisecond)
	if body, err := get("/"); err != nil || body != "ok" {
		t.Fatalf("after the deadline passed: %q, %v", body, err)
	}
	// hostPool.get leaves the past deadline on (idleAlive's peek does
	// not see it); the exchange armed its own over it before reading.
	hp.mu.Lock()
	if len(hp.idle) != 1 || !hp.idle[0].dl.armed.After(left) {
		hp.mu.Unlock()
		t.Fatal("the reused connection's exchange did not arm a deadline of its own")
	}
	hp.mu.Unlock()
	mu.Lock()
	if len(conns) != 1 {
		t.Fatalf("%d upstream connections, want 1: the idle connection was not reused", len(conns))
	}
	mu.Unlock()
	if _, err := get("/slow"); err == nil || !isTimeout(err) {
		t.Fatalf("slow answer on a reused connection: %v, want a timeout", err)
	}
	if body, err := get("/stream"); err != nil || body != "abcdef" {
		t.Fatalf("a body streaming past the header timeout: %q, %v", body, err)
	}
}

// An answer's body is memory of its own request (the direct path's
// directRequest.answer), never of the connection: closing an answer
// after its connection went back to the pool and carries the next
// exchange changes nothing of that exchange. The negative control is a
// body shared by the two exchanges, as one kept on the connection would
// be: the late Close then ends the second answer.
func TestUpstreamAnswerBodyOwnMemory(t *testing.T) {
	var mu sync.Mutex
	conns := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: 4}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	u, _ := url.Parse(srv.URL + "/")
	get := func(ub *upstreamBody) *http.Response {
		t.Helper()
		res, err := tr.roundTrip(&http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}, nil, nil, ub)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, tt := range []struct {
		name   string
		shared bool
	}{{"own", false}, {"shared (negative control)", true}} {
		t.Run(tt.name, func(t *testing.T) {
			var first, second upstreamBody
			r1 := get(&first)
			if b, err := io.ReadAll(r1.Body); err != nil || string(b) != "hello" {
				t.Fatalf("first answer %q, %v", b, err)
			}
			ub := &second
			if tt.shared {
				ub = &first
			}
			r2 := get(ub) // on the connection the first answer gave back
			r1.Body.Close()
			b, err := io.ReadAll(r2.Body)
			r2.Body.Close()
			if ok := err == nil && string(b) == "hello"; ok == tt.shared {
				t.Errorf("second answer after the first's late Close: %q, %v", b, err)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 1 {
		t.Errorf("%d upstream connections, want 1: each second exchange reused the first's", len(conns))
	}
}

// firedConn notes when a read on it fails on its deadline.
type firedConn struct {
	net.Conn
	once  sync.Once
	fired chan struct{} // closed at the first deadline error
}

func (c *firedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if isDeadlineErr(err) {
		c.once.Do(func() { close(c.fired) })
	}
	return n, err
}

// TestUpstreamHeaderWaitPastEarlierDeadline, over a real socket: the
// second exchange on a kept connection wants a header deadline later than
// the one the first left armed (readDeadline notes it), and the upstream
// answers only once that earlier one fired. The answer is read (the
// early timeout reads again); its twin answers only after the gateway
// gave up (its own deadline: it closed the connection), and gets the
// timeout.
//
// The margins are a second each way, for loaded -race runs: the answer
// right after the early timeout has the gap between the two exchanges'
// deadlines to arrive, and the gap must not last until the first
// exchange's deadline passes.
func TestUpstreamHeaderWaitPastEarlierDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	const gap = timeout / 2 // between the two exchanges
	for _, tc := range []struct {
		name  string
		allow bool
	}{
		{"answer before the wanted deadline", true},
		{"answer after the wanted deadline", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fired := make(chan struct{})
			var waits atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/wait" {
					waits.Add(1)
					select {
					case <-fired:
						if !tc.allow {
							<-r.Context().Done() // the gateway gave up and closed
						}
					case <-time.After(10 * time.Second): // the early timeout never came
					}
				}
				io.WriteString(w, "ok")
			}))
			defer srv.Close()
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: 4, UpstreamResponseHeaderTimeout: timeout}, &http.Transport{}, nil)
			defer tr.CloseIdleConnections()
			u, _ := url.Parse(srv.URL + "/")
			hp := tr.host(canonicalAddr(u.Host))
			pc := &upConn{conn: &firedConn{Conn: conn, fired: fired}, limit: -1}
			pc.br = bufio.NewReader(pc)
			pc.bw = bufio.NewWriter(pc.conn)
			hp.put(pc)
			get := func(path string) (string, error) {
				return answerBody(tr.roundTrip(&http.Request{Method: "GET", URL: u.JoinPath(path), Host: u.Host, Header: http.Header{}}, hp, nil, nil))
			}
			if body, err := get("/"); err != nil || body != "ok" {
				t.Fatalf("first exchange: %q, %v", body, err)
			}
			if got := hp.get(time.Time{}, false); got != pc {
				t.Fatal("the first exchange's connection did not go back to the pool")
			} else {
				hp.put(got)
			}
			time.Sleep(gap)
			body, err := get("/wait")
			select {
			case <-fired:
			default:
				t.Fatalf("the earlier deadline never fired (%q, %v): the case shows nothing", body, err)
			}
			if tc.allow {
				if err != nil || body != "ok" {
					t.Fatalf("an answer before the wanted deadline: %q, %v", body, err)
				}
			} else if err == nil || !isTimeout(err) {
				t.Fatalf("an answer after the wanted deadline: %q, %v; want a timeout", body, err)
			}
			if n := waits.Load(); n != 1 {
				t.Fatalf("the upstream got the second request %d times, want once", n)
			}
		})
	}
}

// TestUpstreamHeaderTimeoutNotReplayed: an answer that does not come in
// UpstreamResponseHeaderTimeout on a reused connection is a timeout, sent
// to the upstream once. It is not the idle close race that a request
// without a body is sent again for (TestUpstreamRetryAfterIdleClose, the
// twin that is): sent again on each idle connection in turn, a GET waited
// the timeout once per pooled connection and reached the upstream as
// often.
//
// The upstream holds the request until the gateway gives up, so the
// timeout is a margin only for the request to reach the upstream at all:
// a second, for loaded -race runs.
func TestUpstreamHeaderTimeoutNotReplayed(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	const idle = 3
	var slow atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			slow.Add(1)
			select {
			case <-r.Context().Done(): // the gateway gave up and closed
			case <-time.After(10 * time.Second):
			}
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: idle, UpstreamResponseHeaderTimeout: timeout}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	u, _ := url.Parse(srv.URL + "/slow")
	hp := tr.host(canonicalAddr(u.Host))
	for range idle {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		pc := &upConn{conn: conn, limit: -1}
		pc.br = bufio.NewReader(pc)
		pc.bw = bufio.NewWriter(conn)
		hp.put(pc) // reused: it counts as one that served an exchange
	}
	_, err := tr.roundTrip(&http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}, hp, nil, nil)
	if err == nil || !isTimeout(err) {
		t.Fatalf("a slow answer on a reused connection: %v, want a timeout", err)
	}
	if n := slow.Load(); n != 1 {
		t.Fatalf("the upstream got the slow request %d times, want once", n)
	}
}

// answerBody is the body of an exchange's answer (res, err), read whole
// and closed, or the exchange's error.
func answerBody(res *http.Response, err error) (string, error) {
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

// TestPoolIdleCheckAt: hostPool.get measures a connection's idle time at
// the now it is given (the direct path's request start), not at a clock
// read of its own: a connection idle for exactly the timeout at that now
// is taken, one idle a nanosecond longer is closed, and one put back
// after that now (by another request) is not idle at all. With a zero
// now, get reads the clock.
func TestPoolIdleCheckAt(t *testing.T) {
	const timeout = time.Minute
	newPool := func() (*hostPool, *upConn, net.Conn) {
		client, server := tcpPair(t)
		hp := &hostPool{addr: "a.test:80", max: 4, idleTimeout: timeout}
		pc := &upConn{conn: client, limit: -1}
		pc.br = bufio.NewReader(pc)
		pc.bw = bufio.NewWriter(pc.conn)
		hp.idle = append(hp.idle, pc) // as put, without its sweep timer
		pc.idleAt = time.Now()
		return hp, pc, server
	}
	for _, tc := range []struct {
		name  string
		now   func(idleAt time.Time) time.Time
		taken bool
	}{
		{"idle for the timeout", func(at time.Time) time.Time { return at.Add(timeout) }, true},
		{"idle past the timeout", func(at time.Time) time.Time { return at.Add(timeout + 1) }, false},
		{"put back after now", func(at time.Time) time.Time { return at.Add(-time.Second) }, true},
		{"zero now: the clock", func(time.Time) time.Time { return time.Time{} }, true},
		{"zero now, idle past the timeout", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hp, pc, server := newPool()
			now := time.Time{}
			if tc.now != nil {
				now = tc.now(pc.idleAt)
			} else {
				pc.idleAt = time.Now().Add(-timeout - time.Second)
			}
			got := hp.get(now, false)
			if (got == pc) != tc.taken {
				t.Fatalf("got %v, want the connection taken: %v", got, tc.taken)
			}
			if !tc.taken {
				// Closed, not only left out: the upstream sees its end.
				server.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := server.Read(make([]byte, 1)); err != io.EOF {
					t.Fatalf("the expired connection's peer read %v, want EOF", err)
				}
			}
		})
	}
}

// TestRoundTripIdleCheckAtRequestStart: roundTrip's idle check takes
// the start of the request's exchange for now (see hostPool.get) on
// ReverseProxy's path (RoundTrip, under the 1xx trace ReverseProxy adds
// to the context) as on the direct path, which calls roundTrip with the
// same request context: a connection idle for the timeout at that start
// is taken, though it is idle for longer at the clock. Without an
// exchange, or one without a start, the clock decides, and the
// connection is closed and another dialled.
func TestRoundTripIdleCheckAtRequestStart(t *testing.T) {
	const timeout = time.Minute
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RemoteAddr)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/")
	idleAt := time.Now().Add(-2 * timeout)
	withExchange := func(start time.Time) context.Context {
		ctx := &exchangeContext{Context: context.Background(), x: &exchange{start: start}}
		return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{})
	}
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		body  bool
		taken bool
	}{
		{"exchange started when the connection was idle for the timeout", withExchange(idleAt.Add(timeout)), false, true},
		{"exchange started when it was idle for longer", withExchange(idleAt.Add(timeout + 1)), false, false},
		{"exchange without a start: the clock", withExchange(time.Time{}), false, false},
		{"no exchange: the clock", context.Background(), false, false},
		// A handler may read the body before the round trip (a form
		// token), so the start can be as old as the upload.
		{"a body: the clock, whenever the exchange started", withExchange(idleAt.Add(timeout)), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: 4, UpstreamIdleConnTimeout: timeout}, &http.Transport{}, nil)
			defer tr.CloseIdleConnections()
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			pc := &upConn{conn: conn, limit: -1, idleAt: idleAt}
			pc.br = bufio.NewReader(pc)
			pc.bw = bufio.NewWriter(pc.conn)
			hp := tr.host(canonicalAddr(u.Host))
			hp.idle = append(hp.idle, pc) // as put, without its sweep timer
			req := (&http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}).WithContext(tc.ctx)
			if tc.body {
				req.Method, req.Body, req.ContentLength = "POST", io.NopCloser(strings.NewReader("x")), 1
			}
			from, err := answerBody(tr.RoundTrip(req))
			if err != nil {
				t.Fatal(err)
			}
			if taken := from == conn.LocalAddr().String(); taken != tc.taken {
				t.Errorf("the idle connection taken: %v, want %v", taken, tc.taken)
			}
		})
	}
}

// TestUpstreamRequestSortedInClientBuffer: a request the gateway's own
// HTTP/1.x server serves has its upstream head's fields sorted in the
// client connection's fieldBuf (h1ReqCtx.fields, which its answer's
// header uses next), not the upstream connection's; any other request
// (no h1ReqCtx) in the upstream connection's.
func TestUpstreamRequestSortedInClientBuffer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("A")+r.Header.Get("B"))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/")
	for _, own := range []bool{true, false} {
		tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: 4}, &http.Transport{}, nil)
		defer tr.CloseIdleConnections()
		hp := tr.host(canonicalAddr(u.Host))
		var client fieldBuf
		ctx := context.Background()
		if own {
			ctx = &h1ReqCtx{Context: ctx, fields: &client}
		}
		req := (&http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{"B": {"2"}, "A": {"1"}}}).WithContext(ctx)
		body, err := answerBody(tr.roundTrip(req, hp, nil, nil))
		if err != nil || body != "12" {
			t.Fatalf("h1ReqCtx %v: got %q, %v, want 12", own, body, err)
		}
		pc := hp.get(time.Time{}, false)
		if pc == nil {
			t.Fatal("the connection did not go back to the pool")
		}
		if inClient, inUpstream := cap(client) > 0, cap(pc.fields) > 0; inClient != own || inUpstream == own {
			t.Errorf("h1ReqCtx %v: sorted in the client's buffer %v, in the upstream connection's %v", own, inClient, inUpstream)
		}
		if own && client[:cap(client)][0].values != nil {
			t.Error("the client's buffer keeps the upstream request's header alive")
		}
	}
}

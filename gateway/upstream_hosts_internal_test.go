package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
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
// (hostPool.get clears it for idleAlive's peek), the timeout still ends
// a slow answer on a reused connection, and a body that streams for
// longer than the timeout is read whole.
func TestUpstreamHeaderDeadlineLeftOn(t *testing.T) {
	const timeout = 100 * time.Millisecond
	var mu sync.Mutex
	conns := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns[r.RemoteAddr]++
		mu.Unlock()
		switch r.URL.Path {
		case "/slow":
			time.Sleep(3 * timeout)
		case "/stream":
			w.Header().Set("Content-Length", "6")
			w.Write([]byte("abc"))
			w.(http.Flusher).Flush()
			time.Sleep(2 * timeout)
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
		res, err := tr.RoundTrip(&http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}})
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return string(b), err
	}
	if body, err := get("/"); err != nil || body != "ok" {
		t.Fatalf("first: %q, %v", body, err)
	}
	time.Sleep(2 * timeout) // the left deadline passes while the connection idles
	if body, err := get("/"); err != nil || body != "ok" {
		t.Fatalf("after the deadline passed: %q, %v", body, err)
	}
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

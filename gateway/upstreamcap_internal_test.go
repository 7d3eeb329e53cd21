package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// capGet sends a GET for srv through tr, with an Upgrade header when
// upgrade (net/http's Transport sends it then, not the own pool), and
// reads its answer to the end.
func capGet(t *testing.T, tr *upstreamTransport, srv *httptest.Server, upgrade bool) error {
	t.Helper()
	u, _ := url.Parse(srv.URL + "/")
	req := &http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
	}
	res, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body)
	return res.Body.Close()
}

// Under a cap of one connection, a connection kept idle in one path's
// pool does not lock the other path out: a WebSocket handshake (sent by
// net/http's Transport) to an upstream whose only slot an idle own
// connection holds gets that slot, and so does a plain request after
// it. Before, the handshake waited the whole wait and was refused
// upstream-busy, while the idle connection sat there. The wait is long
// so that a failure is the bug, not a slow machine; the test asserts no
// duration.
func TestUpstreamCapIdleOfOtherPath(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok") // not a 101: the handshake's connection may go idle too
	}))
	defer srv.Close()
	// Both ways: plain requests then a handshake (std waits for the own
	// pool's idle connection), and a refused handshake then plain
	// requests (the own pool waits for std's).
	for _, order := range [][]bool{{false, false, true}, {true, false, false}} {
		tr := newUpstreamTransport(Limits{UpstreamMaxConnsPerHost: 1, UpstreamDialTimeout: 30 * time.Second, UpstreamMaxIdleConnsPerHost: 4}, &http.Transport{}, nil)
		for i, upgrade := range order {
			if err := capGet(t, tr, srv, upgrade); err != nil {
				if errors.Is(err, errUpstreamBusy) {
					t.Fatalf("%v: request %d (upgrade %v): %v: an idle connection of the other path kept the slot", order, i, upgrade, err)
				}
				t.Fatalf("%v: request %d (upgrade %v): %v", order, i, upgrade, err)
			}
		}
		tr.CloseIdleConnections()
	}
}

// Under a cap of one connection, every way an exchange on the own pool
// ends gives its slot back exactly once: a dial refused, an answer with
// Connection: close, a body closed unread, a request cancelled while its
// answer streams, a connection the upstream drops before answering (a
// retry), a 101 nobody asked for, and an expired idle connection. A
// slot kept would make the next request wait the whole wait and fail
// upstream-busy; one released twice would block its closer forever (the
// test's timeout). The wait is long so that a failure is a leak, not a
// slow machine.
func TestUpstreamCapReleasedOnEveryPath(t *testing.T) {
	var drops atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/close":
			w.Header().Set("Connection", "close")
		case "/stream":
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		case "/drop":
			if drops.Add(1)%2 == 1 {
				c, _, _ := w.(http.Hijacker).Hijack()
				c.Close()
				return
			}
		case "/switch":
			c, bw, _ := w.(http.Hijacker).Hijack()
			bw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			bw.Flush()
			c.Close()
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	deadURL := "http://127.0.0.1:1" // nothing listens (a closed test server's port may be reused)

	tr := newUpstreamTransport(Limits{UpstreamMaxConnsPerHost: 1, UpstreamDialTimeout: 30 * time.Second, UpstreamMaxIdleConnsPerHost: 4, UpstreamIdleConnTimeout: time.Hour}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	send := func(base, path string, ctx context.Context, read bool) (*http.Response, error) {
		u, _ := url.Parse(base + path)
		req := (&http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}).WithContext(ctx)
		res, err := tr.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		if read {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		return res, nil
	}
	ok := func(step string) {
		t.Helper()
		if _, err := send(srv.URL, "/", context.Background(), true); err != nil {
			t.Fatalf("after %s: %v", step, err)
		}
	}
	bg := context.Background()
	ok("nothing")
	// Dials to an address with nothing listening: its own pool, and
	// slots, for that address.
	for range 3 {
		if _, err := send(deadURL, "/", bg, true); err == nil || errors.Is(err, errUpstreamBusy) {
			t.Fatalf("a dial to a closed port: got %v, want a dial error", err)
		}
	}
	if _, err := send(deadURL, "/", bg, true); errors.Is(err, errUpstreamBusy) {
		t.Fatal("failed dials kept their slots")
	}
	for range 3 {
		send(srv.URL, "/close", bg, true)
	}
	ok("answers with Connection: close")
	for range 3 {
		if res, err := send(srv.URL, "/", bg, false); err == nil {
			res.Body.Close()
		}
	}
	ok("bodies closed unread")
	for range 3 {
		ctx, cancel := context.WithCancel(bg)
		res, err := send(srv.URL, "/stream", ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	ok("requests cancelled while their answer streamed")
	for range 4 {
		send(srv.URL, "/drop", bg, true)
	}
	ok("connections dropped before an answer")
	for range 3 {
		if res, err := send(srv.URL, "/switch", bg, false); err == nil {
			res.Body.Close()
		}
	}
	ok("unasked 101s")
	hp := tr.host(canonicalAddr(strings.TrimPrefix(srv.URL, "http://")))
	hp.mu.Lock()
	for _, pc := range hp.idle {
		pc.idleAt = time.Now().Add(-2 * time.Hour)
	}
	hp.mu.Unlock()
	ok("an expired idle connection")
	tr.CloseIdleConnections()
	ok("CloseIdleConnections")
	if n := len(hp.slots); n > 1 {
		t.Errorf("%d slots held, want at most 1 (the idle connection)", n)
	}
}

// gatedUpstream is a loopback upstream that counts the connections it
// accepted. It answers /free at once; any other request it reports on
// arrived, then answers once gate lets it (a value, or closed).
func gatedUpstream(t *testing.T, arrived chan<- struct{}, gate <-chan struct{}) (*httptest.Server, *atomic.Int32) {
	var accepted atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/free" {
			arrived <- struct{}{}
			<-gate
		}
		io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &accepted
}

// Under a cap of 2 connections and 16 clients sending 10 requests each,
// a connection whose answer was read goes as it is to a request waiting
// for one: the upstream accepts 2 connections for the 160 requests, and
// answers every one. Before, it was closed for the waiter to dial a new
// one: a close and a dial per request under overload, when the upstream
// is busiest. The first answers wait until every client has started, so
// that the rest find the cap full; the wait is long so that a failure is
// the bug, not a slow machine.
func TestUpstreamCapHandsOff(t *testing.T) {
	const conns, clients, each = 2, 16, 10
	arrived := make(chan struct{}, clients*each)
	gate := make(chan struct{})
	srv, accepted := gatedUpstream(t, arrived, gate)
	tr := newUpstreamTransport(Limits{UpstreamMaxConnsPerHost: conns, UpstreamDialTimeout: 30 * time.Second, UpstreamMaxIdleConnsPerHost: 4}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	started := make(chan struct{}, clients)
	errs := make(chan error, clients*each)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			started <- struct{}{}
			for range each {
				errs <- capGet(t, tr, srv, false)
			}
		})
	}
	for range clients {
		<-started
	}
	for range conns {
		<-arrived
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := accepted.Load(); n != conns {
		t.Errorf("the upstream accepted %d connections for %d requests, want %d", n, clients*each, conns)
	}
}

// TestUpstreamCapHandsOff's twin: requests cancelled while they wait,
// as the connections they wait for come back, leak neither a connection
// nor its slot: with nothing in flight and the idle connections closed
// no slot is held, and a later request is served. The cancellations are
// spread over the answers so that some meet a hand-off
// (TestHostPoolHandOffCancelled makes that race on purpose).
func TestUpstreamCapCancelledWaiters(t *testing.T) {
	const conns, waiters = 2, 8
	arrived := make(chan struct{}, conns)
	gate := make(chan struct{})
	srv, _ := gatedUpstream(t, arrived, gate)
	tr := newUpstreamTransport(Limits{UpstreamMaxConnsPerHost: conns, UpstreamDialTimeout: 30 * time.Second, UpstreamMaxIdleConnsPerHost: 4}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	hp := tr.host(canonicalAddr(strings.TrimPrefix(srv.URL, "http://")))
	get := func(ctx context.Context, path string) error {
		u, _ := url.Parse(srv.URL + path)
		req := (&http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}).WithContext(ctx)
		res, err := tr.RoundTrip(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, res.Body)
		return res.Body.Close()
	}
	for round := range 20 {
		var wg sync.WaitGroup
		held := make(chan error, conns)
		for range conns {
			wg.Go(func() { held <- get(context.Background(), "/hold") })
		}
		for range conns {
			<-arrived
		}
		started := make(chan struct{}, waiters)
		waited := make(chan error, waiters)
		cancels := make([]context.CancelFunc, waiters)
		for i := range waiters {
			ctx, cancel := context.WithCancel(context.Background())
			cancels[i] = cancel
			wg.Go(func() {
				started <- struct{}{}
				waited <- get(ctx, "/free")
			})
		}
		for range waiters {
			<-started
		}
		// Each held answer frees a connection for the waiters; half of
		// them are cancelled after each.
		for i := range conns {
			gate <- struct{}{}
			for _, cancel := range cancels[i*waiters/conns : (i+1)*waiters/conns] {
				cancel()
			}
		}
		wg.Wait()
		for range conns {
			if err := <-held; err != nil {
				t.Fatalf("round %d: a held request: %v", round, err)
			}
		}
		for range waiters {
			if err := <-waited; errors.Is(err, errUpstreamBusy) {
				t.Fatalf("round %d: a waiting request: %v", round, err)
			}
		}
		tr.CloseIdleConnections()
		if n := len(hp.slots); n != 0 {
			t.Fatalf("round %d: %d slots held with no connection open, want 0", round, n)
		}
	}
	if err := get(context.Background(), "/free"); err != nil {
		t.Fatalf("a later request: %v", err)
	}
}

// A request refused upstream-busy is no warning, as no refusal of the
// gateway's own limits is: under the overload that causes them, one
// warning each would flood the log; its request line and
// forgeproof_gateway_upstream_refusals_total tell. The twin: an upstream
// timeout, the upstream's failure, still is one.
func TestUpstreamBusyNotWarned(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		warned bool
	}{
		{"busy", errUpstreamBusy, http.StatusServiceUnavailable, false},
		{"timeout", context.DeadlineExceeded, http.StatusGatewayTimeout, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil)) // Info and above
			rt := &route{name: "api", upstream: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}}
			rec := httptest.NewRecorder()
			upstreamError(rec, httptest.NewRequest("GET", "/x", nil), tt.err, rt, nil, log)
			if rec.Code != tt.status {
				t.Errorf("got status %d, want %d", rec.Code, tt.status)
			}
			if got := strings.Contains(buf.String(), "level=WARN"); got != tt.warned {
				t.Errorf("got warned %v, want %v: %q", got, tt.warned, buf.String())
			}
		})
	}
}

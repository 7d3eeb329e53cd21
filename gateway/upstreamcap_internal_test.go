package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

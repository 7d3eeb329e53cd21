package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/forgeproof/forgeproof/gateway"
)

// The tests here measure how many upstream connections clients with a
// valid certificate can hold through requests whose bodies never come
// (HTTP/2 streams opened with HEADERS and no END_STREAM, HTTP/1.1
// requests with a Content-Length and no body), and show the bound
// limits.upstream-max-conns-per-host puts on them.

// heldUpstream is an upstream that counts its open connections (and the
// most it had at once) and reads every request body to its end before
// answering.
type heldUpstream struct {
	URL string
	mu  sync.Mutex
	now int
	max int
}

func newHeldUpstream(t *testing.T) *heldUpstream {
	u := &heldUpstream{}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			fmt.Fprintf(w, "got %d", n)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			u.mu.Lock()
			defer u.mu.Unlock()
			switch s {
			case http.StateNew:
				u.now++
				u.max = max(u.max, u.now)
			case http.StateClosed, http.StateHijacked:
				u.now--
			}
		},
	}
	u.URL = serveLoopback(t, srv)
	return u
}

func (u *heldUpstream) stats() (now, most int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.now, u.max
}

// waitOpen waits until the upstream has want connections open, and
// fails the test when it does not within 20s (a generous bound for a
// busy machine; no duration is asserted).
func (u *heldUpstream) waitOpen(t *testing.T, want int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		now, most := u.stats()
		if now == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("upstream has %d connections open (at most %d), want %d", now, most, want)
		}
	}
}

// holdStreams opens n streams on h, each a POST whose body never comes,
// with stream IDs from first on.
func holdStreams(t *testing.T, h *h2Raw, first uint32, n int) []uint32 {
	t.Helper()
	var ids []uint32
	for i := range n {
		id := first + uint32(2*i)
		blk := h.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/hold/x", "accept", "application/json", "content-length", "10")
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// holdH1 opens an HTTP/1.1 connection and sends a POST whose body never
// comes.
func holdH1(t *testing.T, w *world, gw *running) net.Conn {
	t.Helper()
	c, err := dialTLS(t, gw, "localhost", []string{"http/1.1"}, w.web)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "POST /hold/x HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nContent-Length: 10\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

func holdWorld(t *testing.T, maxConns int) (*world, *heldUpstream, *running) {
	w, cfg := h2World(t)
	up := newHeldUpstream(t)
	cfg.Routes = append(cfg.Routes, gateway.Route{Name: "hold", PathPrefix: "/hold", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}})
	cfg.Limits.HTTP2MaxConcurrentStreams = 10
	cfg.Limits.UpstreamMaxConnsPerHost = maxConns
	cfg.Limits.UpstreamDialTimeout = time.Second // the wait for a free connection
	return w, up, w.start(cfg)
}

// TestUpstreamConnsHeld measures what one client holds with the
// default limits but 10 streams per HTTP/2 connection: every bodiless
// stream of every connection, and every bodiless HTTP/1.1 request, holds
// one upstream connection (until stall-timeout). Nothing bounds the
// number of client connections; only the per-connection stream limit
// and, now, the per-host cap (here its default, far above 35).
func TestUpstreamConnsHeld(t *testing.T) {
	t.Parallel()
	w, up, gw := holdWorld(t, 0)
	const h2Conns, h1Conns = 3, 5
	for range h2Conns {
		h := dialH2Raw(t, gw, "localhost", w.web)
		t.Cleanup(func() { h.conn.Close() })
		holdStreams(t, h, 1, 10)
	}
	for range h1Conns {
		holdH1(t, w, gw)
	}
	up.waitOpen(t, h2Conns*10+h1Conns)
	now, most := up.stats()
	t.Logf("%d HTTP/2 connections x 10 streams + %d HTTP/1.1 connections: the upstream holds %d connections (at most %d)", h2Conns, h1Conns, now, most)
}

// TestUpstreamMaxConnsPerHost: with limits.upstream-max-conns-per-host
// 8, a client that opens 20 bodiless streams on two connections holds 8
// upstream connections and no more; the other 12 get 503 upstream-busy
// once they waited the dial timeout for one, and so does another client
// of the same upstream meanwhile, while a client of another upstream is
// served. When the holder goes, the upstream is served again.
func TestUpstreamMaxConnsPerHost(t *testing.T) {
	t.Parallel()
	w, up, gw := holdWorld(t, 8)
	statuses := make(chan string, 20)
	var hs []*h2Raw
	for range 2 {
		h := dialH2Raw(t, gw, "localhost", w.web)
		t.Cleanup(func() { h.conn.Close() })
		hs = append(hs, h)
		holdStreams(t, h, 1, 10)
		go func() {
			// The streams beyond the cap are answered; the held ones
			// stay open (the stall timeout is 60s).
			h.conn.SetReadDeadline(time.Now().Add(time.Minute))
			for {
				f, err := h.fr.ReadFrame()
				if err != nil {
					return
				}
				if f, ok := f.(*http2.MetaHeadersFrame); ok {
					statuses <- f.PseudoValue("status")
				}
			}
		}()
	}
	up.waitOpen(t, 8)
	for i := range 12 {
		select {
		case s := <-statuses:
			if s != "503" {
				t.Errorf("a stream beyond the cap: got %s, want 503", s)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of the 12 streams beyond the cap answered", i)
		}
	}
	otherGot := sameUpstreamGet(t, w, gw)
	if !strings.Contains(otherGot, "503") || !strings.Contains(otherGot, "upstream-busy") {
		t.Errorf("another client of the held upstream: got %q, want 503 upstream-busy", otherGot)
	}
	servedMeanwhile(t, w, gw, "of another upstream while the cap is held")
	if _, most := up.stats(); most > 8 {
		t.Errorf("the upstream had %d connections open at once, want at most 8", most)
	}
	for _, h := range hs {
		h.conn.Close()
	}
	up.waitOpen(t, 0)
	if got := sameUpstreamGet(t, w, gw); !strings.Contains(got, "200 OK") {
		t.Errorf("after the holder left: got %q, want 200", got)
	}
}

// sameUpstreamGet sends a GET for the held upstream on a new HTTP/1.1
// connection and returns the answer's status line and body.
func sameUpstreamGet(t *testing.T, w *world, gw *running) string {
	t.Helper()
	c, err := dialTLS(t, gw, "localhost", []string{"http/1.1"}, w.web)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, "GET /hold/x HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.Proto + " " + resp.Status + " " + string(body)
}

// TestUpstreamMaxConnsPerHostUpTo is TestUpstreamMaxConnsPerHost's twin:
// 8 bodiless streams under a cap of 8 all reach the upstream, and once
// their bodies come all are answered 200.
func TestUpstreamMaxConnsPerHostUpTo(t *testing.T) {
	t.Parallel()
	w, up, gw := holdWorld(t, 8)
	h := dialH2Raw(t, gw, "localhost", w.web)
	t.Cleanup(func() { h.conn.Close() })
	ids := holdStreams(t, h, 1, 8)
	up.waitOpen(t, 8)
	for _, id := range ids {
		if err := h.fr.WriteData(id, true, []byte("0123456789")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := collect(h, ids...)
	if err != nil {
		t.Fatalf("%v (so far %+v)", err, got)
	}
	for id, a := range got {
		if a.status != http.StatusOK || a.body != "got 10" {
			t.Errorf("stream %d: %+v, want 200 \"got 10\"", id, a)
		}
	}
	if _, most := up.stats(); most > 8 {
		t.Errorf("the upstream had %d connections open at once, want at most 8", most)
	}
}

// TestUpstreamMaxConnsPerHostWebSocket: an open WebSocket holds its
// upstream connection (net/http's Transport dials it) against the cap:
// under a cap of 2, two tunnels open and echo, a third handshake gets
// 503 upstream-busy, and once a tunnel closes a new one opens.
func TestUpstreamMaxConnsPerHostWebSocket(t *testing.T) {
	t.Parallel()
	w, cfg := h2World(t)
	url, ended := echoWebSocket(t)
	cfg.Routes = append(cfg.Routes, gateway.Route{Name: "ws", PathPrefix: "/ws", Upstream: url, Allow: gateway.Allow{AnyVerified: true}})
	cfg.Limits.UpstreamMaxConnsPerHost = 2
	// The wait for a free connection: the last tunnel's handshake may
	// come while the first one's upstream connection is half closed.
	cfg.Limits.UpstreamDialTimeout = 3 * time.Second
	gw := w.start(cfg)
	first, _ := openTunnel(t, gw, w.web, "/ws/a")
	openTunnel(t, gw, w.web, "/ws/b")

	c, err := dialTLS(t, gw, "localhost", []string{"http/1.1"}, w.web)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /ws/c HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: %s\r\nSec-Fetch-Site: same-origin\r\nAccept: application/json\r\n\r\n", gw.base)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "upstream-busy") {
		t.Errorf("a third tunnel: got %d %s, want 503 upstream-busy", resp.StatusCode, body)
	}

	first.Close()
	select {
	case <-ended:
	case <-time.After(20 * time.Second):
		t.Fatal("the upstream did not see the first tunnel end")
	}
	openTunnel(t, gw, w.web, "/ws/d")
}

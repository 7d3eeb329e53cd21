package gateway_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
)

// waitingUpstream answers after release is closed or after its own
// timeout, and reports on gone each request whose context ended first
// (the gateway closed the upstream connection: the client went away),
// and on answered each request it answered (while answered has room).
type waitingUpstream struct {
	*httptest.Server
	started  chan struct{}
	gone     chan struct{}
	release  chan struct{}
	answered chan struct{}
}

func newWaitingUpstream(t *testing.T, timeout time.Duration) *waitingUpstream {
	u := &waitingUpstream{started: make(chan struct{}, 10), gone: make(chan struct{}, 10), release: make(chan struct{}), answered: make(chan struct{}, 10)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.started <- struct{}{}
		select {
		case <-r.Context().Done():
			u.gone <- struct{}{}
			return
		case <-u.release:
		case <-time.After(timeout):
		}
		select {
		case u.answered <- struct{}{}:
		default:
		}
		io.WriteString(w, "late answer")
	}))
	t.Cleanup(u.Close)
	return u
}

func startWaiting(t *testing.T, u *waitingUpstream) (*running, *world) {
	w := newWorld(t)
	cfg := w.config()
	cfg.Routes = append([]gateway.Route{{Name: "slow", PathPrefix: "/slow", Upstream: u.URL, Allow: gateway.Allow{AnyVerified: true}}}, cfg.Routes...)
	return w.start(cfg), w
}

func dialGateway(t *testing.T, gw *running, w *world) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(gw.base, "https://"), &tls.Config{
		RootCAs: w.ca.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"},
		Certificates: []tls.Certificate{w.web.TLSCertificate()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func waitFor(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second): // a hang guard, not a speed limit
		t.Fatalf("timed out waiting: %s", what)
	}
}

// A client that closes its connection while the upstream works on its
// request gets the upstream request cancelled, as net/http's server
// does (its context ends): with h1Server's own request context and with
// a context.WithCancel (the path taken under a cancellable
// BaseContext).
func TestClientGoneCancelsUpstreamRequest(t *testing.T) {
	forEachContextKind(t, func(t *testing.T, own bool) {
		u := newWaitingUpstream(t, 30*time.Second)
		gw, w := startWaiting(t, u)
		gateway.SetOwnContext(gw.g, own)
		leaveDuringSlowRequest(t, dialGateway(t, gw, w), u)
		waitFor(t, u.gone, "the upstream request to be cancelled after the client left")
	})
}

// leaveDuringSlowRequest sends a request the upstream holds and closes
// conn once the upstream has it.
func leaveDuringSlowRequest(t *testing.T, conn io.WriteCloser, u *waitingUpstream) {
	t.Helper()
	io.WriteString(conn, "GET /slow/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
	waitFor(t, u.started, "the request to reach the upstream")
	conn.Close()
}

// The watch timer is armed once and re-armed for what is left when a
// newer request runs (watch): a slow request that starts while the timer
// armed for a quick one on the same connection is still pending (it
// fires when the slow one is younger than bgReadDelay) still gets its
// upstream request cancelled when the client leaves.
func TestClientGoneAfterQuickRequest(t *testing.T) {
	u := newWaitingUpstream(t, 30*time.Second)
	gw, w := startWaiting(t, u)
	for _, gap := range []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 35 * time.Millisecond} {
		conn := dialGateway(t, gw, w)
		br := bufio.NewReader(conn)
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n") // arms the timer
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		time.Sleep(gap)
		leaveDuringSlowRequest(t, conn, u)
		waitFor(t, u.gone, "the upstream request to be cancelled after the client left")
	}
}

// Connections share the server's watch timer: two slow requests on two
// connections, the second started while the timer waits for the first,
// each get their upstream request cancelled when their client leaves.
func TestClientGoneTwoConnections(t *testing.T) {
	u := newWaitingUpstream(t, 30*time.Second)
	gw, w := startWaiting(t, u)
	a, b := dialGateway(t, gw, w), dialGateway(t, gw, w)
	io.WriteString(a, "GET /slow/a HTTP/1.1\r\nHost: localhost\r\n\r\n")
	waitFor(t, u.started, "the first request to reach the upstream")
	time.Sleep(20 * time.Millisecond)
	leaveDuringSlowRequest(t, b, u)
	a.Close()
	waitFor(t, u.gone, "an upstream request to be cancelled after its client left")
	waitFor(t, u.gone, "the other upstream request to be cancelled after its client left")
}

// forEachContextKind runs f with h1Server's own request contexts and
// with context.WithCancel's.
func forEachContextKind(t *testing.T, f func(t *testing.T, own bool)) {
	t.Run("h1ReqCtx", func(t *testing.T) { f(t, true) })
	t.Run("WithCancel", func(t *testing.T) { f(t, false) })
}

// The allowed twin: a client that waits gets the answer on the same
// connection, and its next request too.
func TestClientWaitingGetsSlowAnswer(t *testing.T) {
	forEachContextKind(t, testClientWaitingGetsSlowAnswer)
}

func testClientWaitingGetsSlowAnswer(t *testing.T, own bool) {
	u := newWaitingUpstream(t, 30*time.Second)
	gw, w := startWaiting(t, u)
	gateway.SetOwnContext(gw.g, own)
	conn := dialGateway(t, gw, w)
	br := bufio.NewReader(conn)
	for i := range 2 {
		io.WriteString(conn, "GET /slow/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
		waitFor(t, u.started, "the request to reach the upstream")
		time.Sleep(150 * time.Millisecond) // past bgReadDelay: the watch is running
		if i == 0 {
			close(u.release)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "late answer" {
			t.Fatalf("request %d: got %d %q", i, resp.StatusCode, body)
		}
	}
	select {
	case <-u.gone:
		t.Fatal("an upstream request was cancelled although the client stayed")
	default:
	}
}

// The negative control: without the watch, the upstream works on for a
// client long gone, until its own timeout (a second: twenty times the
// watch's delay, bgReadDelay, after which the watch would have noticed).
// Waiting for that answer, not for a time, ends the test: the upstream
// chose between its timeout and the cancellation then.
func TestClientGoneUnnoticedWithoutWatch(t *testing.T) {
	u := newWaitingUpstream(t, time.Second)
	gw, w := startWaiting(t, u)
	gateway.SetClientWatch(gw.g, false)
	leaveDuringSlowRequest(t, dialGateway(t, gw, w), u)
	select {
	case <-u.answered: // its own timeout passed first
	case <-u.gone:
		t.Fatal("the upstream request was cancelled with the watch off: the control shows nothing")
	case <-time.After(10 * time.Second): // a hang guard, not a speed limit
		t.Fatal("the upstream neither answered nor saw its request cancelled")
	}
}

// Two Host fields in one head are refused (http.ReadRequest refuses
// them, as net/http's server does); so are none and a malformed
// one beside an absolute-form target (whose authority ReadRequest takes).
// One Host field is served.
func TestDuplicateHostRefused(t *testing.T) {
	w := newWorld(t)
	gw := w.start(w.config())
	for _, tc := range []struct {
		name, head string
		want       int
	}{
		{"one Host", "GET /public/x HTTP/1.1\r\nHost: localhost\r\n\r\n", 200},
		{"two Hosts", "GET /public/x HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n", 400},
		{"two Hosts, case", "GET /public/x HTTP/1.1\r\nhost: localhost\r\nHOST: localhost\r\n\r\n", 400},
		{"absolute-form, Host field", "GET https://localhost/public/x HTTP/1.1\r\nHost: localhost\r\n\r\n", 200},
		{"absolute-form, malformed Host field", "GET https://localhost/public/x HTTP/1.1\r\nHost: local\"host\r\n\r\n", 400},
		{"absolute-form, no Host field", "GET https://localhost/public/x HTTP/1.1\r\n\r\n", 400},
		{"Host folded onto two lines", "GET /public/x HTTP/1.1\r\nHost: localhost\r\n :443\r\n\r\n", 400},
		{"after a body", "POST /public/x HTTP/1.1\r\nHost: localhost\r\nOrigin: https://localhost\r\nSec-Fetch-Site: same-origin\r\nContent-Length: 5\r\n\r\nHost:" +
			"GET /public/x HTTP/1.1\r\nHost: localhost\r\n\r\n", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := dialGateway(t, gw, w)
			io.WriteString(conn, tc.head)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Fatalf("got %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stallConn is a net.Conn whose Write records what it is given and, while
// stalled, blocks until released.
type stallConn struct {
	net.Conn // nil: only the methods below are used

	mu       sync.Mutex
	writes   []string
	stall    chan struct{} // non-nil: Write blocks until it is closed
	entered  chan struct{} // receives once per Write that blocks
	failWith error
	closed   bool
	deadline time.Time
}

func (c *stallConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	stall := c.stall
	c.mu.Unlock()
	if stall != nil {
		c.entered <- struct{}{}
		<-stall
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failWith != nil {
		return 0, c.failWith
	}
	if c.closed {
		return 0, net.ErrClosed
	}
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *stallConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return nil
}

func (c *stallConn) state() (writes []string, closed bool, deadline time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.writes), c.closed, c.deadline
}

func newStalled() (*stallConn, func()) {
	c := &stallConn{stall: make(chan struct{}), entered: make(chan struct{}, 16)}
	var once sync.Once
	return c, func() { once.Do(func() { close(c.stall) }) }
}

// waitFor polls cond (no wall-clock threshold: it waits for the writer
// goroutine, which needs no time to pass).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 10000 {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustWrite(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
		t.Fatalf("Write(%q) = %d, %v", s, n, err)
	}
}

// Bytes written while the writer is busy leave together, in order, in
// one write; without batch, each Write is a write of its own.
func TestBatchConnCoalesces(t *testing.T) {
	raw, release := newStalled()
	b := newBatchConn(raw)
	b.batch()
	mustWrite(t, b, "HEADERS")
	<-raw.entered // the writer is in the socket's write
	mustWrite(t, b, "DATA1 ")
	mustWrite(t, b, "DATA2")
	release()
	waitFor(t, "the queue written", func() bool { w, _, _ := raw.state(); return len(w) == 2 })
	if w, closed, _ := raw.state(); !slices.Equal(w, []string{"HEADERS", "DATA1 DATA2"}) || closed {
		t.Fatalf("writes %q (closed %v), want [HEADERS, DATA1 DATA2], open", w, closed)
	}

	// The twin: not batching (HTTP/1.x), every Write goes through at once.
	plain := &stallConn{}
	p := newBatchConn(plain)
	for _, s := range []string{"a", "b", "c"} {
		mustWrite(t, p, s)
	}
	if w, _, _ := plain.state(); !slices.Equal(w, []string{"a", "b", "c"}) {
		t.Fatalf("without batch: writes %q, want [a b c]", w)
	}
}

// Close lets queued bytes go out, then closes; later writes fail. The
// deadline crypto/tls sets after its close_notify (now) does not fail
// the bytes queued before it; it applies after them.
func TestBatchConnCloseDrains(t *testing.T) {
	raw, release := newStalled()
	b := newBatchConn(raw)
	b.batch()
	mustWrite(t, b, "answer")
	<-raw.entered
	mustWrite(t, b, "goaway")
	mustWrite(t, b, "close_notify")
	if err := b.SetWriteDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, closed, dl := raw.state(); closed || dl.IsZero() {
		t.Fatalf("closed %v, deadline %v while writing: want open, with the drain's deadline", closed, dl)
	}
	if _, err := b.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
	release()
	waitFor(t, "closed", func() bool { _, closed, _ := raw.state(); return closed })
	if w, _, _ := raw.state(); !slices.Equal(w, []string{"answer", "goaway" + "close_notify"}) {
		t.Fatalf("writes %q, want every byte queued before Close", w)
	}

	// The twin: Close with nothing queued closes at once.
	idle := &stallConn{}
	c := newBatchConn(idle)
	c.batch()
	c.Close()
	if _, closed, _ := idle.state(); !closed {
		t.Fatal("Close with nothing queued left the connection open")
	}
}

// A deadline set while nothing is queued applies at once; one set while
// the writer is busy, once the queue is written.
func TestBatchConnDeadline(t *testing.T) {
	raw, release := newStalled()
	b := newBatchConn(raw)
	b.batch()
	at := time.Now().Add(time.Hour)
	b.SetWriteDeadline(at)
	if _, _, dl := raw.state(); !dl.Equal(at) {
		t.Fatalf("idle: deadline %v, want %v at once", dl, at)
	}
	mustWrite(t, b, "x")
	<-raw.entered
	later := at.Add(time.Hour)
	b.SetWriteDeadline(later)
	if _, _, dl := raw.state(); !dl.Equal(at) {
		t.Fatalf("writing: deadline %v, want the earlier %v until the queue is written", dl, at)
	}
	release()
	waitFor(t, "the later deadline", func() bool { _, _, dl := raw.state(); return dl.Equal(later) })
}

// A failed write is returned by the next Write, and closes the
// connection (as net/http's HTTP/2 server does after one).
func TestBatchConnWriteError(t *testing.T) {
	raw := &stallConn{failWith: errors.New("connection reset")}
	b := newBatchConn(raw)
	b.batch()
	mustWrite(t, b, "x") // accepted; the writer's write fails
	waitFor(t, "closed", func() bool { _, closed, _ := raw.state(); return closed })
	if _, err := b.Write([]byte("y")); err == nil || err.Error() != "connection reset" {
		t.Fatalf("Write after a failed write: %v, want the failure", err)
	}
}

// At most maxQueued bytes wait: a Write whose bytes would not fit waits
// for the writer. The queue moves from its small buffer to a large one
// at once and never grows past it (a queue that doubled through sizes
// no pool holds made large answers cost 1.5x the CPU).
func TestBatchConnBounded(t *testing.T) {
	raw, release := newStalled()
	b := newBatchConn(raw)
	b.batch()
	mustWrite(t, b, "x")
	<-raw.entered
	record := string(make([]byte, 16384+22)) // a full TLS record
	want := "head"
	mustWrite(t, b, "head")
	for len(want)+len(record) <= maxQueued {
		mustWrite(t, b, record)
		want += record
	}
	b.mu.Lock()
	qcap := cap(b.queued)
	b.mu.Unlock()
	if qcap != maxQueued {
		t.Errorf("queue of %d bytes has a buffer of %d, want %d", len(want), qcap, maxQueued)
	}
	done := make(chan error, 1)
	go func() { _, err := b.Write([]byte(record)); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("Write into a full queue returned (%v) before the writer made room", err)
	case <-time.After(50 * time.Millisecond): // it waits (a sleep only proves a negative here)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all written", func() bool { w, _, _ := raw.state(); return len(w) == 3 })
	if w, _, _ := raw.state(); w[0] != "x" || w[1] != want || w[2] != record {
		t.Fatal("writes out of order")
	}
}

// countingListener counts the writes to the connections it accepts.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, writes: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// h2Server serves h over HTTP/2 and TLS on loopback, through the
// gateway's tlsListener, or through tls.NewListener (net/http's own TLS
// serving) when gatewayListener is false. It returns a client transport
// that speaks only HTTP/2, the server's URL and the count of writes to
// its TCP connections.
func h2Server(t *testing.T, gatewayListener bool, h http.HandlerFunc) (*http.Transport, string, *atomic.Int64) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	certs, roots := ts.TLS.Certificates, ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	ts.Close()

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	srv := &http.Server{
		Protocols: &protocols,
		Handler:   h,
		TLSConfig: &tls.Config{Certificates: certs, NextProtos: []string{"h2", "http/1.1"}},
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: inner}
	var ln net.Listener
	if gatewayListener {
		ln = newTLSListener(cl, srv, nil)
	} else {
		ln = tls.NewListener(cl, srv.TLSConfig)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	var cp http.Protocols
	cp.SetHTTP2(true)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "example.com"}, Protocols: &cp}
	t.Cleanup(tr.CloseIdleConnections)
	return tr, "https://" + inner.Addr().String() + "/", &cl.writes
}

func h2Get(t *testing.T, tr *http.Transport, url string) string {
	t.Helper()
	res, err := tr.RoundTrip(must(http.NewRequest("GET", url, nil)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.ProtoMajor != 2 {
		t.Fatalf("answer: %v over HTTP/%d", err, res.ProtoMajor)
	}
	return string(b)
}

// Over a real TLS connection, a small HTTP/2 answer (HEADERS and DATA)
// leaves the gateway's listener in about one write, where net/http's own
// TLS serving of the same server writes two (the twin): the saving
// session 9 measured (bench/NOTES.md).
func TestHTTP2SmallAnswerWrites(t *testing.T) {
	// One P: the batching then does not depend on whether an idle P
	// steals the writer goroutine before the handler's DATA is queued (on
	// an idle machine one often does; under load, as in the benchmarks,
	// the writer waits behind the handler). The twin is not affected.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const answers = 200
	perAnswer := func(t *testing.T, gatewayListener bool) float64 {
		tr, url, writes := h2Server(t, gatewayListener, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "small answer")
		})
		// The connection's setup (handshake, SETTINGS) is not counted.
		h2Get(t, tr, url)
		h2Get(t, tr, url)
		before := writes.Load()
		for range answers {
			if got := h2Get(t, tr, url); got != "small answer" {
				t.Fatalf("answer %q", got)
			}
		}
		return float64(writes.Load()-before) / answers
	}
	plain := perAnswer(t, false)
	batched := perAnswer(t, true)
	t.Logf("writes per small h2 answer: %.2f through tlsListener, %.2f through net/http's TLS serving", batched, plain)
	if plain < 1.9 {
		t.Errorf("net/http's TLS serving: %.2f writes per answer, want 2 (HEADERS, then DATA): the twin no longer shows what this test is about", plain)
	}
	// The race detector shuffles the scheduler's run queues, so the
	// writer often runs before the handler even on one P: there, only
	// fewer writes than the twin's are asked for (about 1.8 is usual).
	want := 1.5
	if raceEnabled {
		want = 1.95
	}
	if batched > want {
		t.Errorf("tlsListener: %.2f writes per answer, want at most %.2f (HEADERS and DATA together)", batched, want)
	}
}

// Batching never holds bytes back waiting for more: a header the handler
// flushes reaches the client while the handler still waits, and a large
// answer (more than the queue holds) arrives whole.
func TestHTTP2BatchingHoldsNothingBack(t *testing.T) {
	release := make(chan struct{})
	big := make([]byte, 3*maxQueued+12345)
	for i := range big {
		big[i] = byte(i * 7)
	}
	tr, url, _ := h2Server(t, true, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("big") {
			w.Write(big)
			return
		}
		w.Header().Set("X-Early", "yes")
		w.WriteHeader(http.StatusAccepted)
		w.(http.Flusher).Flush()
		<-release // until the client has the header
		io.WriteString(w, "late")
	})
	got := make(chan *http.Response, 1)
	go func() {
		res, err := tr.RoundTrip(must(http.NewRequest("GET", url, nil)))
		if err != nil {
			close(got)
			return
		}
		got <- res
	}()
	var res *http.Response
	select {
	case res = <-got:
	case <-time.After(10 * time.Second): // a hang, not a time limit on the path
		close(release)
		t.Fatal("the flushed header did not reach the client while the handler waited")
	}
	if res == nil || res.StatusCode != http.StatusAccepted || res.Header.Get("X-Early") != "yes" {
		t.Fatalf("answer %v", res)
	}
	close(release)
	if b, err := io.ReadAll(res.Body); err != nil || string(b) != "late" {
		t.Fatalf("body %q, %v", b, err)
	}
	res.Body.Close()

	if b := h2Get(t, tr, url+"?big"); b != string(big) {
		t.Fatalf("large answer: %d bytes, not the %d written", len(b), len(big))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

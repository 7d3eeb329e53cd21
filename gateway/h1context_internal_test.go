package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"testing"
	"time"
)

type ctxTestKey struct{}

// newTestReqCtx is an h1ReqCtx under a values-only parent, as h1Server
// makes it.
func newTestReqCtx() *h1ReqCtx {
	return &h1ReqCtx{Context: context.WithValue(context.Background(), ctxTestKey{}, "conn")}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// An h1ReqCtx behaves as a context.WithCancel of its parent: values,
// Done, Err and Cause, before and after its cancellation, whether Done
// was asked for before or after.
func TestH1ReqCtxCancels(t *testing.T) {
	for _, doneFirst := range []bool{true, false} {
		rc := newTestReqCtx()
		if rc.Value(ctxTestKey{}) != "conn" || rc.Value(h1ReqCtxKey{}) != rc {
			t.Fatal("values: the parent's and the context itself")
		}
		if rc.Err() != nil || context.Cause(rc) != nil {
			t.Fatalf("Err %v, Cause %v before cancel", rc.Err(), context.Cause(rc))
		}
		if _, ok := rc.Deadline(); ok {
			t.Fatal("a deadline")
		}
		var done <-chan struct{}
		if doneFirst {
			done = rc.Done()
			if done == nil || isClosed(done) {
				t.Fatal("Done nil or closed before cancel")
			}
		}
		rc.cancel()
		rc.cancel() // a second cancel does nothing
		if !doneFirst {
			done = rc.Done()
		}
		if !isClosed(done) || rc.Done() != done {
			t.Fatal("Done not closed, or not the same channel, after cancel")
		}
		if !errors.Is(rc.Err(), context.Canceled) || !errors.Is(context.Cause(rc), context.Canceled) {
			t.Fatalf("Err %v, Cause %v after cancel", rc.Err(), context.Cause(rc))
		}
	}
}

// Contexts derived from an h1ReqCtx end with it (through its AfterFunc
// method), and one derived with its own
// cancellation ends alone; context.AfterFunc's functions run after the
// cancellation and not after their stop.
func TestH1ReqCtxDerived(t *testing.T) {
	rc := newTestReqCtx()
	child, cancelChild := context.WithCancel(context.WithValue(rc, ctxTestKey{}, "request"))
	defer cancelChild()
	ran := make(chan struct{})
	context.AfterFunc(rc, func() { close(ran) })
	stopped := make(chan struct{})
	stop := context.AfterFunc(rc, func() { close(stopped) })
	if !stop() {
		t.Fatal("stop before the cancellation reported the function ran")
	}
	_, cancelOther := context.WithCancel(rc)
	cancelOther()
	if rc.Err() != nil || child.Err() != nil {
		t.Fatal("a derived context's cancellation reached its parent or sibling")
	}
	if isClosed(ran) {
		t.Fatal("an AfterFunc function ran before the cancellation")
	}

	rc.cancel()
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatal("the derived context did not end with its parent")
	}
	if !errors.Is(child.Err(), context.Canceled) || child.Value(ctxTestKey{}) != "request" {
		t.Fatalf("derived: Err %v, value %v", child.Err(), child.Value(ctxTestKey{}))
	}
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("the AfterFunc function did not run after the cancellation")
	}
	if isClosed(stopped) {
		t.Fatal("a stopped AfterFunc function ran")
	}
	// Registered after the cancellation: runs at once.
	late := make(chan struct{})
	if stop := context.AfterFunc(rc, func() { close(late) }); stop() {
		t.Fatal("stop stopped a function registered on a cancelled context")
	}
	select {
	case <-late:
	case <-time.After(10 * time.Second):
		t.Fatal("an AfterFunc registered after the cancellation did not run")
	}
}

// tcpPair is a connected loopback pair.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// readResult reads once from conn in the background.
func readResult(conn net.Conn) chan error {
	ch := make(chan error, 1)
	go func() {
		_, err := conn.Read(make([]byte, 1))
		ch <- err
	}()
	return ch
}

// cancelInterrupts checks that cancelling rc interrupts a read blocked
// on conn, and that w's end reports the interruption.
func cancelInterrupts(t *testing.T, rc *h1ReqCtx, conn net.Conn, w cancelWatch) {
	t.Helper()
	read := readResult(conn)
	rc.cancel()
	if err := <-read; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after the cancellation: %v, want a deadline error", err)
	}
	if w.end() {
		t.Fatal("end reported no interruption after the cancellation")
	}
}

// watchCancel interrupts the upstream connection's blocked read when the
// request's context ends: through the h1ReqCtx for the request's own
// context and values on it, through context.AfterFunc for a context
// derived with a cancellation of its own (a handler's timeout), which
// the h1ReqCtx alone would miss.
func TestWatchCancel(t *testing.T) {
	t.Run("own-context", func(t *testing.T) {
		rc := newTestReqCtx()
		conn, _ := tcpPair(t)
		w := watchCancel(context.WithValue(rc, ctxTestKey{}, 1), conn)
		if w.rc != rc {
			t.Fatal("a value on the request's context did not use the h1ReqCtx")
		}
		if watchCancel(rc, conn).rc != nil {
			t.Fatal("a second watch took the h1ReqCtx's one slot")
		}
		cancelInterrupts(t, rc, conn, w)
	})
	t.Run("exchange-over-own-context", func(t *testing.T) {
		// serveHTTP's exchange on top: the h1ReqCtx serves, and its Done
		// channel is not made (nothing waits on it).
		rc := newTestReqCtx()
		conn, _ := tcpPair(t)
		ctx := &exchangeContext{Context: rc, x: &exchange{}}
		if !cancellable(ctx) {
			t.Fatal("cancellable: got false for a request's context")
		}
		w := watchCancel(ctx, conn)
		if w.rc != rc {
			t.Fatal("the exchange on the request's context did not use the h1ReqCtx")
		}
		if rc.done != nil {
			t.Fatal("the h1ReqCtx's Done channel was made")
		}
		cancelInterrupts(t, rc, conn, w)
	})
	t.Run("own-context-not-cancelled", func(t *testing.T) {
		rc := newTestReqCtx()
		conn, peer := tcpPair(t)
		w := watchCancel(rc, conn)
		read := readResult(conn)
		peer.Write([]byte("x"))
		if err := <-read; err != nil {
			t.Fatalf("read without a cancellation: %v", err)
		}
		if !w.end() {
			t.Fatal("end reported an interruption without a cancellation")
		}
		rc.cancel() // after end: the connection is left alone
		read = readResult(conn)
		peer.Write([]byte("y"))
		if err := <-read; err != nil {
			t.Fatalf("read after the watch ended and the context was cancelled: %v", err)
		}
	})
	t.Run("derived-timeout", func(t *testing.T) {
		rc := newTestReqCtx()
		conn, _ := tcpPair(t)
		ctx, cancel := context.WithTimeout(rc, 50*time.Millisecond)
		defer cancel()
		w := watchCancel(ctx, conn)
		if w.rc != nil {
			t.Fatal("a context with its own cancellation used the h1ReqCtx")
		}
		read := readResult(conn)
		if err := <-read; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read after the derived timeout: %v, want a deadline error", err)
		}
		if rc.Err() != nil {
			t.Fatal("the request's context ended")
		}
		if w.end() {
			t.Fatal("end reported no interruption after the timeout")
		}
	})
}

// h1Server finds a client trace on the connection's context (from
// ConnContext) once per connection, and its requests' contexts report
// it; without one they report none.
func TestH1ServerTracedConnection(t *testing.T) {
	trace := &httptrace.ClientTrace{WroteHeaderField: func(string, []string) {}}
	for _, withTrace := range []bool{true, false} {
		got := make(chan bool, 1)
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got <- clientTraced(r.Context())
		})}
		if withTrace {
			srv.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
				return httptrace.WithClientTrace(ctx, trace)
			}
		}
		client, server := tcpPair(t)
		go newH1Server(srv).ServeConn(server)
		io.WriteString(client, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(client), nil); err != nil {
			t.Fatal(err)
		}
		if traced := <-got; traced != withTrace {
			t.Fatalf("ConnContext with a trace %v: the request's context reported %v", withTrace, traced)
		}
	}
}

// TestConnStateOf: a request's connState comes from its
// h1ReqCtx when h1Conn resolved it, else from the context value that
// the gateway's ConnContext set; nil without one.
func TestConnStateOf(t *testing.T) {
	cf := &connState{}
	conn := context.WithValue(context.Background(), connKey{}, cf)
	other := &connState{}
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want *connState
	}{
		{"h1ReqCtx with it", &h1ReqCtx{Context: conn, cf: cf}, cf},
		{"h1ReqCtx without it", &h1ReqCtx{Context: conn}, cf},
		{"h1ReqCtx of a connection without one", &h1ReqCtx{Context: context.Background()}, nil},
		{"exchange on top", &exchangeContext{Context: &h1ReqCtx{Context: conn, cf: cf}}, cf},
		{"value only", conn, cf},
		{"another connection's", context.WithValue(context.Background(), connKey{}, other), other},
		{"none", context.Background(), nil},
	} {
		if got := connStateOf(tt.ctx); got != tt.want {
			t.Errorf("%s: got %p, want %p", tt.name, got, tt.want)
		}
	}
}

// TestH1ReqCtxExchange: serveHTTP's exchange in a request's own
// h1ReqCtx is found from it and from contexts derived from it; an
// exchange put on top (exchangeContext, a value) is found first; a new
// h1ReqCtx has none.
func TestH1ReqCtxExchange(t *testing.T) {
	rc := newTestReqCtx()
	if x := exchangeFrom(rc); x != nil {
		t.Fatalf("a new request context has exchange %p, want none", x)
	}
	if v := rc.Value(exchangeKey{}); v != nil {
		t.Fatalf("a new request context's value of exchangeKey is %#v, want nil", v)
	}
	x := &exchange{}
	rc.setExchange(x)
	derived := context.WithValue(rc, ctxTestKey{}, 1)
	for name, ctx := range map[string]context.Context{"own": rc, "derived": derived} {
		if got := exchangeFrom(ctx); got != x {
			t.Errorf("%s: got exchange %p, want %p", name, got, x)
		}
	}
	if got, _ := derived.Value(h1ReqCtxKey{}).(*h1ReqCtx); got != rc {
		t.Errorf("derived: got h1ReqCtx %p, want %p", got, rc)
	}
	top := &exchange{}
	for name, ctx := range map[string]context.Context{
		"exchangeContext": &exchangeContext{Context: rc, x: top},
		"value":           context.WithValue(derived, exchangeKey{}, top),
	} {
		if got := exchangeFrom(ctx); got != top {
			t.Errorf("%s on top: got exchange %p, want the top one %p", name, got, top)
		}
	}
	if next := newTestReqCtx(); exchangeFrom(next) != nil {
		t.Error("the next request's context has an exchange")
	}
}

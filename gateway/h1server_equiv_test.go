package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// Equivalence of the gateway's HTTP/1.x connection server (h1Server) with
// net/http's http.Server (issue 17, item 2: a faster path that keeps every
// behaviour). The same handler is served both ways on loopback TCP, the
// same raw bytes are sent to each, and the bytes that come back, what the
// handler saw (request fields, context values, write results) and what
// the server logged must be the same. Only the Date header's value is
// normalised; a deliberate difference is a per-case expectation that shows
// both outputs.
//
// The client writes its input (in steps when a case needs to wait for an
// interim answer), then half-closes, so that both servers end the
// connection where net/http would read the next request; cases about
// timeouts keep the write side open instead. Everything read until the
// server closes is compared. Each server has its own http.Server with the
// same settings; the old one's ConnState hook only counts finished
// connections.

// h1eqSettings are the http.Server settings both servers get.
type h1eqSettings struct {
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	maxHeaderBytes                                            int
	noKeepAlives                                              bool
	tls                                                       *tls.Config // both listeners wrapped by tls.NewListener
	// handshakeFirst: with tls, each listener completes a connection's
	// handshake (bounded by h1eqHandshakeLimit only) before it hands the
	// connection to its server, whose own handshake then has nothing to
	// do. Both servers bound the handshake by the least of the header,
	// read and write timeouts (net/http's tlsHandshakeTimeout), which a
	// case about deadlines sets at a test scale: under load a handshake
	// with a client certificate under -race can outlast it.
	handshakeFirst bool
}

// h1eqHandshakeLimit bounds a handshake done by the listener
// (handshakeFirst): a hang guard, not a speed limit.
const h1eqHandshakeLimit = 10 * time.Second

// h1eqHandshakeListener completes the TLS handshake of each connection
// before Accept returns it (h1eqSettings.handshakeFirst). A failed
// handshake is left for the server to report: tls.Conn returns the same
// error from its own Handshake.
type h1eqHandshakeListener struct{ net.Listener }

func (l h1eqHandshakeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), h1eqHandshakeLimit)
	defer cancel()
	c.(*tls.Conn).HandshakeContext(ctx)
	return c, nil
}

// h1eqNote records what a handler observed (a write's result, an error).
type h1eqNote func(format string, args ...any)

type h1eqHandler func(w http.ResponseWriter, r *http.Request, note h1eqNote)

// h1eqStep is a piece of the client's input: it is sent once the
// response so far contains waitFor (at once if waitFor is empty).
type h1eqStep struct {
	waitFor string
	do      func()        // then this is called (with serial cases only)
	delay   time.Duration // then this long (to let a server reach a state; outcomes must not depend on it)
	send    string
}

type h1eqCase struct {
	name    string
	set     h1eqSettings
	handler h1eqHandler // nil: h1eqOK
	in      string      // the client's input, sent at once (after steps)
	steps   []h1eqStep
	// keepOpen: do not half-close after the input; read until the server
	// closes (timeouts).
	keepOpen bool
	// giveUp is how long the client waits for the server to close, from
	// its connect (0: h1eqGiveUp): the window of a case that shows a
	// server keeps the connection open.
	giveUp time.Duration
	// serial: run the old server's exchange, then the new one's (steps
	// with do hooks drive shared state).
	serial bool
	// clientTLS: with set.tls, the client speaks TLS with this config
	// (nil: plain bytes to the TLS listener).
	clientTLS *tls.Config
	// deliberate, when set, says why the new server answers differently
	// (one of the differences h1Server's doc lists); wantOld and wantNew
	// are then the two normalised responses.
	deliberate       string
	wantOld, wantNew string
}

func (c h1eqCase) input() string {
	var b strings.Builder
	for _, s := range c.steps {
		b.WriteString(s.send)
	}
	b.WriteString(c.in)
	return b.String()
}

type h1eqConnKey struct{}
type h1eqBaseKey struct{}

// h1eqEnd is one of the two servers with what its handler and its
// ErrorLog recorded.
type h1eqEnd struct {
	name     string
	srv      *http.Server
	shutdown func(context.Context) error // the server's Shutdown
	addr     string
	done     chan struct{} // a value each time the server is done with a connection

	mu     sync.Mutex
	obs    []string
	ctxs   []context.Context
	logs   []string
	active int
}

// Write is the ErrorLog's sink: one call per message.
func (e *h1eqEnd) Write(p []byte) (int, error) {
	e.mu.Lock()
	e.logs = append(e.logs, string(p))
	e.mu.Unlock()
	return len(p), nil
}

func (e *h1eqEnd) note(format string, args ...any) {
	e.mu.Lock()
	e.obs = append(e.obs, "  "+fmt.Sprintf(format, args...))
	e.mu.Unlock()
}

func (e *h1eqEnd) wrap(h h1eqHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.active++
		e.obs = append(e.obs, e.describe(r))
		e.ctxs = append(e.ctxs, r.Context())
		e.mu.Unlock()
		defer func() {
			e.mu.Lock()
			e.obs = append(e.obs, "  returned; trailer "+h1eqSorted(r.Trailer))
			e.active--
			e.mu.Unlock()
		}()
		h(w, r, e.note)
	})
}

func (e *h1eqEnd) describe(r *http.Request) string {
	ctx := r.Context()
	return fmt.Sprintf("%s uri=%q url=%q proto=%q(%d.%d) host=%q remote=%q close=%v cl=%d te=%q tls=%v nobody=%v header=%s conn=%v base=%v server=%v local=%v",
		r.Method, r.RequestURI, r.URL, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.RemoteAddr,
		r.Close, r.ContentLength, r.TransferEncoding, r.TLS != nil, r.Body == http.NoBody,
		h1eqSorted(r.Header), ctx.Value(h1eqConnKey{}), ctx.Value(h1eqBaseKey{}),
		ctx.Value(http.ServerContextKey) == e.srv, ctx.Value(http.LocalAddrContextKey)) + h1eqTLS(r.TLS)
}

func h1eqTLS(st *tls.ConnectionState) string {
	if st == nil {
		return ""
	}
	var peers []string
	for _, c := range st.PeerCertificates {
		peers = append(peers, c.Subject.CommonName)
	}
	return fmt.Sprintf(" tls{complete=%v version=%x sni=%q alpn=%q peers=%q chains=%d resumed=%v}",
		st.HandshakeComplete, st.Version, st.ServerName, st.NegotiatedProtocol, peers, len(st.VerifiedChains), st.DidResume)
}

func h1eqSorted(h http.Header) string {
	if h == nil {
		return "nil"
	}
	keys := slices.Sorted(maps.Keys(h))
	var b strings.Builder
	b.WriteString("{")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%q", k, h[k])
	}
	b.WriteString("}")
	return b.String()
}

// take returns and clears what was recorded, once the server is done with
// the connection and no handler runs; each request's context is reported
// as cancelled or not once the exchange is over.
func (e *h1eqEnd) take(t testing.TB, conns int) (obs, logs string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for range conns {
		select {
		case <-e.done:
		case <-deadline:
			t.Errorf("%s: server still holds the connection 5s after the client saw it end", e.name)
			conns = 0
		}
	}
	for i := 0; ; i++ {
		e.mu.Lock()
		n := e.active
		e.mu.Unlock()
		if n == 0 {
			break
		}
		if i == 500 {
			t.Errorf("%s: handler still running 5s after the exchange", e.name)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.mu.Lock()
	ctxs := e.ctxs
	o := e.obs
	l := e.logs
	e.obs, e.ctxs, e.logs = nil, nil, nil
	e.mu.Unlock()
	var b strings.Builder
	for _, s := range o {
		b.WriteString(s + "\n")
	}
	for i, ctx := range ctxs {
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
			fmt.Fprintf(&b, "request %d: context not cancelled after the handler returned\n", i)
		}
	}
	var lb strings.Builder
	for _, s := range l {
		first, _, _ := strings.Cut(s, "\n")
		lb.WriteString(h1eqCallerRE.ReplaceAllString(first, "from CALLER") + "\n")
	}
	return b.String(), lb.String()
}

// h1eqCallerRE matches the caller net/http names in "superfluous
// WriteHeader" and "Write on hijacked connection" messages: the function
// and line differ by construction between the two servers' wrappers.
var h1eqCallerRE = regexp.MustCompile(`from \S+ \([^)]*\)`)

// h1eqServe starts both servers with the same settings and handler.
func h1eqServe(t testing.TB, set h1eqSettings, h h1eqHandler) (old, nw *h1eqEnd) {
	t.Helper()
	if h == nil {
		h = h1eqOK
	}
	mk := func(e *h1eqEnd) *http.Server {
		e.done = make(chan struct{}, 64)
		e.srv = &http.Server{
			Handler:           e.wrap(h),
			ReadHeaderTimeout: set.readHeaderTimeout,
			ReadTimeout:       set.readTimeout,
			WriteTimeout:      set.writeTimeout,
			IdleTimeout:       set.idleTimeout,
			MaxHeaderBytes:    set.maxHeaderBytes,
			ErrorLog:          log.New(e, "", 0),
			BaseContext: func(net.Listener) context.Context {
				return context.WithValue(context.Background(), h1eqBaseKey{}, "base")
			},
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				return context.WithValue(ctx, h1eqConnKey{}, fmt.Sprintf("%T %s", c, c.RemoteAddr()))
			},
		}
		return e.srv
	}
	listen := func(e *h1eqEnd) net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.addr = ln.Addr().String()
		return ln
	}

	old = &h1eqEnd{name: "old"}
	osrv := mk(old)
	osrv.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed || st == http.StateHijacked {
			old.done <- struct{}{}
		}
	}
	osrv.SetKeepAlivesEnabled(!set.noKeepAlives)
	old.shutdown = osrv.Shutdown
	oln := listen(old)
	if set.tls != nil {
		oln = tls.NewListener(oln, set.tls)
		if set.handshakeFirst {
			oln = h1eqHandshakeListener{oln}
		}
	}
	go osrv.Serve(oln)

	nw = &h1eqEnd{name: "new"}
	hs := newH1Server(mk(nw))
	hs.SetKeepAlivesEnabled(!set.noKeepAlives)
	nw.shutdown = hs.Shutdown
	nln := listen(nw)
	if set.tls != nil {
		nln = tls.NewListener(nln, set.tls)
		if set.handshakeFirst {
			nln = h1eqHandshakeListener{nln}
		}
	}
	go func() {
		for {
			c, err := nln.Accept()
			if err != nil {
				return
			}
			go func() {
				hs.ServeConn(c)
				nw.done <- struct{}{}
			}()
		}
	}()

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		oln.Close()
		nln.Close()
		osrv.Shutdown(ctx)
		hs.Shutdown(ctx)
	})
	return old, nw
}

// h1eqGiveUp is how long a client waits for the server to close unless
// a case says otherwise: a hang guard, past every case's own timeouts
// and waits with room for loaded -race runs.
const h1eqGiveUp = 10 * time.Second

// h1eqClient is what a client does on its connection to each server,
// taken from its case in one place (h1eqCase.client): the exchange
// helpers get it whole, so that no call passes one case's setting with
// another's. The fields are the case's.
type h1eqClient struct {
	steps     []h1eqStep
	keepOpen  bool
	serial    bool
	clientTLS *tls.Config
	giveUp    time.Duration // 0: h1eqGiveUp
}

func (c h1eqCase) client() h1eqClient {
	return h1eqClient{steps: c.allSteps(), keepOpen: c.keepOpen, serial: c.serial, clientTLS: c.clientTLS, giveUp: c.giveUp}
}

// h1eqExchange sends cl's steps on one connection to addr, half-closes
// unless cl.keepOpen, and returns everything read until the server
// closed or cl.giveUp (0: h1eqGiveUp) passed, with the client's address.
func h1eqExchange(t testing.TB, addr string, cl h1eqClient) (out, client string) {
	t.Helper()
	// Each connection from a client address of its own in 127/8: a
	// half-closing client ends in TIME-WAIT, and the fuzz target opens
	// thousands of connections a second, more than one source address
	// has ports for.
	n := h1eqSource.Add(1)
	src := net.IPv4(127, 1+byte(n/250%250), 1+byte(n%250), 1)
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: src}}
	tc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	giveUp := cl.giveUp
	if giveUp == 0 {
		giveUp = h1eqGiveUp
	}
	tc.SetDeadline(time.Now().Add(giveUp))
	client = tc.LocalAddr().String()
	c := tc
	if cl.clientTLS != nil {
		c = tls.Client(tc, cl.clientTLS)
	}

	var mu sync.Mutex
	var buf []byte
	changed := make(chan struct{}, 1)
	readDone := make(chan error, 1)
	go func() {
		p := make([]byte, 32<<10)
		for {
			n, err := c.Read(p)
			mu.Lock()
			buf = append(buf, p[:n]...)
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
			if err != nil {
				readDone <- err
				return
			}
		}
	}()
	var readErr error
	ended := false
	for _, s := range cl.steps {
		for s.waitFor != "" && !ended {
			mu.Lock()
			seen := strings.Contains(string(buf), s.waitFor)
			mu.Unlock()
			if seen {
				break
			}
			select {
			case <-changed:
			case readErr = <-readDone:
				ended = true
			}
		}
		if s.do != nil {
			s.do()
		}
		time.Sleep(s.delay)
		c.Write([]byte(s.send)) // a server that closed early makes this fail: the reply says it
	}
	if !cl.keepOpen {
		c.(interface{ CloseWrite() error }).CloseWrite()
	}
	if !ended {
		readErr = <-readDone
	}
	// The server has closed (or the deadline passed): reset rather than
	// close, so that the server keeps no TIME-WAIT for this connection.
	tc.(*net.TCPConn).SetLinger(0)
	mu.Lock()
	out = string(buf)
	mu.Unlock()
	if errors.Is(readErr, os.ErrDeadlineExceeded) {
		out += fmt.Sprintf("[client gave up: the server did not close within %v]", giveUp)
	}
	return out, client
}

// h1eqSource numbers the client's source addresses.
var h1eqSource atomic.Uint32

var h1eqDateRE = regexp.MustCompile(`\r\nDate: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT\r\n`)

// h1eqNormalize replaces the Date header's value and the two addresses of
// the connection, which differ between the servers by construction.
func h1eqNormalize(s, server, client string) string {
	s = h1eqDateRE.ReplaceAllString(s, "\r\nDate: DATE\r\n")
	s = strings.ReplaceAll(s, server, "SERVER")
	return strings.ReplaceAll(s, client, "CLIENT")
}

type h1eqResult struct{ resp, obs, logs string }

func h1eqRunOn(t testing.TB, e *h1eqEnd, cl h1eqClient) h1eqResult {
	t.Helper()
	out, client := h1eqExchange(t, e.addr, cl)
	obs, logs := e.take(t, 1)
	return h1eqResult{
		resp: h1eqNormalize(out, e.addr, client),
		obs:  h1eqNormalize(obs, e.addr, client),
		logs: h1eqNormalize(logs, e.addr, client),
	}
}

// h1eqRunBoth has cl talk to both servers, at once unless cl.serial
// (the old one's exchange, then the new one's). The steps are only read.
func h1eqRunBoth(t testing.TB, old, nw *h1eqEnd, cl h1eqClient) (ro, rn h1eqResult) {
	if cl.serial {
		ro = h1eqRunOn(t, old, cl)
		rn = h1eqRunOn(t, nw, cl)
		return ro, rn
	}
	var wg sync.WaitGroup
	wg.Go(func() { ro = h1eqRunOn(t, old, cl) })
	wg.Go(func() { rn = h1eqRunOn(t, nw, cl) })
	wg.Wait()
	return ro, rn
}

func (c h1eqCase) allSteps() []h1eqStep {
	steps := slices.Clone(c.steps)
	if c.in != "" {
		steps = append(steps, h1eqStep{send: c.in})
	}
	return steps
}

func h1eqCheck(t *testing.T, c h1eqCase) {
	old, nw := h1eqServe(t, c.set, c.handler)
	ro, rn := h1eqRunBoth(t, old, nw, c.client())
	if c.deliberate != "" {
		if ro.resp != c.wantOld {
			t.Errorf("net/http's response changed (deliberate difference %q):\n%s", c.deliberate, h1eqDiff("old", ro.resp, "want", c.wantOld))
		}
		if rn.resp != c.wantNew {
			t.Errorf("deliberate difference %q:\n%s", c.deliberate, h1eqDiff("new", rn.resp, "want", c.wantNew))
		}
	} else if ro.resp != rn.resp {
		t.Errorf("responses differ:\n%s", h1eqDiff("old", ro.resp, "new", rn.resp))
	}
	// A deliberate difference pins both responses, which show what the
	// handlers did; the handlers' notes are compared only otherwise.
	if c.deliberate == "" && ro.obs != rn.obs {
		t.Errorf("handlers saw different things:\nold:\n%s\nnew:\n%s", ro.obs, rn.obs)
	}
	if ro.logs != rn.logs {
		t.Errorf("logs differ:\nold %q\nnew %q", ro.logs, rn.logs)
	}
	if testing.Verbose() {
		t.Logf("response %q\nhandler:\n%s\nlogs %q", ro.resp, ro.obs, ro.logs)
	}
}

// h1eqDiff shows both outputs with %q, whole when short, else around
// the first difference.
func h1eqDiff(na, a, nb, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	if len(a)+len(b) <= 4096 {
		return fmt.Sprintf("%s %q\n%s %q\n(first difference at byte %d)", na, a, nb, b, i)
	}
	cut := func(s string) string {
		lo, hi := max(0, i-300), min(len(s), i+300)
		return fmt.Sprintf("[%d bytes] ...%q...", len(s), s[lo:hi])
	}
	return fmt.Sprintf("first difference at byte %d:\n%s %s\n%s %s", i, na, cut(a), nb, cut(b))
}

// Handlers.

// h1eqUpstream is the ReverseProxy cases' upstream. next paces
// /up/stream: a part is written, flushed, and the next one waits for a
// value, so that the proxy forwards each as a chunk of its own.
type h1eqUpstream struct{ next chan struct{} }

func (u *h1eqUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/up/get":
		w.Header().Set("X-Up", "1")
		io.WriteString(w, "up")
	case "/up/echo":
		w.Header().Set("Trailer", "X-Got")
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "body %q %v trailer %s", b, err, h1eqSorted(r.Trailer))
		w.Header().Set("X-Got", r.Trailer.Get("X-Sum"))
	case "/up/large":
		io.WriteString(w, h1eqBig)
	case "/up/stream":
		for i := range 3 {
			if i > 0 {
				select {
				case <-u.next:
				case <-time.After(5 * time.Second):
				}
			}
			fmt.Fprintf(w, "part %d\n", i)
			http.NewResponseController(w).Flush()
		}
	case "/up/upgrade":
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
		brw.Flush()
		p := make([]byte, 4)
		if _, err := io.ReadFull(brw, p); err == nil && string(p) == "ping" {
			brw.WriteString("pong")
			brw.Flush()
		}
		io.Copy(io.Discard, brw)
	}
}

func h1eqOK(w http.ResponseWriter, r *http.Request, note h1eqNote) {
	n, err := io.WriteString(w, "ok "+r.URL.Path)
	note("write %d %v", n, err)
}

// h1eqWriter returns a function that writes s and notes the result.
func h1eqWriter(w http.ResponseWriter, note h1eqNote) func(string) {
	return func(s string) {
		n, err := io.WriteString(w, s)
		note("write(%d) %d %v", len(s), n, err)
	}
}

// h1eqFlush flushes w and notes the result.
func h1eqFlush(w http.ResponseWriter, note h1eqNote) {
	note("flush %v", http.NewResponseController(w).Flush())
}

func h1eqReadBody(w http.ResponseWriter, r *http.Request, note h1eqNote) {
	b, err := io.ReadAll(r.Body)
	note("body %q %v", h1eqShort(b), err)
	fmt.Fprintf(w, "read %d", len(b))
}

func h1eqShort(b []byte) string {
	if len(b) > 64 {
		return fmt.Sprintf("%s...(%d bytes)", b[:64], len(b))
	}
	return string(b)
}

// h1eqEcho puts everything about the request into the response (the
// fuzz target's handler).
func h1eqEcho(w http.ResponseWriter, r *http.Request, _ h1eqNote) {
	body, err := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %q host=%q %s close=%v cl=%d te=%q\nheader %s\nbody %q err=%v\ntrailer %s\n",
		r.Method, r.RequestURI, r.Host, r.Proto, r.Close, r.ContentLength, r.TransferEncoding,
		h1eqSorted(r.Header), body, err, h1eqSorted(r.Trailer))
}

func h1eqHijack(pre func(w http.ResponseWriter, note h1eqNote), post func(w http.ResponseWriter, note h1eqNote)) h1eqHandler {
	return func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
		if pre != nil {
			pre(w, note)
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			note("hijack: %v", err)
			return
		}
		extra := make([]byte, brw.Reader.Buffered())
		io.ReadFull(brw, extra)
		note("hijacked; buffered %q; conn %T", extra, c)
		if post != nil {
			post(w, note)
		}
		brw.WriteString("HTTP/1.1 299 Own\r\nContent-Length: 3\r\n\r\nown")
		note("flush %v", brw.Flush())
		c.Close()
	}
}

const (
	h1eqMalformedHost = "HTTP/1.1 400 Bad Request: malformed Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: malformed Host header"
	h1eqGet           = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"
	h1eqGetClose      = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
)

var (
	h1eqBig     = strings.Repeat("0123456789abcdef", 512) // 8 KiB: over net/http's 4 KiB response buffer
	h1eqHuge    = strings.Repeat("x", 300<<10)            // over the 256 KiB net/http discards after a handler
	h1eqChunked = func(s string) string { return fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(s), s) }
)

// h1eqCases is the table; upstream (nil in the fuzz target, which takes
// only the inputs) is where the ReverseProxy cases forward.
func h1eqCases(upstream *url.URL, next chan<- struct{}) []h1eqCase {
	release := func() { next <- struct{}{} }
	proxy := func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
		if upstream == nil {
			return
		}
		rp := httputil.NewSingleHostReverseProxy(upstream)
		rp.ErrorLog = log.New(io.Discard, "", 0)
		rp.ServeHTTP(w, r)
	}
	return []h1eqCase{
		// Keep-alive and pipelining.
		{name: "get", in: h1eqGet},
		{name: "keepalive-sequence", steps: []h1eqStep{
			{send: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
			{waitFor: "ok /1", send: "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
			{waitFor: "ok /2", send: "GET /3 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		}},
		{name: "pipelined", in: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\nPOST /3 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabcGET /4 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "pipelined-many", in: strings.Repeat("GET /p HTTP/1.1\r\nHost: a.test\r\nX-Pad: "+strings.Repeat("z", 100)+"\r\n\r\n", 60)},
		// Under 4 KiB: see h1eqFuzzMax.
		{name: "pipelined-many-then-bad-header", in: strings.Repeat("GET /p HTTP/1.1\r\nHost: a.test\r\nX-Pad: "+strings.Repeat("z", 100)+"\r\n\r\n", 25) + "GET /p HTTP/1.1\r\nHost: a.test\r\nX-\x1a: 1\r\n\r\n" + strings.Repeat("GET /p HTTP/1.1\r\nHost: a.test\r\nX-Pad: "+strings.Repeat("z", 100)+"\r\n\r\n", 7)},
		{name: "pipelined-few-then-bad-header", in: strings.Repeat("GET /p HTTP/1.1\r\nHost: a.test\r\nX-Pad: "+strings.Repeat("z", 100)+"\r\n\r\n", 3) + "GET /p HTTP/1.1\r\nHost: a.test\r\nX-\x1a: 1\r\n\r\n" + h1eqGet},
		{name: "pipelined-bodies-across-reads", handler: h1eqReadBody, in: strings.Repeat("POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1000\r\n\r\n"+strings.Repeat("b", 1000), 12)},
		{name: "pipelined-expect-100-unread", in: "POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet + h1eqGet},
		{name: "pipelined-body-read", handler: h1eqReadBody, in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabcPOST /2 HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n" + h1eqChunked("hello")},
		{name: "http10", in: "GET / HTTP/1.0\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n"},
		{name: "http10-keepalive", in: "GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /3 HTTP/1.0\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n"},
		{name: "http10-host", in: "GET / HTTP/1.0\r\nHost: a.test\r\n\r\n"},
		{name: "connection-close", in: "GET /1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "connection-close-token-list", in: "GET /1 HTTP/1.1\r\nHost: a.test\r\nConnection: foo, close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		// The idle timeout starts after the answer (neither server puts
		// the first head under it): no load changes the outcome.
		{name: "http11-no-request-after", keepOpen: true, set: h1eqSettings{idleTimeout: 50 * time.Millisecond}, in: h1eqGet},
		{name: "keepalives-disabled", set: h1eqSettings{noKeepAlives: true}, in: h1eqGet + h1eqGet},
		{name: "handler-sets-connection-close", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Connection", "close")
			h1eqOK(w, r, note)
		}, in: h1eqGet + h1eqGet},
		{name: "connection-keepalive-and-close", in: "GET /1 HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive, close\r\n\r\n" + h1eqGet},
		{name: "http10-keepalive-and-close", in: "GET /1 HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n" + h1eqGet},
		{name: "http10-no-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {}, in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n"},
		{name: "content-length-zero-with-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Length", "0")
			h1eqWriter(w, note)("x")
		}, in: h1eqGet + h1eqGet},
		{name: "http11-upper-minor", in: "GET / HTTP/1.9\r\nHost: a.test\r\n\r\n"},

		// Responses.
		{name: "head-body-no-content-length", in: "HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n" + h1eqGet},
		{name: "head-body-content-length", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Length", "5")
			h1eqWriter(w, note)("hello")
		}, in: "HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n" + h1eqGet},
		{name: "head-large-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)(h1eqBig)
		}, in: "HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n" + h1eqGet},
		{name: "head-no-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {}, in: "HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "status-204-with-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.WriteHeader(http.StatusNoContent)
			h1eqWriter(w, note)("body")
		}, in: h1eqGet + h1eqGet},
		{name: "status-304-with-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Length", "4")
			w.Header().Set("Etag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
			h1eqWriter(w, note)("body")
		}, in: h1eqGet + h1eqGet},
		{name: "content-length-set", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Length", "11")
			h1eqWriter(w, note)("hello world")
		}, in: h1eqGet + h1eqGet},
		{name: "content-length-short-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Length", "10")
			h1eqWriter(w, note)("hello")
		}, in: h1eqGet + h1eqGet},
		{name: "content-length-long-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Length", "3")
			h1eqWriter(w, note)("hello")
		}, in: h1eqGet + h1eqGet},
		{name: "content-length-large", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Length", fmt.Sprint(len(h1eqBig)))
			h1eqWriter(w, note)(h1eqBig)
		}, in: h1eqGet + h1eqGet},
		{name: "small-body-sniffed", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)("<html><body>hi</body></html>")
		}, in: h1eqGet},
		{name: "small-body-nosniff", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			h1eqWriter(w, note)("<html><body>hi</body></html>")
		}, in: h1eqGet},
		{name: "content-type-empty-slice", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header()["Content-Type"] = nil
			h1eqWriter(w, note)("<html>")
		}, in: h1eqGet},
		{name: "no-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {}, in: h1eqGet + h1eqGet},
		{name: "status-only", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.WriteHeader(http.StatusTeapot)
		}, in: h1eqGet},
		{name: "status-unknown-code", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.WriteHeader(599)
			h1eqWriter(w, note)("x")
		}, in: h1eqGet},
		{name: "large-body-chunked", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			write := h1eqWriter(w, note)
			write(h1eqBig)
			write("tail")
		}, in: h1eqGet + h1eqGet},
		{name: "large-body-http10", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)(h1eqBig)
		}, in: "GET / HTTP/1.0\r\n\r\n"},
		{name: "large-body-http10-keepalive", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)(h1eqBig)
		}, in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n"},
		{name: "handler-sets-transfer-encoding", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Transfer-Encoding", "chunked")
			h1eqWriter(w, note)("abc")
		}, in: h1eqGet + h1eqGet},
		{name: "handler-sets-bad-content-length", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Length", "abc")
			h1eqWriter(w, note)("abc")
		}, in: h1eqGet + h1eqGet},
		{name: "flush-mid-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			write := h1eqWriter(w, note)
			write("a")
			h1eqFlush(w, note)
			write("b")
		}, in: h1eqGet + h1eqGet},
		{name: "flush-before-write", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqFlush(w, note)
		}, in: h1eqGet + h1eqGet},
		{name: "flush-http10", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			write := h1eqWriter(w, note)
			write("a")
			h1eqFlush(w, note)
			write("b")
		}, in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
		{name: "flush-content-length", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Length", "2")
			write := h1eqWriter(w, note)
			write("a")
			h1eqFlush(w, note)
			write("b")
		}, in: h1eqGet + h1eqGet},
		{name: "trailer-declared", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Trailer", "X-Sum, X-Other")
			h1eqWriter(w, note)("body")
			w.Header().Set("X-Sum", "42")
			w.Header().Set("X-Undeclared", "dropped")
		}, in: h1eqGet + h1eqGet},
		{name: "trailer-declared-space-around", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header()["Trailer"] = []string{"X-Sum\n, \rX-Other\t,\r\n"}
			h1eqWriter(w, note)("body")
			w.Header().Set("X-Sum", "42")
			w.Header().Set("X-Other", "7")
		}, in: h1eqGet + h1eqGet},
		{name: "trailer-prefix", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)("body")
			h1eqFlush(w, note)
			w.Header().Set(http.TrailerPrefix+"X-Late", "v")
		}, in: h1eqGet + h1eqGet},
		{name: "trailer-prefix-unflushed", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)("body")
			w.Header().Set(http.TrailerPrefix+"X-Late", "v")
		}, in: h1eqGet + h1eqGet},
		{name: "trailer-declared-content-length", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("Content-Length", "4")
			h1eqWriter(w, note)("body")
			w.Header().Set("X-Sum", "42")
		}, in: h1eqGet + h1eqGet},
		{name: "trailer-http10", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Trailer", "X-Sum")
			h1eqWriter(w, note)("body")
			w.Header().Set("X-Sum", "42")
		}, in: "GET / HTTP/1.0\r\n\r\n"},
		{name: "informational-103", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Link", "</script.js>; rel=preload; as=script")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("done")
		}, in: h1eqGet + h1eqGet},
		// An HTTP/1.0 client knows no 1xx: it would read the 103 as the
		// answer (RFC 9110 §15.2). The twin over HTTP/1.1 is the case
		// above.
		{name: "informational-103-http10", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("done")
		}, in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
			deliberate: "no 1xx answer to an HTTP/1.0 request",
			wantOld: "HTTP/1.0 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\nHTTP/1.0 200 OK\r\nDate: DATE\r\nContent-Length: 4\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: keep-alive\r\n\r\ndone" +
				"HTTP/1.0 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\nHTTP/1.0 200 OK\r\nDate: DATE\r\nContent-Length: 4\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ndone",
			wantNew: "HTTP/1.0 200 OK\r\nDate: DATE\r\nContent-Length: 4\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: keep-alive\r\n\r\ndone" + "HTTP/1.0 200 OK\r\nDate: DATE\r\nContent-Length: 4\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ndone"},
		// A body with a Content-Encoding is not sniffed for a type; the
		// twin without one is.
		{name: "content-encoding-not-sniffed", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Encoding", "identity")
			h1eqWriter(w, note)("<html>hello</html>")
		}, in: h1eqGet + h1eqGet},
		{name: "content-encoding-empty-sniffed", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Encoding", "")
			h1eqWriter(w, note)("<html>hello</html>")
		}, in: h1eqGet + h1eqGet},
		// A 1xx answer leaves out Content-Length and Transfer-Encoding
		// (net/http's excludedHeadersNoBody), and only those.
		{name: "informational-103-excluded-fields", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.Header().Set("Content-Length", "4")
			w.Header().Set("Transfer-Encoding", "chunked")
			w.Header().Set("Trailer", "X-Sum")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Transfer-Encoding")
			w.Header().Del("Trailer")
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("done")
		}, in: h1eqGet + h1eqGet},
		{name: "informational-100-from-handler", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.WriteHeader(http.StatusContinue)
			h1eqWriter(w, note)("done")
		}, in: h1eqGet},
		{name: "status-101-from-handler", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Upgrade", "x")
			w.Header().Set("Connection", "Upgrade")
			w.WriteHeader(http.StatusSwitchingProtocols)
			h1eqWriter(w, note)("done")
		}, in: h1eqGet},
		{name: "write-header-twice", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusInternalServerError)
			h1eqWriter(w, note)("x")
		}, in: h1eqGet},
		{name: "write-header-after-write", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)("x")
			w.WriteHeader(http.StatusInternalServerError)
		}, in: h1eqGet},
		{name: "write-header-invalid-code", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			defer func() { note("recovered %v", recover()) }()
			w.WriteHeader(1000)
		}, in: h1eqGet},
		{name: "header-map-changed-after-write", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("X-Before", "1")
			w.WriteHeader(http.StatusOK)
			w.Header().Set("X-After", "1")
			h1eqWriter(w, note)("x")
		}, in: h1eqGet},
		{name: "response-header-values", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header()["x-lower"] = []string{"a"}
			w.Header().Add("X-Multi", "1")
			w.Header().Add("X-Multi", "2")
			w.Header().Set("X-Newline", "a\r\nInjected: yes")
			w.Header().Set("X-Empty", "")
			w.Header()["X-Nil"] = nil
			w.Header().Set("Bad Name", "v")
			h1eqWriter(w, note)("x")
		}, in: h1eqGet},
		{name: "response-date-set-by-handler", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
			h1eqWriter(w, note)("x")
		}, in: h1eqGet},
		{name: "response-date-suppressed", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header()["Date"] = nil
			h1eqWriter(w, note)("x")
		}, in: h1eqGet},

		// Hijack and panics.
		{name: "hijack", handler: h1eqHijack(nil, nil), in: h1eqGet},
		{name: "hijack-buffered", handler: h1eqHijack(nil, nil), in: h1eqGet + "PIPELINED BYTES"},
		{name: "hijack-after-header-set", handler: h1eqHijack(func(w http.ResponseWriter, note h1eqNote) {
			w.Header().Set("X-Lost", "1")
		}, nil), in: h1eqGet},
		{name: "hijack-after-write", handler: h1eqHijack(func(w http.ResponseWriter, note h1eqNote) {
			h1eqWriter(w, note)("before")
		}, nil), in: h1eqGet},
		{name: "hijack-after-flush", handler: h1eqHijack(func(w http.ResponseWriter, note h1eqNote) {
			h1eqWriter(w, note)("before")
			h1eqFlush(w, note)
		}, nil), in: h1eqGet},
		{name: "write-after-hijack", handler: h1eqHijack(nil, func(w http.ResponseWriter, note h1eqNote) {
			h1eqWriter(w, note)("after")
			w.WriteHeader(http.StatusInternalServerError)
		}), in: h1eqGet},
		{name: "hijack-with-unread-body", handler: h1eqHijack(nil, nil), in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "hijack-http10", handler: h1eqHijack(nil, nil), in: "GET / HTTP/1.0\r\n\r\n"},
		{name: "panic", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)("partial")
			panic("boom")
		}, in: h1eqGet + h1eqGet},
		{name: "panic-after-flush", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)("partial")
			h1eqFlush(w, note)
			panic("boom")
		}, in: h1eqGet + h1eqGet},
		{name: "panic-abort-handler", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)("partial")
			panic(http.ErrAbortHandler)
		}, in: h1eqGet + h1eqGet},
		{name: "panic-error-value", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			panic(fmt.Errorf("wrapped: %w", http.ErrAbortHandler))
		}, in: h1eqGet},

		// Request bodies.
		{name: "body-content-length", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet},
		{name: "body-content-length-zero", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n" + h1eqGet},
		{name: "body-content-length-repeated-same", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet},
		{name: "body-content-length-list-same", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5, 5\r\n\r\nhello" + h1eqGet},
		{name: "body-on-get", handler: h1eqReadBody, in: "GET / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet},
		{name: "body-http10-content-length", handler: h1eqReadBody, in: "POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "body-http10-no-length", handler: h1eqReadBody, in: "POST / HTTP/1.0\r\n\r\nhello"},
		{name: "body-chunked", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n" + h1eqGet},
		{name: "body-chunked-trailers", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n" + h1eqGet},
		{name: "body-chunked-undeclared-trailer", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-U: 1\r\n\r\n" + h1eqGet},
		{name: "body-chunked-numeric-trailer-name", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n0:\r\n\r\n" + h1eqGet},
		{name: "body-chunked-bad-size", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n" + h1eqGet},
		{name: "body-chunked-bare-lf", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n" + h1eqGet},
		{name: "body-chunked-http10", handler: h1eqReadBody, in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		// RFC 9112 §6.1: after an HTTP/1.0 request with Transfer-Encoding
		// the server MUST close. Go frames it by Content-Length (here:
		// none, no body), so net/http reads the chunked body as the next
		// requests; a server in front that read it chunked would have
		// them answered. Twins: body-http10-content-length-keepalive and
		// http10-keepalive keep their connections.
		{name: "body-chunked-http10-keepalive", handler: h1eqReadBody, in: "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3\r\nabc\r\n0\r\n\r\n",
			deliberate: "an HTTP/1.0 request with Transfer-Encoding closes its connection",
			wantOld: "HTTP/1.0 200 OK\r\nDate: DATE\r\nContent-Length: 6\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: keep-alive\r\n\r\nread 0" +
				"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request",
			wantNew: "HTTP/1.0 200 OK\r\nDate: DATE\r\nContent-Length: 6\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nread 0"},
		{name: "body-cl-te-http10-keepalive", handler: h1eqReadBody, in: "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" +
			"hello" + "GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
			deliberate: "an HTTP/1.0 request with Transfer-Encoding closes its connection",
			wantOld: "HTTP/1.0 200 OK\r\nDate: DATE\r\nContent-Length: 6\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: keep-alive\r\n\r\nread 5" +
				"HTTP/1.0 200 OK\r\nDate: DATE\r\nContent-Length: 6\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: keep-alive\r\n\r\nread 0",
			wantNew: "HTTP/1.0 200 OK\r\nDate: DATE\r\nContent-Length: 6\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nread 5"},
		{name: "body-http10-content-length-keepalive", handler: h1eqReadBody, in: "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n" +
			"hello" + "GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
		{name: "body-chunked-truncated-trailer", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"},
		{name: "body-chunked-truncated", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"},
		{name: "body-truncated", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 10\r\n\r\nhello",
			deliberate: "a request body whose read failed ends the connection",
			wantOld:    "HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 6\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nread 5",
			wantNew:    "HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 6\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nread 5"},
		{name: "body-unread-small", in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" + "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "body-unread-small-chunked", in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n" + h1eqChunked("hello") + "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "body-unread-large", in: fmt.Sprintf("POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n%sGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n", len(h1eqHuge), h1eqHuge)},
		{name: "body-unread-large-chunked", in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n" + h1eqChunked(h1eqHuge) + "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "body-unread-large-flushed", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)("early")
			h1eqFlush(w, note)
		}, in: fmt.Sprintf("POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n%sGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n", len(h1eqHuge), h1eqHuge)},
		{name: "body-partly-read", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			b := make([]byte, 2)
			n, err := io.ReadFull(r.Body, b)
			note("read %d %v", n, err)
			h1eqOK(w, r, note)
		}, in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" + "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "body-closed-by-handler", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			note("close %v", r.Body.Close())
			b := make([]byte, 2)
			n, err := r.Body.Read(b)
			note("read after close %d %v", n, err)
			h1eqOK(w, r, note)
		}, in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" + "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "body-read-after-response", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqWriter(w, note)("early")
			h1eqFlush(w, note)
			h1eqReadBody(w, r, note)
		}, in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet},
		{name: "body-max-bytes-reader", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			r.Body = http.MaxBytesReader(w, r.Body, 3)
			h1eqReadBody(w, r, note)
		}, in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet,
			deliberate: "http.MaxBytesReader cannot ask h1Server to close (the hook is net/http's own)",
			wantOld:    "HTTP/1.1 200 OK\r\nConnection: close\r\nDate: DATE\r\nContent-Length: 6\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nread 3",
			wantNew:    "HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 6\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nread 3HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 6\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nread 0"},
		// The twin: a handler that says Connection: close itself, as the
		// gateway's 413 does, gets the same answer from both.
		{name: "body-max-bytes-reader-handler-closes", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			r.Body = http.MaxBytesReader(w, r.Body, 3)
			b, err := io.ReadAll(r.Body)
			note("body %q %v", b, err)
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusRequestEntityTooLarge)
			}
		}, in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet},
		{name: "expect-100-read", handler: h1eqReadBody, steps: []h1eqStep{
			{send: "POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"},
			{waitFor: "100 Continue", send: "hello"},
		}, in: h1eqGet},
		// A final status before the body is read: no 100 Continue after it.
		{name: "expect-100-read-after-write-header", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusOK)
			h1eqFlush(w, note)
			h1eqReadBody(w, r, note)
		}, steps: []h1eqStep{
			{send: "POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"},
			{waitFor: "200 OK", send: "hello"},
		}, in: h1eqGet},
		{name: "expect-100-read-body-sent-early", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet},
		{name: "expect-100-not-read", in: "POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"},
		{name: "expect-100-not-read-body-sent", in: "POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet},
		{name: "expect-100-no-body", handler: h1eqReadBody, in: "GET / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\n\r\n" + h1eqGet},
		{name: "expect-100-http10", handler: h1eqReadBody, in: "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "expect-100-case", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet},
		{name: "expect-other", in: "POST / HTTP/1.1\r\nHost: a.test\r\nExpect: something-else\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet},

		// Malformed and ambiguous requests.
		{name: "bad-request-line", in: "GARBAGE\r\n\r\n"},
		{name: "bad-request-line-extra-space", in: "GET  / HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "bad-request-line-space-in-target", in: "GET /a b HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "bad-method", in: "G(T / HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "lowercase-method", in: "get / HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "bad-proto", in: "GET / HTTP/1.x\r\nHost: a.test\r\n\r\n"},
		{name: "http2-request-line", in: "GET / HTTP/2.0\r\nHost: a.test\r\n\r\n"},
		{name: "http2-preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
		{name: "http09", in: "GET /\r\n\r\n"},
		{name: "http09-proto", in: "GET / HTTP/0.9\r\n\r\n"},
		{name: "bad-header-line", in: "GET / HTTP/1.1\r\nHost: a.test\r\nNoColon\r\n\r\n"},
		{name: "header-space-before-colon", in: "GET / HTTP/1.1\r\nHost: a.test\r\nX-A : 1\r\n\r\n"},
		{name: "header-name-space", in: "GET / HTTP/1.1\r\nHost: a.test\r\nX A: 1\r\n\r\n"},
		{name: "header-ctl-in-value", in: "GET / HTTP/1.1\r\nHost: a.test\r\nX-A: a\x01b\r\n\r\n"},
		{name: "header-nul-in-value", in: "GET / HTTP/1.1\r\nHost: a.test\r\nX-A: a\x00b\r\n\r\n"},
		{name: "header-bare-cr", in: "GET / HTTP/1.1\r\nHost: a.test\r\nX-A: a\rb\r\n\r\n"},
		{name: "header-bare-lf", in: "GET / HTTP/1.1\nHost: a.test\nX-A: 1\n\n"},
		{name: "header-obs-fold", in: "GET / HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n 2\r\n\r\n"},
		{name: "header-first-line-folded", in: "GET / HTTP/1.1\r\n X-A: 1\r\nHost: a.test\r\n\r\n"},
		{name: "header-utf8-value", in: "GET / HTTP/1.1\r\nHost: a.test\r\nX-A: caf\xc3\xa9\r\n\r\n"},
		{name: "header-tab-value", in: "GET / HTTP/1.1\r\nHost: a.test\r\nX-A: \ta\tb \t\r\n\r\n"},
		{name: "header-empty-name", in: "GET / HTTP/1.1\r\nHost: a.test\r\n: v\r\n\r\n"},
		{name: "header-lowercase-names", in: "GET / HTTP/1.1\r\nhost: a.test\r\nx-a: 1\r\ncontent-length: 0\r\n\r\n"},
		{name: "header-many", in: "GET / HTTP/1.1\r\nHost: a.test\r\n" + strings.Repeat("X-Many: 1\r\n", 200) + "\r\n"},
		{name: "missing-host", in: "GET / HTTP/1.1\r\n\r\n"},
		// After a chunked request the framing scanner has stopped: the
		// check falls back to r.Host (transfer-encoding-case is the
		// twin with a Host field).
		{name: "missing-host-after-chunked", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n" + h1eqChunked("abc") + "GET / HTTP/1.1\r\n\r\n"},
		{name: "empty-host", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n" + h1eqGet},
		{name: "two-hosts", in: "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"},
		{name: "two-hosts-same", in: "GET / HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n"},
		{name: "malformed-host", in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"},
		{name: "malformed-host-slash", in: "GET / HTTP/1.1\r\nHost: a.test/x\r\n\r\n"},
		{name: "host-ipv6-port", in: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
		{name: "host-percent", in: "GET / HTTP/1.1\r\nHost: a%2etest\r\n\r\n"},
		{name: "unsupported-transfer-encoding", in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\nabc"},
		{name: "transfer-encoding-gzip-chunked", in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{name: "transfer-encoding-chunked-twice", in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "transfer-encoding-identity", in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "transfer-encoding-case", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: Chunked\r\n\r\n" + h1eqChunked("abc") + h1eqGet},
		{name: "content-length-and-transfer-encoding", handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + h1eqChunked("abc") + h1eqGet},
		{name: "content-lengths-differ", in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
		{name: "content-length-negative", in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: -1\r\n\r\n"},
		{name: "content-length-plus", in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: +3\r\n\r\nabc"},
		{name: "content-length-hex", in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0x3\r\n\r\nabc"},
		{name: "content-length-huge", in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 99999999999999999999\r\n\r\nabc"},
		{name: "header-oversize", set: h1eqSettings{maxHeaderBytes: 1024}, in: "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: " + strings.Repeat("b", 8<<10) + "\r\n\r\n"},
		// net/http allows MaxHeaderBytes plus 4096 bytes of slack.
		{name: "header-over-max-within-slack", set: h1eqSettings{maxHeaderBytes: 1024}, in: "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: " + strings.Repeat("b", 3<<10) + "\r\n\r\n"},
		{name: "header-oversize-default", in: "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: " + strings.Repeat("b", 1<<20+8<<10) + "\r\n\r\n"},
		{name: "header-oversize-second-request", set: h1eqSettings{maxHeaderBytes: 1024}, in: h1eqGet + "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: " + strings.Repeat("b", 8<<10) + "\r\n\r\n"},
		{name: "leading-crlf-after-post", handler: h1eqReadBody, in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "leading-crlfs-after-post", handler: h1eqReadBody, in: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "leading-crlf-after-get", in: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "leading-crlf-first-request", in: "\r\nGET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "trailing-partial-request", in: h1eqGet + "GE"},
		{name: "trailing-crlf", in: h1eqGet + "\r\n"},
		{name: "partial-head-then-eof", in: "GET / HTTP/1.1\r\nHost: a.te"},
		{name: "empty-input", in: ""},

		// Request targets and methods.
		{name: "absolute-form", in: "GET http://b.test/p?q=1 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "absolute-form-https-userinfo", in: "GET https://u:p@b.test:8443/p HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "absolute-form-no-host-header", in: "GET http://b.test/p HTTP/1.1\r\n\r\n"},
		{name: "options-star", in: "OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "get-star", in: "GET * HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "connect", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("tunnel")
		}, in: "CONNECT b.test:443 HTTP/1.1\r\nHost: b.test:443\r\n\r\n" + h1eqGet},
		{name: "connect-bad-authority", in: "CONNECT a\"b:443 HTTP/1.1\r\nHost: a.test\r\n\r\n",
			deliberate: "a target's authority, which becomes r.Host, is checked as a Host field",
			wantOld:    "HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 3\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nok ",
			wantNew:    h1eqMalformedHost},
		{name: "connect-bad-authority-bad-header-name", in: "CONNECT a\"b:443 HTTP/1.1\r\nHost: a.test\r\nX A: 1\r\n\r\n"},
		{name: "absolute-form-bad-authority-bad-header-name", in: "GET http://a\"b/ HTTP/1.1\r\nHost: a.test\r\nX A: 1\r\n\r\n"},
		{name: "connect-no-host", in: "CONNECT b.test:443 HTTP/1.1\r\n\r\n"},
		{name: "connect-path", in: "CONNECT /path HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "target-query-fragment", in: "GET /a%20b/../c?x=%zz#frag HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "target-no-slash", in: "GET a/b HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "target-double-slash", in: "GET //b.test/p HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "target-bad-escape", in: "GET /%zz HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "target-nul-escape", in: "GET /a%00b HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "absolute-form-no-path", in: "GET http://b.test HTTP/1.1\r\nHost: b.test\r\n\r\n"},
		{name: "absolute-form-bad-authority", in: "GET http://a\"b/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
			deliberate: "an absolute-form target's authority, which becomes r.Host, is checked as a Host field",
			wantOld:    "HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 4\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nok /",
			wantNew:    h1eqMalformedHost},
		{name: "absolute-form-bad-authority-http10", in: "GET A://\" HTTP/1.0\r\n\r\n",
			deliberate: "an absolute-form target's authority, which becomes r.Host, is checked as a Host field",
			wantOld:    "HTTP/1.0 200 OK\r\nDate: DATE\r\nContent-Length: 3\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nok ",
			wantNew:    h1eqMalformedHost},
		{name: "absolute-form-malformed-host-field", in: "GET http://b.test/ HTTP/1.1\r\nHost: a\"b\r\n\r\n"},
		{name: "absolute-form-malformed-host-field-http10", in: "GET http://b.test/ HTTP/1.0\r\nHost: a\"b\r\n\r\n"},
		{name: "absolute-form-bad-scheme", in: "GET ftp://b.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n"},
		{name: "pri-method", in: "PRI / HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "host-port", in: "GET / HTTP/1.1\r\nHost: a.test:80\r\n\r\n"},
		{name: "host-trailing-dot-underscore", in: "GET / HTTP/1.1\r\nHost: a_b.test.\r\n\r\n"},
		{name: "header-underscore", in: "GET / HTTP/1.1\r\nHost: a.test\r\nX_A: 1\r\n\r\n"},
		{name: "target-long", in: "GET /" + strings.Repeat("p", 6000) + " HTTP/1.1\r\nHost: a.test\r\n\r\n"},

		// Timeouts: outcomes, not durations. A timeout that a step must
		// beat (the first head, sent at once; a head sent as an answer
		// comes) is a second, for loaded -race runs; one that only has
		// to fire (nothing more comes, or a handler sleeps past it) may
		// be short.
		{name: "read-header-timeout-half-head", set: h1eqSettings{readHeaderTimeout: 50 * time.Millisecond}, keepOpen: true, in: "GET / HTTP/1.1\r\nHost: a.te"},
		{name: "read-header-timeout-silent", set: h1eqSettings{readHeaderTimeout: 50 * time.Millisecond}, keepOpen: true},
		// A keep-alive connection's next head: h1Server skips the header
		// timeout when the head is whole in its buffer (headBuffered),
		// and keeps it for one that is not, or ends in bare LF.
		{name: "read-header-timeout-second-half-head", set: h1eqSettings{readHeaderTimeout: time.Second, idleTimeout: 20 * time.Second}, keepOpen: true, steps: []h1eqStep{
			{send: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
			{waitFor: "ok /1", send: "GET /2 HTTP/1.1\r\nHost: a.te"},
		}},
		{name: "read-header-timeout-second-head-crlf-split", set: h1eqSettings{readHeaderTimeout: time.Second, idleTimeout: 20 * time.Second}, keepOpen: true, steps: []h1eqStep{
			{send: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
			{waitFor: "ok /1", send: "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r"},
		}},
		// Neither server closes (no idle timeout): the client gives up,
		// 2 s after a header deadline that would have fired.
		{name: "read-header-timeout-pipelined-whole-heads", set: h1eqSettings{readHeaderTimeout: time.Second}, keepOpen: true, giveUp: 3 * time.Second,
			in: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /3 HTTP/1.1\r\nHost: a.test\n\n"},
		{name: "read-timeout-body", set: h1eqSettings{readTimeout: time.Second}, handler: h1eqReadBody, keepOpen: true, in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 10\r\n\r\nhello"},
		{name: "idle-timeout", set: h1eqSettings{idleTimeout: time.Second}, keepOpen: true, steps: []h1eqStep{
			{send: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
			{waitFor: "ok /1", send: "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		}},
		// The idle wait's deadline is later than the header deadline the
		// connection has, which h1Server leaves armed (readDeadline):
		// when it fires first, the wait goes on until the idle timeout.
		// The header timeout is a margin the first head must beat: a
		// second, for loaded -race runs; each wait past it, half a
		// second more.
		{name: "idle-wait-outlives-earlier-header-deadline", set: h1eqSettings{readHeaderTimeout: time.Second, idleTimeout: 20 * time.Second}, steps: []h1eqStep{
			{send: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
			{waitFor: "ok /1", delay: 1500 * time.Millisecond, send: "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		}},
		{name: "idle-timeout-after-earlier-header-deadline", set: h1eqSettings{readHeaderTimeout: time.Second, idleTimeout: 1500 * time.Millisecond}, keepOpen: true, steps: []h1eqStep{
			{send: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		}},
		// A request without a body keeps the idle or header deadline
		// through its handler (h1Server does not clear it): a handler
		// slower than either still answers, and the next request is read.
		// The timeouts are margins the heads must beat (the second is
		// sent as the first answer comes): a second, for loaded -race
		// runs; the handlers outlast them by half a second.
		{name: "slow-bodyless-handler-past-idle-timeout", set: h1eqSettings{idleTimeout: time.Second}, keepOpen: true, handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			time.Sleep(1500 * time.Millisecond)
			h1eqWriter(w, note)("late " + r.URL.Path)
		}, steps: []h1eqStep{
			{send: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
			{waitFor: "late /1", send: "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
			{waitFor: "late /2"},
		}},
		{name: "slow-bodyless-handler-past-header-timeout", set: h1eqSettings{readHeaderTimeout: time.Second}, handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			time.Sleep(1500 * time.Millisecond)
			h1eqWriter(w, note)("late " + r.URL.Path)
		}, in: h1eqGet + h1eqGet},
		{name: "write-timeout-small", set: h1eqSettings{writeTimeout: 50 * time.Millisecond}, handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			time.Sleep(200 * time.Millisecond)
			h1eqWriter(w, note)("late")
		}, in: h1eqGet + h1eqGet},
		{name: "write-timeout-large", set: h1eqSettings{writeTimeout: 50 * time.Millisecond}, handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			time.Sleep(200 * time.Millisecond)
			write := h1eqWriter(w, note)
			write(h1eqBig)
			write(h1eqBig)
			h1eqFlush(w, note)
		}, in: h1eqGet + h1eqGet},
		{name: "write-deadline-extended", set: h1eqSettings{writeTimeout: 50 * time.Millisecond}, handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			note("set deadline %v", http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Hour)))
			time.Sleep(200 * time.Millisecond)
			h1eqWriter(w, note)("late but allowed")
		}, in: h1eqGet},
		// A handler's deadline replaces the request's (ReadTimeout) and
		// the header deadline h1Server may still have armed: cleared,
		// the body's rest comes after both and is read. (The twin, no
		// handler's deadline, is read-timeout-body.)
		{name: "read-deadline-cleared-by-handler", set: h1eqSettings{readHeaderTimeout: time.Second, readTimeout: 2 * time.Second}, handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			note("set deadline %v", http.NewResponseController(w).SetReadDeadline(time.Time{}))
			h1eqReadBody(w, r, note)
		}, steps: []h1eqStep{
			{send: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 10\r\n\r\nhello"},
			{delay: 2500 * time.Millisecond, send: "world"},
		}},
		// The watch's background read clears the request's deadline, as
		// net/http's does: a handler that outlives ReadTimeout keeps its
		// context (with the client's connection open). Margins as in
		// slow-bodyless-handler-past-header-timeout.
		{name: "slow-bodyless-handler-past-read-timeout", set: h1eqSettings{readTimeout: time.Second}, handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			time.Sleep(1500 * time.Millisecond)
			note("ctx %v", r.Context().Err())
			h1eqOK(w, r, note)
		}, keepOpen: true, in: h1eqGet},
		{name: "read-deadline-from-handler", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			note("set deadline %v", http.NewResponseController(w).SetReadDeadline(time.Now().Add(-time.Second)))
			h1eqReadBody(w, r, note)
		}, keepOpen: true, in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 10\r\n\r\nhello"},

		// The request's context: cancelled when the client goes away
		// during the handler, not by pipelined bytes.
		{name: "client-gone-cancels-context", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			select {
			case <-r.Context().Done():
				note("cancelled: %v", context.Cause(r.Context()))
			case <-time.After(3 * time.Second):
				note("not cancelled")
			}
			h1eqOK(w, r, note)
		}, in: h1eqGet},
		{name: "slow-handler-pipelined-not-cancelled", set: h1eqSettings{idleTimeout: 100 * time.Millisecond}, keepOpen: true, handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			time.Sleep(150 * time.Millisecond)
			note("ctx %v", r.Context().Err())
			h1eqOK(w, r, note)
		}, in: "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{name: "slow-handler-reads-body-later", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			time.Sleep(200 * time.Millisecond)
			h1eqReadBody(w, r, note)
			note("ctx %v", r.Context().Err())
		}, steps: []h1eqStep{
			{send: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhe"},
			{delay: 100 * time.Millisecond, send: "llo"},
			{waitFor: "read 5", send: h1eqGet},
		}},
		{name: "slow-handler-flushes-then-reads-body", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			time.Sleep(200 * time.Millisecond)
			w.WriteHeader(http.StatusOK)
			h1eqFlush(w, note)
			h1eqReadBody(w, r, note)
		}, steps: []h1eqStep{
			{send: "POST /1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhe"},
			{delay: 100 * time.Millisecond, send: "llo" + h1eqGet},
		}},
		{name: "expect-100-slow-handler", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			time.Sleep(150 * time.Millisecond)
			h1eqReadBody(w, r, note)
		}, steps: []h1eqStep{
			{send: "POST / HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"},
			{waitFor: "100 Continue", send: "hello" + h1eqGet},
		}},

		// Through httputil.ReverseProxy, as the gateway uses the server.
		// The client does not half-close: net/http takes a half-close
		// as the client going away and cancels the request at once
		// (502 here), h1Server only once a handler has run for
		// bgReadDelay, so the outcome would depend on the upstream's
		// speed. The last request asks the server to close instead.
		{name: "proxy-get", handler: proxy, keepOpen: true, in: "GET /up/get HTTP/1.1\r\nHost: a.test\r\n\r\n" + "GET /up/get HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"},
		{name: "proxy-post-chunked-trailers", handler: proxy, keepOpen: true, in: "POST /up/echo HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nTe: trailers\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n" + h1eqGetClose},
		{name: "proxy-large", handler: proxy, keepOpen: true, in: "GET /up/large HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"},
		{name: "proxy-stream", handler: proxy, keepOpen: true, serial: true, steps: []h1eqStep{
			{send: "GET /up/stream HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"},
			{waitFor: "part 0\n", do: release},
			{waitFor: "part 1\n", do: release},
		}},
		{name: "proxy-head", handler: proxy, keepOpen: true, in: "HEAD /up/large HTTP/1.1\r\nHost: a.test\r\n\r\n" + h1eqGetClose},
		{name: "proxy-upgrade", handler: proxy, steps: []h1eqStep{
			{send: "GET /up/upgrade HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n"},
			{waitFor: "101 Switching Protocols", send: "ping"},
			{waitFor: "pong", send: ""},
		}},

		{name: "full-duplex", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			note("full duplex %v", http.NewResponseController(w).EnableFullDuplex())
			h1eqWriter(w, note)("early")
			h1eqFlush(w, note)
			h1eqReadBody(w, r, note)
		}, in: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" + h1eqGet},
	}
}

func TestH1ServerEquivalence(t *testing.T) {
	seen := map[string]bool{}
	next := make(chan struct{}, 1)
	up := httptest.NewServer(&h1eqUpstream{next: next})
	t.Cleanup(up.Close) // after the parallel subtests
	upURL, _ := url.Parse(up.URL)
	for _, c := range append(h1eqCases(upURL, next), h1eqAdoptCases()...) {
		if seen[c.name] {
			t.Fatalf("duplicate case %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h1eqCheck(t, c)
		})
	}
}

// TestH1ServerEquivalenceTLS: the same over TLS (tls.NewListener hands
// both servers a *tls.Conn before its handshake), with the project's dev
// PKI: r.TLS, handshake failures and plain HTTP sent to the TLS port.
func TestH1ServerEquivalenceTLS(t *testing.T) {
	ca := pkitest.CA(t)
	srvCert := pkitest.Server(t, ca)
	client := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "client-a"})
	// Both servers bound a handshake by the least of the timeouts set
	// (net/http's tlsHandshakeTimeout): here one longer than the client's
	// own wait (h1eqGiveUp), so that only a hang ends a handshake early. The cases with
	// test-scale deadlines have the listener do the handshake first.
	set := h1eqSettings{tls: srvCert.ServerTLSConfig(ca), readHeaderTimeout: 30 * time.Second}
	withCert := client.ClientTLSConfig(ca)
	withCert.ServerName = "localhost"
	noCert := withCert.Clone()
	noCert.Certificates = nil
	for _, c := range []h1eqCase{
		{name: "get", clientTLS: withCert, in: h1eqGet + h1eqGet},
		{name: "body", clientTLS: withCert, handler: h1eqReadBody, in: "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n" + h1eqChunked("hello") + h1eqGet},
		{name: "no-client-cert", clientTLS: noCert, in: h1eqGet},
		{name: "plain-http-to-tls-port", in: h1eqGet},
		{name: "garbage-to-tls-port", in: "\x16\x03\x01\x00\x05hello"},
		// The header deadline armed first fires during the idle wait
		// and during a body: both read again (readDeadline), over TLS
		// records as over TCP. Margins as in the TCP cases; the
		// handshake comes first, out of the header timeout's reach.
		{name: "idle-wait-outlives-earlier-header-deadline", clientTLS: withCert, set: h1eqSettings{readHeaderTimeout: time.Second, idleTimeout: 20 * time.Second, handshakeFirst: true}, steps: []h1eqStep{
			{send: h1eqGet},
			{waitFor: "ok /", delay: 1500 * time.Millisecond, send: h1eqGet},
		}},
		{name: "body-outlives-earlier-header-deadline", clientTLS: withCert, set: h1eqSettings{readHeaderTimeout: time.Second, handshakeFirst: true}, handler: h1eqReadBody, steps: []h1eqStep{
			{send: "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 10\r\n\r\nhello"},
			{delay: 1500 * time.Millisecond, send: "world"},
		}},
	} {
		if c.set == (h1eqSettings{}) {
			c.set = set
		} else {
			c.set.tls = set.tls
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h1eqCheck(t, c)
		})
	}
}

// TestH1ServerShutdownIdle: Shutdown closes an idle keep-alive connection
// in both servers and returns.
func TestH1ServerShutdownIdle(t *testing.T) {
	old, nw := h1eqServe(t, h1eqSettings{}, nil)
	for _, e := range []*h1eqEnd{old, nw} {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, h1eqGet)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		io.Copy(io.Discard, resp.Body)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.shutdown(ctx); err != nil {
			t.Errorf("%s: shutdown: %v", e.name, err)
		}
		rest, err := io.ReadAll(br)
		if len(rest) != 0 || err != nil {
			t.Errorf("%s: after shutdown got %q, %v; want EOF", e.name, rest, err)
		}
	}
}

// TestH1ServerShutdownActive: Shutdown waits for a running handler, whose
// response then says Connection: close, and returns once the connection
// is closed; both servers answer with the same bytes.
func TestH1ServerShutdownActive(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{}, 1)
	old, nw := h1eqServe(t, h1eqSettings{}, func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
		started <- struct{}{}
		<-release
		h1eqOK(w, r, note)
	})
	var got [2]string
	for i, e := range []*h1eqEnd{old, nw} {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, h1eqGet)
		<-started
		errc := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			errc <- e.shutdown(ctx)
		}()
		h1eqAwaitShutdown(t, e)
		select {
		case err := <-errc:
			t.Errorf("%s: Shutdown returned %v while a handler ran", e.name, err)
		default:
		}
		release <- struct{}{}
		out, err := io.ReadAll(c)
		if err != nil {
			t.Errorf("%s: reading the response: %v", e.name, err)
		}
		if err := <-errc; err != nil {
			t.Errorf("%s: Shutdown: %v", e.name, err)
		}
		got[i] = h1eqNormalize(string(out), e.addr, c.LocalAddr().String())
		e.take(t, 1)
	}
	if got[0] != got[1] {
		t.Errorf("responses differ:\n%s", h1eqDiff("old", got[0], "new", got[1]))
	}
	if !strings.Contains(got[0], "Connection: close\r\n") {
		t.Errorf("old response %q lacks Connection: close", got[0])
	}
}

// h1eqAwaitShutdown returns once e's server refuses new connections: the
// old one closes its listener, the new one closes each connection handed
// to ServeConn at once.
func h1eqAwaitShutdown(t *testing.T, e *h1eqEnd) {
	t.Helper()
	for range 250 {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, err = c.Read(make([]byte, 1))
		c.Close()
		if errors.Is(err, io.EOF) {
			// The probe was a connection: let the server account for it.
			select {
			case <-e.done:
			case <-time.After(5 * time.Second):
			}
			return
		}
	}
	t.Fatalf("%s: server still accepts connections 5s after Shutdown", e.name)
}

// h1eqDeliberateEcho names the difference h1Server's doc lists that
// explains why the echo handler's answers differ to the input in, or
// returns "". Each rule accepts one difference in one response, the
// first that differs; the answers before it must be the same.
func h1eqDeliberateEcho(in, old, nw string) string {
	if old == nw {
		return ""
	}
	i := 0
	for i < len(old) && i < len(nw) && old[i] == nw[i] {
		i++
	}
	// The differing response starts at the start of the stream or after
	// a newline (echoed bodies end in one; error answers end the stream).
	start := strings.LastIndex(old[:i], "\nHTTP/1.") + 1
	o, n := old[start:], nw[start:]

	// An absolute-form (or CONNECT's authority-form) target's authority,
	// which becomes r.Host, is checked as a Host field: net/http's
	// handler echoed a host that is not a valid Host field, h1Server
	// refused.
	if n == h1eqMalformedHost {
		if m := h1eqEchoHostRE.FindStringSubmatch(o); m != nil {
			host, err := strconv.Unquote(m[3])
			if err == nil && (strings.Contains(m[2], "://") || m[1] == "CONNECT") && !httpguts.ValidHostHeader(host) {
				return "a target's authority checked as a Host field"
			}
		}
	}
	// A request body whose read failed ends the connection: the same
	// answer, with Connection: close, to a request whose body read failed.
	if head, _, ok := strings.Cut(n, "\r\n\r\n"); ok && strings.Contains(head, "\r\nConnection: close") {
		if strings.Replace(n, "\r\nConnection: close\r\n", "\r\n", 1) == o && h1eqEchoBodyErrRE.MatchString(o) {
			return "a failed body read ends the connection"
		}
	}
	// An HTTP/1.0 request with Transfer-Encoding closes its connection:
	// the input has such a head, and the new answer is net/http's answer
	// to a kept HTTP/1.0 request without "Connection: keep-alive", and
	// the last.
	if h1eqHTTP10TERE.MatchString(in) {
		first := o // up to net/http's next answer
		if j := strings.Index(o, "\nHTTP/1."); j >= 0 {
			first = o[:j+1]
		}
		if strings.Contains(first, " HTTP/1.0 close=false ") && strings.Replace(first, "\r\nConnection: keep-alive\r\n", "\r\n", 1) == n {
			return "an HTTP/1.0 request with Transfer-Encoding closes its connection"
		}
	}
	return ""
}

var (
	// h1eqHTTP10TERE matches an HTTP/1.0 request head with a
	// Transfer-Encoding field.
	h1eqHTTP10TERE = regexp.MustCompile(`(?i) HTTP/1\.0\r?\n(?:[^\r\n][^\n]*\n)*?transfer-encoding:`)
	// h1eqEchoHostRE matches h1eqEcho's first line: method, target, host.
	h1eqEchoHostRE = regexp.MustCompile(`\r\n\r\n([^ \n]*) ("(?:[^"\\]|\\.)*") host=("(?:[^"\\]|\\.)*")`)
	// h1eqEchoBodyErrRE matches h1eqEcho's body line when the read failed.
	h1eqEchoBodyErrRE = regexp.MustCompile(`\nbody "(?:[^"\\]|\\.)*" err=[^<]`)
)

// h1eqFuzzMax bounds the fuzz target's input to what both servers read
// in their first read. A server that answers an error and closes while
// input it has not read waits in its socket makes the kernel send a reset,
// which discards whatever of the answer the client has not read yet: with
// more input, the tail of both answers would depend on timing.
const h1eqFuzzMax = 4096

// FuzzH1ServerEquivalence: for any byte stream a client sends, the new
// server's answer is net/http's, the Date value aside. The handler echoes
// the request (method, target, Host, sorted headers, body, trailers).
func FuzzH1ServerEquivalence(f *testing.F) {
	for _, c := range h1eqCases(nil, nil) {
		if in := c.input(); len(in) <= h1eqFuzzMax {
			f.Add([]byte(in))
		}
	}
	old, nw := h1eqServe(f, h1eqSettings{
		readHeaderTimeout: 2 * time.Second,
		readTimeout:       2 * time.Second,
		writeTimeout:      2 * time.Second,
		idleTimeout:       2 * time.Second,
		maxHeaderBytes:    4096,
	}, h1eqEcho)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > h1eqFuzzMax {
			return
		}
		ro, rn := h1eqRunBoth(t, old, nw, h1eqClient{steps: []h1eqStep{{send: string(in)}}})
		if why := h1eqDeliberateEcho(string(in), ro.resp, rn.resp); why != "" {
			t.Logf("deliberate difference (%s) for %q:\n%s", why, in, h1eqDiff("old", ro.resp, "new", rn.resp))
			return
		}
		if ro.resp != rn.resp {
			t.Errorf("responses differ for %q:\n%s", in, h1eqDiff("old", ro.resp, "new", rn.resp))
		}
		if ro.logs != rn.logs {
			t.Errorf("logs differ for %q:\nold %q\nnew %q", in, ro.logs, rn.logs)
		}
	})
}

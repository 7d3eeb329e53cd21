package gateway_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/forgeproof/forgeproof/gateway"
)

// The stall tests run a gateway with limits.stall-timeout of 1s (the
// least it takes) and, as the negative control, of an hour: the defence
// off in all but name.
const (
	stallTimeout = time.Second
	stallOff     = time.Hour
	// stallSeen is how long a test waits for a stall to be given up on:
	// at most two periods after the client's buffers fill, with room for
	// a slow machine. stallHeld is how long the negative control watches
	// the stall go on.
	stallSeen = 15 * time.Second
	stallHeld = 3 * time.Second
)

// stallUpstream answers /s/big?n=N with N bytes, written in 64 KiB parts
// (after a sleep of delay=D, if given), and reports how each such write
// ended (nil: all written), on bigEnded or, with tag=T, on
// bigTag(T).ended (for a test with several at once); with tag=T and
// hold=1 it reads the body, says on bigTag(T).started that it has the
// request, and answers nothing until the gateway lets the request go
// (or stallSeen passes); /s/post reads
// the body and reports its length and error; /s/events sends an event,
// waits 2.5 stall timeouts, then sends another.
type stallUpstream struct {
	URL      string
	bigEnded chan error
	posted   chan postResult
	wsEnded  chan error // each /s/ws tunnel's upstream side: how its writes ended

	mu     sync.Mutex
	tagged map[string]*bigTagged // see bigTag
}

// bigTagged is what /s/big?tag=T reports.
type bigTagged struct {
	started chan struct{} // with hold=1: the request has come
	ended   chan error    // how its writes ended
}

// bigTag is where /s/big?tag=T reports.
func (u *stallUpstream) bigTag(tag string) *bigTagged {
	u.mu.Lock()
	defer u.mu.Unlock()
	b := u.tagged[tag]
	if b == nil {
		b = &bigTagged{started: make(chan struct{}, 1), ended: make(chan error, 1)}
		u.tagged[tag] = b
	}
	return b
}

type postResult struct {
	n   int
	err error
}

func newStallUpstream(t *testing.T) *stallUpstream {
	u := &stallUpstream{bigEnded: make(chan error, 1024), posted: make(chan postResult, 1024), wsEnded: make(chan error, 16), tagged: map[string]*bigTagged{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/s/big":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			tag := r.URL.Query().Get("tag")
			if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil {
				time.Sleep(d)
			}
			if tag != "" && r.URL.Query().Get("hold") == "1" {
				// The body read whole, the request's context ends when
				// the gateway closes the connection.
				io.Copy(io.Discard, r.Body)
				u.bigTag(tag).started <- struct{}{}
				select {
				case <-r.Context().Done():
					return
				case <-time.After(stallSeen):
				}
			}
			w.Header().Set("Content-Length", strconv.Itoa(n))
			part := bytes.Repeat([]byte("x"), 64<<10)
			var err error
			for left := n; left > 0 && err == nil; left -= len(part) {
				_, err = w.Write(part[:min(left, len(part))])
			}
			ended := u.bigEnded
			if tag != "" {
				ended = u.bigTag(tag).ended
			}
			ended <- err
		case "/s/post":
			b, err := io.ReadAll(r.Body)
			u.posted <- postResult{len(b), err}
			if err == nil {
				fmt.Fprintf(w, "got %d", len(b))
			}
		case "/s/ws":
			// A WebSocket handshake's answer, then, on the tunnel,
			// either a flood of bytes (mode=flood) until a write fails,
			// or one message after a quiet stretch and then the wait
			// for the client to close. With wait=1 the flood starts
			// once the client has sent a byte on the tunnel.
			key := r.Header.Get("Sec-Websocket-Key")
			sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				u.wsEnded <- err
				return
			}
			defer conn.Close()
			fmt.Fprintf(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]))
			if r.URL.Query().Get("mode") == "flood" {
				if r.URL.Query().Get("wait") == "1" {
					// The flood starts once the client sends a byte:
					// after it has read the 101, and reads no more.
					if _, err := brw.ReadByte(); err != nil {
						u.wsEnded <- err
						return
					}
				}
				part := bytes.Repeat([]byte("x"), 64<<10)
				for range 4096 { // 256 MiB at most
					if _, err := conn.Write(part); err != nil {
						u.wsEnded <- err
						return
					}
				}
				u.wsEnded <- nil
				return
			}
			time.Sleep(5 * stallTimeout / 2)
			io.WriteString(conn, "hello")
			_, err = io.Copy(io.Discard, brw)
			u.wsEnded <- err
		case "/s/events":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: a\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(5 * stallTimeout / 2)
			io.WriteString(w, "data: b\n\n")
		}
	}))
	t.Cleanup(srv.Close)
	u.URL = srv.URL
	return u
}

// startStall runs a gateway with the stall upstream on /s/ and the given
// stall timeout; HTTP/2 is on (the default).
func startStall(t *testing.T, stall time.Duration) (*world, *stallUpstream, *running) {
	t.Helper()
	return startStallWith(t, gateway.Limits{StallTimeout: stall})
}

// startStallWith is startStall with other limits.
func startStallWith(t *testing.T, l gateway.Limits) (*world, *stallUpstream, *running) {
	t.Helper()
	w, up, _, gw := startStallRoute(t, l, gateway.Allow{AnyVerified: true})
	return w, up, gw
}

// startStallRoute is startStallWith with the /s/ route's allow, and the
// configuration started (for a reload).
func startStallRoute(t *testing.T, l gateway.Limits, allow gateway.Allow) (*world, *stallUpstream, *gateway.Config, *running) {
	t.Helper()
	w, cfg := h2World(t)
	up := newStallUpstream(t)
	cfg.Routes = append(cfg.Routes, gateway.Route{Name: "s", PathPrefix: "/s/", Upstream: up.URL, Allow: allow})
	if l.ShutdownGrace == 0 {
		l.ShutdownGrace = cfg.Limits.ShutdownGrace // the world's: a test's end waits no longer
	}
	cfg.Limits = l
	log := &logBuffer{}
	gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(log, nil))})
	gw.log = log
	return w, up, cfg, gw
}

// wantLogReasons waits until the access log of gw has n lines for path
// (the sum of want's counts), then checks how many have each reason (""
// for none).
func wantLogReasons(t *testing.T, gw *running, path string, want map[string]int) {
	t.Helper()
	n := 0
	for _, c := range want {
		n += c
	}
	deadline := time.Now().Add(stallSeen)
	for {
		got := map[string]int{}
		lines := 0
		for _, l := range gw.log.lines(t) {
			if l["msg"] == "request" && l["path"] == path {
				r, _ := l["reason"].(string)
				got[r]++
				lines++
			}
		}
		if lines >= n || time.Now().After(deadline) {
			if !maps.Equal(got, want) {
				t.Errorf("access log for %s: reasons %v, want %v", path, got, want)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// want408 reads an answer from c and checks it is 408 client-timeout,
// closing the connection.
func want408(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(stallSeen))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to the stalled body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), `"client-timeout"`) {
		t.Errorf("got %d %s, want 408 client-timeout", resp.StatusCode, body)
	}
	if !resp.Close {
		t.Errorf("the 408 keeps the connection open; the rest of the body would be read as a request")
	}
}

// wantStalls checks forgeproof_gateway_client_stalls_total for protocol
// and direction.
func wantStalls(t *testing.T, gw *running, protocol, direction string, want float64) {
	t.Helper()
	m := fmt.Sprintf(`forgeproof_gateway_client_stalls_total{direction=%q,protocol=%q}`, direction, protocol)
	if got := metricValue(t, gw, m); got != want {
		t.Errorf("%s: got %v, want %v", m, got, want)
	}
}

// dialH1 opens an HTTP/1.1 connection with the web client's certificate.
func dialH1(t *testing.T, gw *running) *tls.Conn {
	t.Helper()
	c, err := dialTLS(t, gw, "localhost", []string{"http/1.1"}, gw.w.web)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dialH1RcvBuf is dialH1 with the client's receive buffer fixed at
// rcvbuf bytes before it connects: its window stays small.
func dialH1RcvBuf(t *testing.T, gw *running, rcvbuf int) *tls.Conn {
	t.Helper()
	tc := gw.w.web.TLSCertificate()
	d := tls.Dialer{
		NetDialer: &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) { serr = setRcvBuf(fd, rcvbuf) })
			return cmp.Or(err, serr)
		}},
		Config: &tls.Config{RootCAs: gw.w.ca.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"},
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", gw.g.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*tls.Conn)
}

// waitBig waits up to d for the upstream's /s/big write to end; ok is
// false when it did not.
func (u *stallUpstream) waitBig(d time.Duration) (err error, ok bool) {
	select {
	case err := <-u.bigEnded:
		return err, true
	case <-time.After(d):
		return nil, false
	}
}

func (u *stallUpstream) waitPost(d time.Duration) (postResult, bool) {
	select {
	case p := <-u.posted:
		return p, true
	case <-time.After(d):
		return postResult{}, false
	}
}

// TestStallHTTP1Answer: a client that asks for a large answer and reads
// none of it (a slow-read attack) held the upstream connection, and the
// upstream's handler, for as long as it stayed connected. With
// stall-timeout the gateway gives up once the client has taken nothing
// for that long: it closes the client's connection and the upstream's.
// The twin: a client that reads slowly, but steadily, gets the whole
// answer. The negative control: with an hour's stall timeout the
// upstream is still held after stallHeld.
func TestStallHTTP1Answer(t *testing.T) {
	t.Parallel()
	t.Run("stalled", func(t *testing.T) {
		t.Parallel()
		_, up, gw := startStall(t, stallTimeout)
		c := dialH1(t, gw)
		defer wantStalls(t, gw, "http/1.1", "answer", 1)
		defer wantLogReasons(t, gw, "/s/big", map[string]int{"client-stalled": 1})
		io.WriteString(c, "GET /s/big?n=67108864 HTTP/1.1\r\nHost: localhost\r\n\r\n")
		err, ok := up.waitBig(stallSeen)
		if !ok {
			t.Fatalf("the upstream was still held after %v", stallSeen)
		}
		if err == nil {
			t.Fatalf("the upstream wrote all 64 MiB to a client that read nothing")
		}
		// The client's connection is closed: what was sent, then the end.
		c.SetReadDeadline(time.Now().Add(stallSeen))
		n, rerr := io.Copy(io.Discard, c)
		if ne, ok := rerr.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the client's connection stayed open (%d bytes read)", n)
		}
		if n >= 64<<20 {
			t.Errorf("the client got the whole answer (%d bytes)", n)
		}
	})
	t.Run("slow reader", func(t *testing.T) {
		t.Parallel()
		_, up, gw := startStall(t, stallTimeout)
		c := dialH1(t, gw)
		const size = 4 << 20
		fmt.Fprintf(c, "GET /s/big?n=%d HTTP/1.1\r\nHost: localhost\r\n\r\n", size)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		// 64 KiB every 50 ms: about 3 s for the whole answer, each pause
		// well under the stall timeout.
		// On a loaded machine the reader's goroutine can be held past
		// the stall timeout between two reads: then it did stall, and
		// the run shows nothing (held: its longest pause).
		got := 0
		buf := make([]byte, 64<<10)
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		last, held := time.Now(), time.Duration(0)
		for {
			n, err := io.ReadFull(resp.Body, buf)
			got += n
			now := time.Now()
			last, held = now, max(held, now.Sub(last))
			if err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got != size && held >= stallTimeout {
			t.Skipf("the slow reader was held %v between two reads, past the stall timeout: it stalled (a machine too busy to show the twin)", held)
		}
		if got != size {
			t.Errorf("the slow reader got %d of %d bytes (its longest pause %v)", got, size, held)
		}
		if err, ok := up.waitBig(stallSeen); !ok || err != nil {
			t.Errorf("the upstream's write: %v (ended: %v), want it whole", err, ok)
		}
		wantLogReasons(t, gw, "/s/big", map[string]int{"": 1})
		wantStalls(t, gw, "http/1.1", "answer", 0)
	})
	// A client with a small window that takes 16 KiB every 25 ms (640
	// KiB/s) is not stalled: the gateway's writer is woken as it reads.
	// Before TCP_NOTSENT_LOWAT it was woken only once a third of its
	// send buffer (MiBs, autotuned) was free, and this client was cut
	// off after one stall timeout. Its twin stops reading after a
	// quarter of the time, and is cut off.
	//
	// On a loaded machine the reader's goroutine can be held between two
	// reads long enough that it did stall, as far as the gateway can
	// tell: the gateway's waiting write is woken each time about 64 KiB
	// (half of stallNotSentLowat) has gone out, that is every
	// steadyWake parts here, so a client that takes fewer parts than
	// that in a stall timeout is stalled. steady measures its own
	// longest such span (held, the pause it ended in included) and
	// skips when it reached the stall timeout, as the slow reader above
	// does: the premise, a steady reader, did not hold. (The spans are
	// about 125 ms when it does.)
	steady := func(t *testing.T, parts int) (net.Conn, *stallUpstream, *running) {
		_, up, gw := startStall(t, stallTimeout)
		c := dialH1RcvBuf(t, gw, 16<<10)
		io.WriteString(c, "GET /s/big?n=67108864 HTTP/1.1\r\nHost: localhost\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(stallSeen))
		br := bufio.NewReaderSize(c, 16<<10)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16<<10)
		const steadyWake = 5             // 64 KiB and one part more, in parts of 16 KiB
		reads := []time.Time{time.Now()} // the last steadyWake reads' ends
		held := time.Duration(0)
		for i := range parts {
			time.Sleep(25 * time.Millisecond)
			c.SetReadDeadline(time.Now().Add(stallSeen))
			_, err := io.ReadFull(resp.Body, buf)
			now := time.Now()
			held = max(held, now.Sub(reads[0]))
			if reads = append(reads, now); len(reads) > steadyWake {
				reads = reads[1:]
			}
			if err != nil {
				if held >= stallTimeout {
					t.Skipf("the reader was held %v over %d parts, past the stall timeout: it stalled (a machine too busy to show the twin)", held, steadyWake)
				}
				t.Fatalf("the answer ended after %d parts of 16 KiB, taken one every 25 ms (its longest %d-part span %v): %v", i, steadyWake, held, err)
			}
		}
		if held >= stallTimeout {
			t.Skipf("the reader was held %v over %d parts, past the stall timeout: it may have stalled (a machine too busy to show the twin)", held, steadyWake)
		}
		return c, up, gw
	}
	const steadyParts = int(3 * stallTimeout / (25 * time.Millisecond)) // three stall timeouts' worth
	t.Run("steady reader, small window", func(t *testing.T) {
		t.Parallel()
		c, up, gw := steady(t, steadyParts)
		wantStalls(t, gw, "http/1.1", "answer", 0)
		c.Close()
		if _, ok := up.waitBig(stallSeen); !ok {
			t.Errorf("the upstream was still held after the client closed")
		}
		// Not client-stalled: an answer the client closed on is logged
		// with the status sent and no reason.
		wantLogReasons(t, gw, "/s/big", map[string]int{"": 1})
	})
	t.Run("steady reader stops", func(t *testing.T) {
		t.Parallel()
		c, up, gw := steady(t, steadyParts/4)
		defer wantStalls(t, gw, "http/1.1", "answer", 1)
		defer wantLogReasons(t, gw, "/s/big", map[string]int{"client-stalled": 1})
		if err, ok := up.waitBig(stallSeen); !ok || err == nil {
			t.Fatalf("the upstream's write: %v (ended: %v), want it cut off", err, ok)
		}
		c.SetReadDeadline(time.Now().Add(stallSeen))
		if n, err := io.Copy(io.Discard, c); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the client's connection stayed open (%d bytes read)", n)
			}
		}
	})
	t.Run("negative control", func(t *testing.T) {
		t.Parallel()
		_, up, gw := startStall(t, stallOff)
		c := dialH1(t, gw)
		defer wantStalls(t, gw, "http/1.1", "answer", 0)
		io.WriteString(c, "GET /s/big?n=67108864 HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if err, ok := up.waitBig(stallHeld); ok {
			t.Fatalf("without the stall timeout the upstream's write still ended (%v): the test shows nothing", err)
		}
		c.Close()
	})
}

// TestStallHTTP1Body: a client that starts a request body and sends no
// more of it (a slow-POST attack) is answered 408 client-timeout once
// it has sent nothing for the stall timeout, and the upstream, which got
// the start of the body, gets no complete request. The twin: a body sent
// in small parts with pauses under the timeout reaches the upstream
// whole. The negative control: with an hour's timeout, the request is
// still waiting after stallHeld.
func TestStallHTTP1Body(t *testing.T) {
	t.Parallel()
	post := func(c net.Conn) {
		io.WriteString(c, "POST /s/post HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nContent-Length: 100\r\n\r\n0123456789")
	}
	t.Run("stalled", func(t *testing.T) {
		t.Parallel()
		_, up, gw := startStall(t, stallTimeout)
		c := dialH1(t, gw)
		defer wantStalls(t, gw, "http/1.1", "body", 1)
		post(c)
		want408(t, c)
		if p, ok := up.waitPost(stallSeen); !ok || p.err == nil {
			t.Errorf("the upstream's read of the body: %+v (ended: %v), want an error", p, ok)
		}
	})
	t.Run("slow sender", func(t *testing.T) {
		t.Parallel()
		_, up, gw := startStall(t, stallTimeout)
		c := dialH1(t, gw)
		defer wantStalls(t, gw, "http/1.1", "body", 0)
		post(c)
		for range 9 { // 90 more bytes, one part every 300 ms
			time.Sleep(300 * time.Millisecond)
			io.WriteString(c, "0123456789")
		}
		c.SetReadDeadline(time.Now().Add(stallSeen))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "got 100" {
			t.Errorf("got %d %q, want 200 \"got 100\"", resp.StatusCode, body)
		}
		if p, ok := up.waitPost(stallSeen); !ok || p.err != nil || p.n != 100 {
			t.Errorf("the upstream's read: %+v (ended: %v), want 100 bytes", p, ok)
		}
	})
	t.Run("read-timeout", func(t *testing.T) {
		// The whole request's timeout is the client's too: 408, where it
		// used to be a 504 upstream-timeout.
		t.Parallel()
		_, _, gw := startStallWith(t, gateway.Limits{StallTimeout: stallOff, ReadTimeout: 2 * time.Second})
		defer wantStalls(t, gw, "http/1.1", "body", 0) // the request's timeout, not a stall
		c := dialH1(t, gw)
		post(c)
		want408(t, c)
	})
	t.Run("negative control", func(t *testing.T) {
		t.Parallel()
		_, up, gw := startStall(t, stallOff)
		c := dialH1(t, gw)
		defer wantStalls(t, gw, "http/1.1", "body", 0)
		post(c)
		c.SetReadDeadline(time.Now().Add(stallHeld))
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			t.Fatalf("without the stall timeout the stalled body was still answered %d: the test shows nothing", resp.StatusCode)
		}
		if p, ok := up.waitPost(0); ok {
			t.Errorf("the upstream's read ended: %+v", p)
		}
		c.Close()
	})
}

// TestStallNotIdle: what the stall timeout does not cut. A keep-alive
// connection idle for longer than it serves its next request (the idle
// timeout governs there), and an event stream that is quiet for longer
// than it keeps going (nothing waits to be sent), over both protocols.
func TestStallNotIdle(t *testing.T) {
	t.Parallel()
	_, _, gw := startStall(t, stallTimeout)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			t.Parallel()
			c := gw.client(gw.w.web)
			c.Transport.(*http.Transport).ForceAttemptHTTP2 = h2
			first, _ := http.NewRequest("GET", gw.base+"/s/big?n=10", nil)
			first.Host = "localhost" // the SNI: HTTP/2 checks it
			resp, err := c.Do(first)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != "xxxxxxxxxx" {
				t.Fatalf("first request: %d %q", resp.StatusCode, b)
			}
			time.Sleep(5 * stallTimeout / 2)
			reused := false
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", gw.base+"/s/events", nil)
			req.Host = "localhost"
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "data: a\n\ndata: b\n\n" {
				t.Errorf("event stream with a quiet stretch: got %q, %v", b, err)
			}
			if !reused {
				t.Errorf("the idle connection was not reused")
			}
			if wantProto := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != wantProto {
				t.Errorf("HTTP/%d, want %d", resp.ProtoMajor, wantProto)
			}
		})
	}
}

// TestStallHTTP2Answer: over HTTP/2 a client stalls one stream by never
// opening its flow-control window (SETTINGS_INITIAL_WINDOW_SIZE 0) while
// its connection stays busy. The gateway resets that stream once the
// stall timeout has passed with nothing sent, and lets the upstream go.
// The twin, on the same connection: a stream whose window the client
// opens gets its whole answer. The negative control: with an hour's
// timeout, the upstream is still held after stallHeld.
func TestStallHTTP2Answer(t *testing.T) {
	t.Parallel()
	stall := func(t *testing.T, d time.Duration) (*h2Raw, *stallUpstream, *running) {
		w, up, gw := startStall(t, d)
		h := dialH2Raw(t, gw, "localhost", w.web)
		if err := h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
			t.Fatal(err)
		}
		h.request(1, get("localhost", "/s/big?n=16777216")...)
		return h, up, gw
	}
	t.Run("stalled", func(t *testing.T) {
		t.Parallel()
		h, up, gw := stall(t, stallTimeout)
		defer wantStalls(t, gw, "h2", "answer", 1)
		defer wantLogReasons(t, gw, "/s/big", map[string]int{"client-stalled": 1, "": 1})
		a, err := h.answer(1)
		if err != nil {
			t.Fatalf("stream 1: %v", err)
		}
		if a.reset == 0 {
			t.Errorf("stream 1 ended without a reset: %+v", a)
		}
		if err, ok := up.waitBig(stallSeen); !ok || err == nil {
			t.Errorf("the upstream's write: %v (ended: %v), want it cut off", err, ok)
		}
		// The twin: the same connection serves a stream whose window is
		// open.
		const size = 200 << 10
		h.request(3, get("localhost", fmt.Sprintf("/s/big?n=%d", size))...)
		h.fr.WriteWindowUpdate(3, size)
		h.fr.WriteWindowUpdate(0, size)
		if a, err := h.answer(3); err != nil || a.status != 200 || len(a.body) != size {
			t.Errorf("stream 3, window open: status %d, %d bytes, reset %v, %v; want 200 and %d bytes", a.status, len(a.body), a.reset, err, size)
		}
	})
	t.Run("negative control", func(t *testing.T) {
		t.Parallel()
		_, up, gw := stall(t, stallOff)
		defer wantStalls(t, gw, "h2", "answer", 0)
		if err, ok := up.waitBig(stallHeld); ok {
			t.Fatalf("without the stall timeout the upstream's write still ended (%v): the test shows nothing", err)
		}
	})
}

// TestStallHTTP2AnswerEnd: the last part of an HTTP/2 answer, which Go's
// server writes after the gateway's handler has returned (and the
// upstream has been let go), is given up on too: a stream whose client
// never opens its window to a small answer is reset, and the connection
// serves a stream whose window is open. The twin: a client that opens
// its window after half a timeout gets the whole answer, and streams
// served get no reset afterwards. The negative control: with an hour's
// timeout the stream is still waiting after stallHeld, holding its
// handler's goroutine and a stream slot.
func TestStallHTTP2AnswerEnd(t *testing.T) {
	t.Parallel()
	const size = 1000 // under the server's 4 KiB buffer: all of it is the end
	open := func(t *testing.T, d time.Duration) *h2Raw {
		w, up, gw := startStall(t, d)
		h := dialH2Raw(t, gw, "localhost", w.web)
		if err := h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
			t.Fatal(err)
		}
		h.request(1, get("localhost", fmt.Sprintf("/s/big?n=%d", size))...)
		// The upstream is done at once: what waits is the gateway's
		// stream alone.
		if err, ok := up.waitBig(stallSeen); !ok || err != nil {
			t.Fatalf("the upstream's write: %v (ended: %v), want it done", err, ok)
		}
		return h
	}
	t.Run("stalled", func(t *testing.T) {
		t.Parallel()
		h := open(t, stallTimeout)
		a, err := h.answer(1)
		if err != nil || a.reset == 0 || a.body != "" {
			t.Fatalf("stream 1: %+v, %v; want a reset and no body", a, err)
		}
		h.request(3, get("localhost", fmt.Sprintf("/s/big?n=%d", size))...)
		h.fr.WriteWindowUpdate(3, size)
		if a, err := h.answer(3); err != nil || a.status != 200 || len(a.body) != size {
			t.Errorf("stream 3, window open: status %d, %d bytes, reset %v, %v; want 200 and %d bytes", a.status, len(a.body), a.reset, err, size)
		}
	})
	t.Run("slow", func(t *testing.T) {
		t.Parallel()
		h := open(t, stallTimeout)
		time.Sleep(stallTimeout / 2)
		h.fr.WriteWindowUpdate(1, size)
		if a, err := h.answer(1); err != nil || a.status != 200 || len(a.body) != size || a.reset != 0 {
			t.Errorf("stream 1, window opened late: status %d, %d bytes, reset %v, %v; want 200 and %d bytes", a.status, len(a.body), a.reset, err, size)
		}
	})
	// A handler that runs past the stall timeout (an upstream slow to
	// answer) is not cut off by the deadline the stream had from its
	// start; its answer's end then gets a stall timeout of its own.
	late := fmt.Sprintf("/s/big?n=%d&delay=%s", size, 5*stallTimeout/2)
	t.Run("late answer", func(t *testing.T) {
		t.Parallel()
		w, _, gw := startStall(t, stallTimeout)
		wantH2Served(t, w, gw, size, get("localhost", late)...)
	})
	t.Run("late answer, stalled", func(t *testing.T) {
		t.Parallel()
		w, up, gw := startStall(t, stallTimeout)
		wantResetAfterUpstream(t, dialH2Raw(t, gw, "localhost", w.web), up, late)
	})
	t.Run("served streams get no late reset", func(t *testing.T) {
		// The twin of "stalled" for streams served 50 at a time: the
		// deadline each had from its start ends with it, and resets
		// nothing during or after.
		t.Parallel()
		w, _, gw := startStall(t, stallTimeout)
		h := dialH2Raw(t, gw, "localhost", w.web)
		h.fr.WriteWindowUpdate(0, 1<<30) // the connection's window, for every batch
		// In batches of 50 at once, so that the server is busy when the
		// deadlines reach it.
		for batch := range uint32(4) {
			first := 1 + batch*100
			for id := first; id < first+100; id += 2 {
				h.request(id, get("localhost", fmt.Sprintf("/s/big?n=%d", size))...)
			}
			ended := 0
			h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			for ended < 50 {
				f, err := h.fr.ReadFrame()
				if err != nil {
					t.Fatalf("batch %d: %d of 50 streams ended: %v", batch, ended, err)
				}
				switch f := f.(type) {
				case *http2.DataFrame:
					if f.StreamEnded() {
						ended++
					}
				case *http2.RSTStreamFrame:
					t.Fatalf("stream %d reset (%v) while served", f.StreamID, f.ErrCode)
				}
			}
		}
		h.conn.SetReadDeadline(time.Now().Add(3 * stallTimeout))
		for {
			f, err := h.fr.ReadFrame()
			if err != nil {
				break
			}
			if f, ok := f.(*http2.RSTStreamFrame); ok {
				t.Fatalf("stream %d, served, was reset (%v) afterwards", f.StreamID, f.ErrCode)
			}
		}
	})
	t.Run("negative control", func(t *testing.T) {
		t.Parallel()
		h := open(t, stallOff)
		h.conn.SetReadDeadline(time.Now().Add(stallHeld))
		for {
			f, err := h.fr.ReadFrame()
			if err != nil {
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					t.Fatalf("reading frames: %v", err)
				}
				return // still waiting: the stall holds
			}
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				t.Fatalf("stream %d reset (%v) with an hour's timeout: the test shows nothing", f.StreamID, f.ErrCode)
			case *http2.DataFrame:
				t.Fatalf("stream %d got data through a shut window", f.StreamID)
			}
		}
	})
}

// wantH2Served sends fields as stream 1 of a new HTTP/2 connection to gw
// and checks the answer is 200 with size bytes, not reset.
func wantH2Served(t *testing.T, w *world, gw *running, size int, fields ...string) {
	t.Helper()
	h := dialH2Raw(t, gw, "localhost", w.web)
	h.request(1, fields...)
	if a, err := h.answer(1); err != nil || a.status != 200 || len(a.body) != size || a.reset != 0 {
		t.Errorf("status %d, %d bytes, reset %v, %v; want 200 and %d bytes", a.status, len(a.body), a.reset, err, size)
	}
}

// TestStallHTTP2AnswerEndLimits: the deadline a stream has from its start
// (the stall timeout) does not cut off an HTTP/2 request the guard
// covers: one whose listener had stall-timeout or write-timeout changed
// by a reload (restart-only keys: the guard keeps the limits its
// listener's server was started with), and a CORS preflight the
// upstream is slow to answer. Each is an upstream answering after more
// than the stall timeout, to a client whose window is open.
func TestStallHTTP2AnswerEndLimits(t *testing.T) {
	t.Parallel()
	const late = "/s/big?n=1000&delay=2500ms"
	reloaded := func(t *testing.T, l gateway.Limits, change func(*gateway.Limits)) (*world, *running) {
		w, _, cfg, gw := startStallRoute(t, l, gateway.Allow{AnyVerified: true})
		c2 := *cfg
		change(&c2.Limits)
		if err := gw.g.Reload(&c2); err != nil {
			t.Fatal(err)
		}
		return w, gw
	}
	t.Run("stall-timeout raised by a reload", func(t *testing.T) {
		t.Parallel()
		w, gw := reloaded(t, gateway.Limits{StallTimeout: stallTimeout}, func(l *gateway.Limits) { l.StallTimeout = 4 * stallTimeout })
		wantH2Served(t, w, gw, 1000, get("localhost", late)...)
	})
	t.Run("write-timeout set by a reload", func(t *testing.T) {
		t.Parallel()
		w, gw := reloaded(t, gateway.Limits{StallTimeout: 2 * stallTimeout}, func(l *gateway.Limits) { l.WriteTimeout = stallTimeout })
		wantH2Served(t, w, gw, 1000, get("localhost", "/s/big?n=1000&delay=3s")...)
	})
	t.Run("slow preflight", func(t *testing.T) {
		t.Parallel()
		w, _, _, gw := startStallRoute(t, gateway.Limits{StallTimeout: stallTimeout}, gateway.Allow{AnyVerified: true, CORSPreflights: true})
		wantH2Served(t, w, gw, 0, ":method", "OPTIONS", ":scheme", "https", ":authority", "localhost", ":path", "/s/big?n=0&delay=2500ms",
			"origin", "https://app.example", "access-control-request-method", "POST", "sec-fetch-mode", "cors")
	})
}

// TestStallHTTP2Body: a stream that starts a body and sends no more of it
// is answered 408 client-timeout, and the upstream gets no complete
// request; a stream on the same connection that sends its body in
// parts, with pauses under the timeout, is served. The negative control:
// with an hour's timeout the upstream still waits for the stalled body
// after stallHeld.
func TestStallHTTP2Body(t *testing.T) {
	t.Parallel()
	post := func(h *h2Raw, id uint32) {
		blk := h.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/s/post", "accept", "application/json", "content-length", "100")
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true})
		h.fr.WriteData(id, false, []byte("0123456789"))
	}
	t.Run("stalled", func(t *testing.T) {
		t.Parallel()
		w, up, gw := startStall(t, stallTimeout)
		h := dialH2Raw(t, gw, "localhost", w.web)
		defer wantStalls(t, gw, "h2", "body", 1)
		post(h, 1)
		h.conn.SetReadDeadline(time.Now().Add(stallSeen))
		a, err := h.answer(1)
		if err != nil || a.status != http.StatusRequestTimeout || a.reason != "client-timeout" {
			t.Errorf("stalled stream: got %+v, %v; want 408 client-timeout", a, err)
		}
		if p, ok := up.waitPost(stallSeen); !ok || p.err == nil {
			t.Errorf("the upstream's read of the body: %+v (ended: %v), want an error", p, ok)
		}
		// The twin.
		post(h, 3)
		for i := range 9 {
			time.Sleep(300 * time.Millisecond)
			h.fr.WriteData(3, i == 8, []byte("0123456789"))
		}
		if a, err := h.answer(3); err != nil || a.status != 200 || a.body != "got 100" {
			t.Errorf("slow stream: got %+v, %v; want 200 \"got 100\"", a, err)
		}
	})
	t.Run("negative control", func(t *testing.T) {
		t.Parallel()
		w, up, gw := startStall(t, stallOff)
		h := dialH2Raw(t, gw, "localhost", w.web)
		defer wantStalls(t, gw, "h2", "body", 0)
		post(h, 1)
		if p, ok := up.waitPost(stallHeld); ok {
			t.Fatalf("without the stall timeout the upstream's read of the stalled body still ended (%+v): the test shows nothing", p)
		}
	})
}

// TestStallConfig: limits.stall-timeout loads from YAML, refuses what
// would cut off slow networks or mean nothing, and is documented with
// its default.
func TestStallConfig(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "limits.stall-timeout: must not be negative"},
		{500 * time.Millisecond, "limits.stall-timeout: 500ms is too short"},
	} {
		cfg := w.config()
		cfg.Limits.StallTimeout = tc.d
		if _, err := gateway.New(cfg, gateway.Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error containing %q", tc.d, err, tc.want)
		}
	}
	cfg := w.config() // the twin: the edge is accepted
	cfg.Limits.StallTimeout = time.Second
	if _, err := gateway.New(cfg, gateway.Options{}); err != nil {
		t.Errorf("1s: %v", err)
	}

	path := w.write("stall.yaml", []byte(`
listeners:
  - address: 127.0.0.1:0
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem]}
routes:
  - upstream: http://127.0.0.1:1
    allow: {any-verified: true}
limits:
  stall-timeout: 2m
`))
	loaded, err := gateway.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Limits.StallTimeout != 2*time.Minute {
		t.Errorf("stall-timeout: 2m loaded as %v", loaded.Limits.StallTimeout)
	}

	def := fmt.Sprintf("%.0fs", gateway.DefaultStallTimeout.Seconds()) // "60s", as the docs write it
	for file, want := range map[string]string{
		"../docs/gateway.md":          "| `limits.stall-timeout` |",
		"../examples/forgeproof.yaml": "stall-timeout: " + def,
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(b), want)
		if i < 0 {
			t.Errorf("%s does not mention %q", file, want)
			continue
		}
		if line, _, _ := strings.Cut(string(b[i:]), "\n"); !strings.Contains(line, def) {
			t.Errorf("%s: %q does not give the default %s", file, line, def)
		}
	}
}

// TestHTTP2RefusedBodyKeepsConnection: a body too large (413) on one
// HTTP/2 stream ends that stream only: the connection goes on serving,
// with no GOAWAY, where HTTP/1.1 closes the connection after the answer
// (the rest of the body is not read). The twin is HTTP/1.1's close.
func TestHTTP2RefusedBodyKeepsConnection(t *testing.T) {
	t.Parallel()
	w, _, gw := startStallWith(t, gateway.Limits{MaxBodyBytes: 1000})

	h := dialH2Raw(t, gw, "localhost", w.web)
	blk := h.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/s/post", "accept", "application/json", "content-length", "5000")
	h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndHeaders: true})
	h.fr.WriteData(1, true, bytes.Repeat([]byte("a"), 5000))
	if a, err := h.answer(1); err != nil || a.status != http.StatusRequestEntityTooLarge || a.reason != "body-too-large" {
		t.Fatalf("HTTP/2, body too large: got %+v, %v; want 413 body-too-large", a, err)
	}
	h.request(3, get("localhost", "/s/big?n=10")...)
	if a, err := h.answer(3); err != nil || a.status != 200 || a.body != "xxxxxxxxxx" {
		t.Errorf("the same connection after the 413: got %+v, %v; want 200 (no GOAWAY)", a, err)
	}

	c := dialH1(t, gw)
	io.WriteString(c, "POST /s/post HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n"+strings.Repeat("a", 5000))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Errorf("HTTP/1.1, body too large: got %v, %v; want 413 with Connection: close", resp, err)
	}
}

// TestStallWebSocket: a WebSocket whose client reads nothing while the
// upstream sends is closed after the stall timeout, both ends, so the
// upstream's writes fail; the twin: a tunnel quiet for longer than the
// timeout (nothing waiting to be sent) stays open and carries the next
// message. The negative control: with an hour's timeout the upstream's
// flood is still held after stallHeld.
func TestStallWebSocket(t *testing.T) {
	t.Parallel()
	open := func(t *testing.T, stall time.Duration, mode string) (*tls.Conn, *bufio.Reader, *stallUpstream, *running) {
		_, up, gw := startStall(t, stall)
		c := dialH1(t, gw)
		fmt.Fprintf(c, "GET /s/ws?mode=%s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", mode)
		c.SetReadDeadline(time.Now().Add(stallSeen))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: got %v, %v; want 101", resp, err)
		}
		return c, br, up, gw
	}
	t.Run("stalled", func(t *testing.T) {
		t.Parallel()
		_, _, up, gw := open(t, stallTimeout, "flood")
		defer wantStalls(t, gw, "http/1.1", "answer", 1)
		defer wantLogReasons(t, gw, "/s/ws", map[string]int{"client-stalled": 1})
		select {
		case err := <-up.wsEnded:
			if err == nil {
				t.Errorf("the upstream sent 256 MiB through a tunnel whose client read nothing")
			}
		case <-time.After(stallSeen):
			t.Errorf("the upstream's flood was still held after %v", stallSeen)
		}
	})
	t.Run("quiet", func(t *testing.T) {
		t.Parallel()
		c, br, up, gw := open(t, stallTimeout, "quiet")
		defer wantStalls(t, gw, "http/1.1", "answer", 0)
		defer wantLogReasons(t, gw, "/s/ws", map[string]int{"": 1})
		got := make([]byte, 5)
		if _, err := io.ReadFull(br, got); err != nil || string(got) != "hello" {
			t.Fatalf("after a quiet stretch of 2.5 stall timeouts: got %q, %v; want hello", got, err)
		}
		c.Close()
		select {
		case <-up.wsEnded:
		case <-time.After(stallSeen):
			t.Errorf("the upstream's side stayed open after the client closed")
		}
	})
	t.Run("negative control", func(t *testing.T) {
		t.Parallel()
		c, _, up, gw := open(t, stallOff, "flood")
		defer wantStalls(t, gw, "http/1.1", "answer", 0)
		select {
		case err := <-up.wsEnded:
			t.Fatalf("without the stall timeout the flood still ended (%v): the test shows nothing", err)
		case <-time.After(stallHeld):
		}
		c.Close()
	})
}

// TestStallHTTP2TickLate: the deadline Go's HTTP/2 server gives each
// stream from its start (streamWriteTimeout) leaves the stall guard's
// first tick, which moves it out of the way of a handler that runs
// longer, a margin for a machine too busy to run that tick on time: here
// the tick runs three quarters of a stall timeout late, and a stream
// whose handler still legitimately waits is not reset by Go's timer: a
// stream that never sends its body gets its 408, a slow upstream's
// answer gets through. The twins: with the tick as late, the end of an
// answer its client takes none of is still reset, whether the handler
// returned before the tick (by the deadline from the stream's start) or
// after it (by the one end sets). The negative control: a tick later
// than the margin, so that Go's timer fires first, and the stream is
// reset: what the test would see of the race.
func TestStallHTTP2TickLate(t *testing.T) {
	t.Parallel()
	// Twice the other tests' timeout: the late tick is then a whole
	// second and a half inside the margin, which a loaded machine does
	// not use up, and still half a second past the old deadline (one
	// timeout from the stream's start).
	const stallTimeout = 2 * stallTimeout
	start := func(t *testing.T, late time.Duration) (*h2Raw, *stallUpstream, *running) {
		w, cfg := h2World(t)
		up := newStallUpstream(t)
		cfg.Routes = append(cfg.Routes, gateway.Route{Name: "s", PathPrefix: "/s/", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}})
		cfg.Limits = gateway.Limits{StallTimeout: stallTimeout, ShutdownGrace: cfg.Limits.ShutdownGrace}
		g, err := gateway.New(cfg, gateway.Options{})
		if err != nil {
			t.Fatal(err)
		}
		gateway.SetStallTickLate(g, late)
		gw := startHandler(t, w, g)
		return dialH2Raw(t, gw, "localhost", w.web), up, gw
	}
	const (
		late = 3 * stallTimeout / 4
		size = 1000 // under the server's 4 KiB buffer: all of it is the end
	)
	bodiless := func(h *h2Raw, id uint32) {
		blk := h.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/s/post", "accept", "application/json")
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true})
	}
	// slow is an answer the upstream sends after the late tick, past the
	// stream's deadline from its start had the tick not moved it.
	slow := fmt.Sprintf("/s/big?n=%d&delay=%s", size, 3*stallTimeout/2)
	t.Run("bodiless stream", func(t *testing.T) {
		t.Parallel()
		h, _, gw := start(t, late)
		defer wantStalls(t, gw, "h2", "body", 1)
		bodiless(h, 1)
		h.conn.SetReadDeadline(time.Now().Add(stallSeen))
		if a, err := h.answer(1); err != nil || a.reset != 0 || a.status != http.StatusRequestTimeout || a.reason != "client-timeout" {
			t.Errorf("stream 1: %+v, %v; want 408 client-timeout, no reset", a, err)
		}
	})
	t.Run("slow upstream", func(t *testing.T) {
		t.Parallel()
		h, _, _ := start(t, late)
		h.request(1, get("localhost", slow)...)
		if a, err := h.answer(1); err != nil || a.reset != 0 || a.status != 200 || len(a.body) != size {
			t.Errorf("stream 1: status %d, %d bytes, reset %v, %v; want 200 and %d bytes", a.status, len(a.body), a.reset, err, size)
		}
	})
	stalled := func(t *testing.T, path string) *h2Raw {
		h, up, _ := start(t, late)
		wantResetAfterUpstream(t, h, up, path)
		return h
	}
	t.Run("answer's end stalled", func(t *testing.T) {
		t.Parallel()
		h := stalled(t, fmt.Sprintf("/s/big?n=%d", size))
		h.request(3, get("localhost", fmt.Sprintf("/s/big?n=%d", size))...)
		h.fr.WriteWindowUpdate(3, size)
		if a, err := h.answer(3); err != nil || a.status != 200 || len(a.body) != size {
			t.Errorf("stream 3, window open: status %d, %d bytes, reset %v, %v; want 200 and %d bytes", a.status, len(a.body), a.reset, err, size)
		}
	})
	t.Run("slow answer's end stalled", func(t *testing.T) {
		t.Parallel()
		stalled(t, slow)
	})
	t.Run("negative control", func(t *testing.T) {
		t.Parallel()
		// Half a stall timeout past the margin (streamWriteTimeout).
		h, _, _ := start(t, 2*stallTimeout)
		bodiless(h, 1)
		h.conn.SetReadDeadline(time.Now().Add(stallSeen))
		if a, err := h.answer(1); err != nil || a.reset == 0 {
			t.Errorf("stream 1, its guard's tick past the stream's deadline: %+v, %v; want a reset, or the test shows nothing", a, err)
		}
	})
}

// TestStallCountedOnce: a stall is counted once, however its connection
// ends. A stalled HTTP/1.1 answer or WebSocket ends the connection, and
// closing it makes crypto/tls write a close_notify alert (under its own
// deadline of 5 s) to the client, which still takes nothing: that write
// waited for room too, was ended by the stall timeout as well, and was
// counted as a second stall (holding the close for one more stall
// timeout). The client here has a receive buffer of 4 KiB, so that its
// window is shut before the gateway fills its send buffer, and the alert
// finds that buffer full; each test reads the metric once the connection
// is closed (the upstream's WebSocket side is closed after the client's;
// an HTTP/1.1 connection leaves its server once closed). The twins, a
// client that reads and is counted no stall, are TestStallHTTP1Answer's
// and TestStallWebSocket's.
func TestStallCountedOnce(t *testing.T) {
	t.Parallel()
	const rcvbuf = 1
	t.Run("http/1.1 answer", func(t *testing.T) {
		t.Parallel()
		_, up, gw := startStall(t, stallTimeout)
		c := dialH1RcvBuf(t, gw, rcvbuf)
		io.WriteString(c, "GET /s/big?n=67108864 HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if err, ok := up.waitBig(stallSeen); !ok || err == nil {
			t.Fatalf("the upstream's write: %v (ended: %v), want it cut off", err, ok)
		}
		wantLogReasons(t, gw, "/s/big", map[string]int{"client-stalled": 1})
		waitH1Closed(t, gw)
		wantStalls(t, gw, "http/1.1", "answer", 1)
	})
	t.Run("websocket", func(t *testing.T) {
		t.Parallel()
		_, up, gw := startStall(t, stallTimeout)
		c := dialH1RcvBuf(t, gw, rcvbuf)
		fmt.Fprintf(c, "GET /s/ws?mode=flood&wait=1 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(stallSeen))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: got %v, %v; want 101", resp, err)
		}
		io.WriteString(c, "g") // the flood starts: the client reads no more
		select {
		case err := <-up.wsEnded:
			if err == nil {
				t.Fatalf("the upstream sent 256 MiB through a tunnel whose client read nothing")
			}
		case <-time.After(stallSeen):
			t.Fatalf("the upstream's flood was still held after %v", stallSeen)
		}
		wantLogReasons(t, gw, "/s/ws", map[string]int{"client-stalled": 1})
		wantStalls(t, gw, "http/1.1", "answer", 1)
	})
}

// waitH1Closed waits until gw's HTTP/1.x servers hold no connection: the
// last one's close has ended.
func waitH1Closed(t *testing.T, gw *running) {
	t.Helper()
	deadline := time.Now().Add(stallSeen)
	for gateway.H1Conns(gw.g) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("an HTTP/1.1 connection was still open after %v", stallSeen)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantResetAfterUpstream asks for path on h's stream 1 with the client's
// window shut (it takes none of the answer) and wants the stream reset
// with no body, after the upstream wrote its whole answer: the end of
// the answer, which the server writes once the handler returned, waited
// for the client and was given up on.
func wantResetAfterUpstream(t *testing.T, h *h2Raw, up *stallUpstream, path string) {
	t.Helper()
	if err := h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	h.request(1, get("localhost", path)...)
	a, err := h.answer(1)
	if err != nil || a.reset == 0 || a.body != "" {
		t.Fatalf("stream 1: %+v, %v; want a reset and no body", a, err)
	}
	select {
	case err := <-up.bigEnded:
		if err != nil {
			t.Errorf("the upstream's write: %v, want it done before the reset", err)
		}
	default:
		t.Errorf("the stream was reset before the upstream answered")
	}
}

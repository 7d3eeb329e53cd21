package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
)

// The tests here send the known HTTP/2 denial-of-service attacks
// (CVE-2019-9511 to 9518 and their kin) from one raw client and show,
// for each, what bounds it (the connection closed, a stream reset, or
// the resource staying bounded), with a well-behaved client on another
// connection served meanwhile.

// servedMeanwhile sends a GET on a new HTTP/2 connection and fails the
// test unless it is answered 200 within 10s (a generous bound: a busy
// shared machine running the race detector).
func servedMeanwhile(t *testing.T, w *world, gw *running, when string) {
	t.Helper()
	cc := h2Conn(t, gw, "localhost", w.web)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://localhost/api/x", nil)
	req.Header.Set("Accept", "application/json")
	resp, err := cc.RoundTrip(req)
	if err != nil {
		t.Errorf("other client %s: %v", when, err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("other client %s: got %d, want 200", when, resp.StatusCode)
	}
}

// dialH2Small is dialH2Raw on a socket with a small receive buffer, so
// that a client that does not read makes the server's writes wait soon.
func dialH2Small(t *testing.T, gw *running, w *world) *h2Raw {
	t.Helper()
	tc, err := net.Dial("tcp", gw.g.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	tc.(*net.TCPConn).SetReadBuffer(4096)
	tlsCert := w.web.TLSCertificate()
	c := tls.Client(tc, &tls.Config{RootCAs: w.ca.Pool(), ServerName: "localhost", NextProtos: []string{"h2"},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tlsCert, nil }})
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Time{})
	io.WriteString(c, http2.ClientPreface)
	h := &h2Raw{t: t, conn: c, fr: http2.NewFramer(c, c), settings: map[http2.SettingID]uint32{}}
	h.enc = hpack.NewEncoder(&h.buf)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.fr.MaxHeaderListSize = 1 << 20
	h.fr.WriteSettings()
	h.fr.WriteSettingsAck() // the server's SETTINGS is never read
	return h
}

// flood writes frames (built by each) n times on h's connection in one
// go, not reading, and returns how the write ended: nil when every
// byte was taken.
func flood(h *h2Raw, n int, each func(fr *http2.Framer, i int)) error {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.AllowIllegalWrites = true
	for i := range n {
		each(fr, i)
	}
	h.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := h.conn.Write(buf.Bytes())
	return err
}

// floodAsync is flood in a goroutine, so that the test can serve
// another client meanwhile.
func floodAsync(h *h2Raw, n int, each func(fr *http2.Framer, i int)) <-chan error {
	done := make(chan error, 1)
	go func() { done <- flood(h, n, each) }()
	return done
}

// wantStillServes sends a GET of /api/x on h (stream id) and fails
// unless it is answered 200.
func wantStillServes(t *testing.T, h *h2Raw, id uint32, what string) {
	t.Helper()
	h.request(id, get("localhost", "/api/x")...)
	if a, err := h.answer(id); err != nil || a.status != 200 {
		t.Errorf("%s: stream %d got %+v, %v; want 200", what, id, a, err)
	}
}

// heapInUse is the heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestHTTP2EmptyHeaderFields (CVE-2019-9516): a header field with an
// empty name resets its stream; many empty fields (each counted as 32
// bytes, RFC 9113 §6.5.2) are a header list over limits.max-header-bytes
// (431), empty values within it are served. None of the refused reach
// the upstream, and the connection serves on.
func TestHTTP2EmptyHeaderFields(t *testing.T) {
	t.Parallel()
	w, cfg := h2World(t)
	cfg.Limits.MaxHeaderBytes = 16 << 10
	gw := w.start(cfg)
	h := dialH2Raw(t, gw, "localhost", w.web)
	before := w.upstream.count()
	empties := func(name string, n int) []string {
		var f []string
		for range n {
			f = append(f, name, "")
		}
		return get("localhost", "/api/x", f...)
	}
	h.request(1, empties("", 1)...)
	if a, err := h.answer(1); err != nil || a.status == 200 {
		t.Errorf("empty name: %+v, %v; want a refusal", a, err)
	} else {
		t.Logf("empty name: %+v", a)
	}
	h.request(3, empties("", 2000)...)
	if a, err := h.answer(3); err != nil || a.status == 200 {
		t.Errorf("2000 empty fields: %+v, %v; want a refusal", a, err)
	} else {
		t.Logf("2000 empty fields: %+v", a)
	}
	h.request(5, empties("x-e", 2000)...)
	if a, err := h.answer(5); err != nil || a.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("2000 empty values: %+v, %v; want 431", a, err)
	}
	if n := w.upstream.count() - before; n != 0 {
		t.Errorf("upstream got %d refused requests", n)
	}
	// The twin: a few empty values are served.
	h.request(7, empties("x-e", 10)...)
	if a, err := h.answer(7); err != nil || a.status != 200 {
		t.Errorf("10 empty values: %+v, %v; want 200", a, err)
	}
	servedMeanwhile(t, w, gw, "after empty fields")
}

// TestHTTP2HPACKBomb: a 4000-byte header entered in the dynamic table
// and then named 4000 times by its index (a 12 KiB block, 16 MB decoded)
// is a header list over limits.max-header-bytes: 431, the upstream never
// asked, and the connection serves on. The twin: the same field named
// ten times (40 KB, under the default 64 KiB) is served.
func TestHTTP2HPACKBomb(t *testing.T) {
	t.Parallel()
	w, cfg := h2World(t)
	gw := w.start(cfg)
	h := dialH2Raw(t, gw, "localhost", w.web)
	big := strings.Repeat("b", 4000)
	bomb := func(n int) []string {
		var f []string
		for range n {
			f = append(f, "x-bomb", big)
		}
		return get("localhost", "/api/x", f...)
	}
	h.request(1, bomb(10)...) // the twin
	if a, err := h.answer(1); err != nil || a.status != 200 {
		t.Fatalf("ten references: %+v, %v; want 200", a, err)
	}
	before := w.upstream.count()
	heap := heapInUse()
	blk := h.block(bomb(4000)...)
	if len(blk) > 16<<10 {
		t.Fatalf("block of %d bytes: the encoder did not use the dynamic table", len(blk))
	}
	for i := range 20 {
		id := uint32(3 + 2*i)
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndStream: true, EndHeaders: true})
		if a, err := h.answer(id); err != nil || a.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("bomb %d (%d bytes on the wire): %+v, %v; want 431", i, len(blk), a, err)
		}
	}
	if grew := int64(heapInUse()) - int64(heap); grew > 64<<20 {
		t.Errorf("heap grew by %d MiB for 20 bombs", grew>>20)
	}
	if n := w.upstream.count() - before; n != 0 {
		t.Errorf("upstream got %d bombs", n)
	}
	wantStillServes(t, h, 101, "after 20 bombs")
	servedMeanwhile(t, w, gw, "after the bombs")
}

// TestHTTP2StreamsOverLimit: a client that opens 2000 streams at once
// to an upstream that holds them, past the announced
// SETTINGS_MAX_CONCURRENT_STREAMS of 10, gets at most 10 to the
// upstream (the rest refused), and others are served meanwhile.
func TestHTTP2StreamsOverLimit(t *testing.T) {
	t.Parallel()
	w, cfg := h2World(t)
	up := newBlockingUpstream(t)
	cfg.Routes = append(cfg.Routes, gateway.Route{Name: "slow", PathPrefix: "/slow", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}})
	cfg.Limits.HTTP2MaxConcurrentStreams = 10
	gw := w.start(cfg)
	h := dialH2Raw(t, gw, "localhost", w.web)
	blk := h.block(get("localhost", "/slow/x")...)
	done := floodAsync(h, 2000, func(fr *http2.Framer, i int) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: blk, EndStream: true, EndHeaders: true})
	})
	servedMeanwhile(t, w, gw, "during the streams")
	err := <-done
	refused := 0
	h.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for refused < 1990 {
		f, rerr := h.fr.ReadFrame()
		if rerr != nil {
			break
		}
		if _, ok := f.(*http2.RSTStreamFrame); ok {
			refused++
		}
	}
	now, maxNow, n := up.stats()
	t.Logf("write: %v; refused %d; upstream held %d (at most %d) of %d", err, refused, now, maxNow, n)
	if maxNow > 10 || n > 10 {
		t.Errorf("upstream held %d at once, %d in all; want at most 10", maxNow, n)
	}
	up.free()
	servedMeanwhile(t, w, gw, "after the streams")
}

// countingUpstream answers /c/big?n=N with N bytes in 64 KiB writes and
// counts the bytes it got written.
type countingUpstream struct {
	URL     string
	written atomic.Int64
}

func newCountingUpstream(t *testing.T) *countingUpstream {
	u := &countingUpstream{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		w.Header().Set("Content-Length", fmt.Sprint(n))
		part := bytes.Repeat([]byte("x"), 64<<10)
		for left := n; left > 0; left -= len(part) {
			m, err := w.Write(part[:min(left, len(part))])
			u.written.Add(int64(m))
			if err != nil {
				return
			}
		}
	})}
	u.URL = serveLoopback(t, srv)
	return u
}

// TestHTTP2AnswerBuffering (CVE-2019-9517): a client with a zero receive
// window asks for 20 answers of 16 MiB on one connection. The gateway
// does not hold them: its handlers wait on the stream's window (a 32 KiB
// copy buffer and Go's 4 KiB each), the upstream is held back by TCP
// (its socket buffers hold what it wrote), and the heap grows
// by far less than the 320 MiB asked for. The stall timeout (60s by
// default) ends those streams (TestStallHTTP2Answer). Others are served
// meanwhile. CVE-2019-9511 (data dribble): windows opened a byte at a
// time get DATA frames of one byte, each a frame, nothing queued.
func TestHTTP2AnswerBuffering(t *testing.T) {
	t.Parallel()
	w, cfg := h2World(t)
	up := newCountingUpstream(t)
	cfg.Routes = append(cfg.Routes, gateway.Route{Name: "c", PathPrefix: "/c", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}})
	gw := w.start(cfg)
	heap := heapInUse()
	h := dialH2Raw(t, gw, "localhost", w.web)
	h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	const streams, size = 20, 16 << 20
	for i := range streams {
		h.request(uint32(2*i+1), get("localhost", fmt.Sprintf("/c/big?n=%d", size))...)
	}
	// Wait for the upstream's writes to stop moving.
	last := int64(-1)
	for range 50 {
		time.Sleep(200 * time.Millisecond)
		if n := up.written.Load(); n == last {
			break
		} else {
			last = n
		}
	}
	servedMeanwhile(t, w, gw, "while 20 answers wait")
	grew := int64(heapInUse()) - int64(heap)
	t.Logf("upstream wrote %d KiB of %d MiB; heap grew %d KiB", last>>10, streams*size>>20, grew>>10)
	if grew > 64<<20 {
		t.Errorf("heap grew by %d MiB holding answers the client's window shuts out", grew>>20)
	}

	// The dribble: stream 41's window opened a byte at a time.
	h.request(41, get("localhost", "/c/big?n=100000")...)
	frames, got := 0, 0
	h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for got < 100 {
		h.fr.WriteWindowUpdate(41, 1)
		for {
			f, err := h.fr.ReadFrame()
			if err != nil {
				t.Fatalf("after %d bytes: %v", got, err)
			}
			if d, ok := f.(*http2.DataFrame); ok && d.StreamID == 41 {
				if len(d.Data()) > 1 {
					t.Fatalf("a DATA frame of %d bytes for a window of 1", len(d.Data()))
				}
				frames++
				got += len(d.Data())
				break
			}
			if r, ok := f.(*http2.RSTStreamFrame); ok && r.StreamID == 41 {
				t.Fatalf("dribbled stream reset: %v", r.ErrCode)
			}
		}
	}
	t.Logf("dribble: %d bytes in %d frames", got, frames)
}

// TestHTTP2HeadersNoData: streams opened with HEADERS and no END_STREAM
// that never send DATA (slowloris per stream) are answered 408
// client-timeout after limits.stall-timeout, the upstream's read of each
// body failing (its connection let go); the twin, a body sent after a
// pause under the timeout, is served. Others are served meanwhile.
func TestHTTP2HeadersNoData(t *testing.T) {
	t.Parallel()
	w, up, gw := startStall(t, stallTimeout)
	h := dialH2Raw(t, gw, "localhost", w.web)
	const streams = 5
	for i := range streams {
		blk := h.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/s/post", "accept", "application/json")
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: blk, EndHeaders: true})
	}
	servedMeanwhile(t, w, gw, "while streams wait for bodies")
	var ids []uint32
	for i := range streams {
		ids = append(ids, uint32(2*i+1))
	}
	h.conn.SetReadDeadline(time.Now().Add(stallSeen))
	got, err := collect(h, ids...)
	if err != nil {
		t.Fatalf("%v (so far %+v)", err, got)
	}
	for id, a := range got {
		if a.status != http.StatusRequestTimeout || a.reason != "client-timeout" {
			t.Errorf("stream %d: %+v, want 408 client-timeout", id, a)
		}
	}
	upstreamSaw := 0
	for range streams {
		if p, ok := up.waitPost(stallSeen); ok {
			upstreamSaw++
			if p.err == nil {
				t.Errorf("the upstream got a complete body: %+v", p)
			}
		}
	}
	t.Logf("the upstream saw %d of %d bodiless streams (held a connection for each until the stall timeout)", upstreamSaw, streams)
	// The twin.
	blk := h.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/s/post", "accept", "application/json")
	h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 101, BlockFragment: blk, EndHeaders: true})
	time.Sleep(stallTimeout / 3)
	h.fr.WriteData(101, true, []byte("0123456789"))
	if a, err := h.answer(101); err != nil || a.status != 200 || a.body != "got 10" {
		t.Errorf("body after a pause: %+v, %v; want 200 \"got 10\"", a, err)
	}
}

// TestHTTP2ClientNeverReads: a client that opens wide windows, asks for
// large answers and then reads nothing, so that the server's writes on
// its connection wait on TCP, while it keeps the connection busy with a
// frame now and then (no idle PING ever due, no idle timeout). Go's
// server could send neither the streams' resets nor a GOAWAY on it; the
// gateway's connection-level write stall (clientConn, below TLS) closes
// the connection after limits.stall-timeout, and every handler ends.
// The twin: a client that pauses its reads for less than the timeout
// gets its whole answer. Others are served meanwhile.
func TestHTTP2ClientNeverReads(t *testing.T) {
	t.Parallel()
	// attack opens the connection that reads nothing and keeps it busy
	// for up to d, and returns the error of the write that found it
	// closed (nil: still open).
	attack := func(t *testing.T, w *world, gw *running, d time.Duration) error {
		h := dialH2Small(t, gw, w)
		h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
		h.fr.WriteWindowUpdate(0, 1<<30)
		for i := range 4 {
			h.request(uint32(2*i+1), get("localhost", "/s/big?n=67108864")...)
		}
		servedMeanwhile(t, w, gw, "while a client reads nothing")
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			h.conn.SetWriteDeadline(time.Now().Add(time.Second))
			if err := h.fr.WriteWindowUpdate(0, 1); err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					return err
				}
			}
		}
		return nil
	}
	t.Run("stalled", func(t *testing.T) {
		t.Parallel()
		w, _, gw := startStall(t, stallTimeout)
		// The twin.
		const twinSize = 4 << 20
		tw := dialH2Raw(t, gw, "localhost", w.web)
		tw.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
		tw.fr.WriteWindowUpdate(0, 1<<30)
		tw.request(1, get("localhost", fmt.Sprintf("/s/big?n=%d", twinSize))...)
		time.Sleep(stallTimeout / 3)
		if a, err := tw.answer(1); err != nil || a.status != 200 || len(a.body) != twinSize {
			t.Errorf("twin: status %d, %d bytes, reset %v, %v; want 200 and %d bytes", a.status, len(a.body), a.reset, err, twinSize)
		}
		start := time.Now()
		err := attack(t, w, gw, stallSeen)
		wantNoneInFlight(t, gw)
		if err == nil {
			t.Errorf("a connection whose client read nothing for %v is still open (stall-timeout %v)", stallSeen, stallTimeout)
		} else {
			t.Logf("closed after %v: %v", time.Since(start), err)
		}
		servedMeanwhile(t, w, gw, "after")
	})
	t.Run("negative control", func(t *testing.T) {
		t.Parallel()
		w, _, gw := startStall(t, stallOff)
		if err := attack(t, w, gw, stallHeld); err != nil {
			t.Fatalf("without the stall timeout the connection was still closed (%v): the test shows nothing", err)
		}
	})
}

// TestHTTP2HeadersNoDataFormPeek is TestHTTP2HeadersNoData on a token
// route, where the gateway itself reads a form body for its token before
// it forwards the request: a stream that never sends that body is
// answered 408 after limits.stall-timeout as well (the stall guard covers
// the gateway's own read). The negative control: with an hour's timeout
// it is still waiting after stallHeld.
func TestHTTP2HeadersNoDataFormPeek(t *testing.T) {
	t.Parallel()
	for _, stall := range []time.Duration{stallTimeout, stallOff} {
		t.Run(stall.String(), func(t *testing.T) {
			t.Parallel()
			w, cfg := h2World(t)
			cfg.Limits.StallTimeout = stall
			cfg.Tokens = gateway.Tokens{KeyFile: w.write("csrf.key", []byte(base64.StdEncoding.EncodeToString(csrf.GenerateKey())+"\n"))}
			cfg.Routes = append(cfg.Routes, gateway.Route{Name: "forms", PathPrefix: "/forms", Upstream: w.upstream.URL,
				Allow: gateway.Allow{AnyVerified: true}, CSRF: gateway.RouteCSRF{Mode: csrf.ModeOriginAndToken}})
			gw := w.start(cfg)
			h := dialH2Raw(t, gw, "localhost", w.web)
			blk := h.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/forms/x", "accept", "application/json",
				"content-type", "application/x-www-form-urlencoded", "sec-fetch-site", "same-origin", "origin", "https://localhost")
			h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndHeaders: true})
			servedMeanwhile(t, w, gw, "while a form body is awaited")
			if stall == stallOff {
				done := make(chan struct{})
				time.AfterFunc(stallHeld, func() { h.conn.SetReadDeadline(time.Now()); close(done) })
				a, err := h.answer(1)
				<-done
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("with an hour's timeout the stream ended (%+v, %v): the test shows nothing", a, err)
				}
				return
			}
			h.conn.SetReadDeadline(time.Now().Add(stallSeen))
			a, err := h.answer(1)
			if err != nil || a.status != http.StatusRequestTimeout {
				t.Errorf("form body never sent: %+v, %v; want 408", a, err)
			}
		})
	}
}

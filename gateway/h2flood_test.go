//go:build h2flood

package gateway_test

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"golang.org/x/net/http2"
)

// The HTTP/2 flood tests: the floods of CVE-2019-9512, 9514, 9515 and
// 9518, WINDOW_UPDATE and PRIORITY floods and server-induced resets
// (CVE-2025-8671), each with a well-behaved client served meanwhile.
// They send hundreds of thousands of frames and wait up to seconds for
// Go's limits to act, so they are not part of "go test ./..." on a
// shared two-core machine; run them with
//
//	go test -race -tags h2flood -run 'TestHTTP2' ./gateway/

// wantWritesFail writes a PING on h every 100ms, reading nothing, until a
// write fails (the server closed the connection), and returns that
// error, or nil after 15s.
func wantWritesFail(h *h2Raw) error {
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		h.conn.SetWriteDeadline(time.Now().Add(time.Second))
		if err := h.fr.WritePing(false, [8]byte{}); err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return err
			}
		}
	}
	return nil
}

// resync makes h's next header block start with an empty dynamic
// table on both sides (table size updates to 0 and back), after blocks
// the server decoded but h's encoder does not know of.
func resync(h *h2Raw) {
	h.enc.SetMaxDynamicTableSize(0)
	h.enc.SetMaxDynamicTableSize(4096)
}

// TestHTTP2ControlFrameFloods: PING (CVE-2019-9512), SETTINGS
// (CVE-2019-9515) and reset (CVE-2019-9514: streams the server resets,
// here for an upper-case header name) floods from a client that reads
// none of the answers, after a large answer has filled the TCP buffers
// between them. PINGs and resets: Go's server closes the connection once
// 10000 answers wait to be sent. SETTINGS: Go's server owes one ACK
// however many arrive (a flag, not a queue), so the flood is taken, and
// the heap stays bounded. Others are served meanwhile. The twin of each:
// a thousand of the same frames from a client that reads its answers
// keep the connection, which still serves.
func TestHTTP2ControlFrameFloods(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		closes bool
		each   func(blk []byte) func(fr *http2.Framer, i int)
	}{
		{"ping", true, func([]byte) func(*http2.Framer, int) {
			return func(fr *http2.Framer, i int) { fr.WritePing(false, [8]byte{byte(i)}) }
		}},
		{"settings", false, func([]byte) func(*http2.Framer, int) {
			return func(fr *http2.Framer, i int) { fr.WriteSettings() }
		}},
		{"reset", true, func(blk []byte) func(*http2.Framer, int) {
			return func(fr *http2.Framer, i int) {
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 101), BlockFragment: blk, EndStream: true, EndHeaders: true})
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, cfg := h2World(t)
			up := newCountingUpstream(t)
			cfg.Routes = append(cfg.Routes, gateway.Route{Name: "c", PathPrefix: "/c", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}})
			gw := w.start(cfg)
			before := w.upstream.count()
			bad := get("localhost", "/api/x", "X-Bad", "upper-case name")

			// The twin: a client that reads.
			h := dialH2Raw(t, gw, "localhost", w.web)
			var blk []byte
			if tc.name == "reset" {
				blk = h.block(bad...)
			}
			var acks atomic.Int32
			readDone := make(chan error, 1)
			go func() {
				h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				for acks.Load() < 1000 {
					f, err := h.fr.ReadFrame()
					if err != nil {
						readDone <- err
						return
					}
					switch f := f.(type) {
					case *http2.PingFrame:
						if f.IsAck() {
							acks.Add(1)
						}
					case *http2.SettingsFrame:
						if f.IsAck() {
							acks.Store(1000) // one ACK may answer many
						}
					case *http2.RSTStreamFrame:
						acks.Add(1)
					case *http2.GoAwayFrame:
						readDone <- fmt.Errorf("GOAWAY %v", f.ErrCode)
						return
					}
				}
				readDone <- nil
			}()
			if err := flood(h, 1000, tc.each(blk)); err != nil {
				t.Fatalf("twin: %v", err)
			}
			if err := <-readDone; err != nil {
				t.Fatalf("twin: after %d answers: %v", acks.Load(), err)
			}
			resync(h)
			wantStillServes(t, h, 99, "twin after 1000 "+tc.name+" frames")

			// The attack: a large answer fills the buffers, then the
			// flood, none of the answers read.
			a := dialH2Small(t, gw, w)
			a.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
			a.fr.WriteWindowUpdate(0, 1<<30)
			a.request(1, get("localhost", "/c/big?n=268435456")...)
			for last := int64(-1); up.written.Load() == 0 || up.written.Load() != last; {
				last = up.written.Load()
				time.Sleep(200 * time.Millisecond)
			}
			t.Logf("the answer stopped after %d KiB", up.written.Load()>>10)
			if tc.name == "reset" {
				blk = a.block(bad...)
			}
			heap := heapInUse()
			done := floodAsync(a, 100_000, tc.each(blk))
			servedMeanwhile(t, w, gw, "during the "+tc.name+" flood")
			err := <-done
			if err == nil && tc.closes {
				err = wantWritesFail(a)
			}
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				t.Errorf("the gateway stopped reading the %s flood without closing the connection: %v", tc.name, err)
			case tc.closes && err == nil:
				t.Errorf("the gateway took 100000 %s frames from a client that read no answer", tc.name)
			case !tc.closes && err != nil:
				t.Errorf("%s flood: %v", tc.name, err)
			default:
				t.Logf("%s flood: %v", tc.name, err)
			}
			if grew := int64(heapInUse()) - int64(heap); grew > 64<<20 {
				t.Errorf("heap grew by %d MiB during the %s flood", grew>>20, tc.name)
			}
			servedMeanwhile(t, w, gw, "after the "+tc.name+" flood")
			if n := w.upstream.count() - before; n != 3 {
				t.Errorf("upstream got %d requests, want the twin's and the other client's 3", n)
			}
		})
	}
}

// TestHTTP2EmptyFrameFloods (CVE-2019-9518): empty DATA frames on an
// open stream, empty HEADERS (stream after stream, each reset) and a
// header block of empty CONTINUATION frames. Go's server takes them
// without counting (CPU, not memory: documented in docs/gateway.md);
// others are served meanwhile, and the empty DATA flood leaves its
// connection serving.
func TestHTTP2EmptyFrameFloods(t *testing.T) {
	t.Parallel()
	const n = 100_000
	w, cfg := h2World(t)
	gw := w.start(cfg)
	t.Run("data", func(t *testing.T) {
		h := dialH2Raw(t, gw, "localhost", w.web)
		blk := h.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/nocsrf/x", "accept", "application/json")
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndHeaders: true})
		done := floodAsync(h, n, func(fr *http2.Framer, i int) { fr.WriteData(1, false, nil) })
		servedMeanwhile(t, w, gw, "during the empty DATA flood")
		if err := <-done; err != nil {
			t.Fatalf("flood: %v", err)
		}
		h.fr.WriteData(1, true, []byte("x"))
		if a, err := h.answer(1); err != nil || a.status != 200 {
			t.Errorf("the flooded stream: %+v, %v; want 200", a, err)
		}
		wantStillServes(t, h, 3, "after the empty DATA flood")
	})
	t.Run("headers", func(t *testing.T) {
		// Each empty HEADERS is a request without pseudo-headers: its
		// stream is reset, as in the reset flood
		// (TestHTTP2ControlFrameFloods); read, the connection serves on.
		h := dialH2Raw(t, gw, "localhost", w.web)
		const m = 20_000
		done := floodAsync(h, m, func(fr *http2.Framer, i int) {
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), EndStream: true, EndHeaders: true})
		})
		servedMeanwhile(t, w, gw, "during the empty HEADERS flood")
		resets := 0
		h.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		for resets < m {
			f, err := h.fr.ReadFrame()
			if err != nil {
				t.Fatalf("after %d resets: %v", resets, err)
			}
			if _, ok := f.(*http2.RSTStreamFrame); ok {
				resets++
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("flood: %v", err)
		}
		wantStillServes(t, h, 2*m+1, "after the empty HEADERS flood")
	})
	t.Run("continuation", func(t *testing.T) {
		h := dialH2Raw(t, gw, "localhost", w.web)
		blk := h.block(get("localhost", "/api/x")...)
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndStream: true})
		done := floodAsync(h, n, func(fr *http2.Framer, i int) { fr.WriteContinuation(1, false, nil) })
		servedMeanwhile(t, w, gw, "during the empty CONTINUATION flood")
		if err := <-done; err != nil {
			t.Logf("empty CONTINUATION flood: %v", err)
		}
		h.fr.WriteContinuation(1, true, nil)
		if a, err := h.answer(1); err != nil || a.status != 200 {
			t.Errorf("the header block ended after the flood: %+v, %v; want 200", a, err)
		}
	})
}

// TestHTTP2WindowUpdates: an increment that takes a stream's window past
// 2^31-1 resets that stream (FLOW_CONTROL_ERROR) and the connection
// serves on; one that takes the connection's past it closes the
// connection (GOAWAY FLOW_CONTROL_ERROR); a flood of 100000 valid
// WINDOW_UPDATEs and one of PRIORITY frames on 100000 idle streams
// (which Go's default scheduler ignores) leave the heap bounded and the
// connection serving. Others are served meanwhile.
func TestHTTP2WindowUpdates(t *testing.T) {
	t.Parallel()
	w, cfg := h2World(t)
	up := newBlockingUpstream(t)
	cfg.Routes = append(cfg.Routes, gateway.Route{Name: "slow", PathPrefix: "/slow", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}})
	gw := w.start(cfg)
	t.Run("stream overflow", func(t *testing.T) {
		h := dialH2Raw(t, gw, "localhost", w.web)
		h.request(1, get("localhost", "/slow/x")...)
		<-up.arrived
		h.fr.WriteWindowUpdate(1, 1<<31-1)
		if a, err := h.answer(1); err != nil || a.reset != http2.ErrCodeFlowControl {
			t.Errorf("stream 1: %+v, %v; want RST_STREAM FLOW_CONTROL_ERROR", a, err)
		}
		wantStillServes(t, h, 3, "after a stream's overflow")
	})
	t.Run("connection overflow", func(t *testing.T) {
		h := dialH2Raw(t, gw, "localhost", w.web)
		h.fr.WriteWindowUpdate(0, 1<<31-1)
		if err := wantGoAway(h, http2.ErrCodeFlowControl); err != nil {
			t.Error(err)
		}
		servedMeanwhile(t, w, gw, "after a connection's overflow")
	})
	for _, tc := range []struct {
		name string
		each func(fr *http2.Framer, i int)
	}{
		{"window update flood", func(fr *http2.Framer, i int) { fr.WriteWindowUpdate(0, 1) }},
		{"stream window update flood", func(fr *http2.Framer, i int) { fr.WriteWindowUpdate(1, 1) }},
		{"priority flood", func(fr *http2.Framer, i int) {
			fr.WritePriority(uint32(2*i+3), http2.PriorityParam{StreamDep: uint32(2*i + 1), Weight: 255, Exclusive: i%2 == 0})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := dialH2Raw(t, gw, "localhost", w.web)
			h.request(1, get("localhost", "/api/x")...)
			if a, err := h.answer(1); err != nil || a.status != 200 {
				t.Fatalf("stream 1: %+v, %v", a, err)
			}
			heap := heapInUse()
			done := floodAsync(h, 100_000, tc.each)
			servedMeanwhile(t, w, gw, "during the "+tc.name)
			if err := <-done; err != nil {
				t.Fatalf("flood: %v", err)
			}
			wantStillServes(t, h, 300_001, "after the "+tc.name)
			if grew := int64(heapInUse()) - int64(heap); grew > 64<<20 {
				t.Errorf("heap grew by %d MiB", grew>>20)
			}
		})
	}
}

// TestHTTP2ServerInducedResets (MadeYouReset, CVE-2025-8671): a client
// that has the server reset its streams (a stream's WINDOW_UPDATE past
// 2^31-1, a FLOW_CONTROL_ERROR) right after opening them, 5000 times,
// does not get 5000 upstream requests: Go's server counts a stream it
// reset as open until its handler returns, so at most
// limits.http2-max-concurrent-streams handlers run and the streams past
// them are refused (or, when the handlers queued outrun them, the
// connection gets GOAWAY ENHANCE_YOUR_CALM, as in a rapid reset).
// Another client is served meanwhile, and the attacker's connection,
// when it was not closed, serves once the upstream lets go. The twin: one
// such reset leaves the connection serving (TestHTTP2WindowUpdates).
func TestHTTP2ServerInducedResets(t *testing.T) {
	t.Parallel()
	const limit = 10
	w, cfg := h2World(t)
	up := newBlockingUpstream(t)
	cfg.Routes = append(cfg.Routes, gateway.Route{Name: "slow", PathPrefix: "/slow", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}})
	cfg.Limits.HTTP2MaxConcurrentStreams = limit
	gw := w.start(cfg)
	h := dialH2Raw(t, gw, "localhost", w.web)
	const streams = 5000
	blk := h.block(get("localhost", "/slow/x")...)
	done := floodAsync(h, streams, func(fr *http2.Framer, i int) {
		id := uint32(2*i + 1)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndStream: true, EndHeaders: true})
		fr.WriteWindowUpdate(id, 1<<31-1)
	})
	servedMeanwhile(t, w, gw, "during the resets")
	if err := <-done; err != nil {
		t.Fatalf("flood: %v", err)
	}
	codes := map[http2.ErrCode]int{}
	goaway := http2.ErrCode(0xffff) // none
	h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for resets := 0; resets < streams; resets++ {
		f, err := h.fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d resets: %v", resets, err)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			codes[f.ErrCode]++
		case *http2.GoAwayFrame:
			// When the handlers queued outrun those running, the
			// connection ends as in a rapid reset.
			goaway = f.ErrCode
			resets = streams
		default:
			resets--
		}
	}
	_, maxNow, n := up.stats()
	t.Logf("resets %v, GOAWAY %v; upstream got %d of %d, at most %d at once", codes, goaway, n, streams, maxNow)
	// The upstream notices a cancel late: maxNow may pass the limit.
	if maxNow > 5*limit || n >= streams/2 {
		t.Errorf("upstream got %d of %d reset streams, %d at once; want at most about %d at once", n, streams, maxNow, limit)
	}
	up.free()
	switch goaway {
	case 0xffff:
		resync(h)
		wantStillServes(t, h, 2*streams+1, "after the resets")
	case http2.ErrCodeEnhanceYourCalm:
	default:
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM or none", goaway)
	}
	servedMeanwhile(t, w, gw, "after the resets")
}

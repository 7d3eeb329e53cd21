package gateway_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestHTTP2ClientChaos is TestClientChaos over HTTP/2: raw HTTP/2
// clients misbehave at random, frame by frame, while well-behaved
// clients use the same gateway. Stream-level faults (a body cut off by a
// reset, a reset before the answer, more DATA than Content-Length, a
// malformed header, a trailer, bodies interleaved on three streams, a
// stream whose window never opens) leave the connection serving, and a
// well-behaved request on it after the fault must get its own answer.
// Connection-level faults (a flow-control window overflowed, DATA on
// stream 0, an even stream ID, a connection closed mid-body, a PING
// flood) end it or not, as the protocol says. It checks that:
//
//   - every well-behaved request, on a clean connection or after a
//     fault on its own, gets its own answer (200 with its id);
//   - no request reaches the upstream twice, and none whose body was cut
//     off, overran its Content-Length or had a malformed header reaches
//     it as complete; no body reaches it other than the one sent;
//   - no handler is left running (the in-flight gauge returns to zero)
//     and the gateway serves normally afterwards.
func TestHTTP2ClientChaos(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	w, up, gw := startChaos(t, seed, false)
	up.only(chaosAnswer)

	post := func(h *h2Raw, id uint32, chaosID string, length int, more ...string) {
		fields := append([]string{":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/c/" + chaosID,
			"x-chaos-id", chaosID, "content-length", strconv.Itoa(length)}, more...)
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.block(fields...), EndHeaders: true})
	}
	getReq := func(h *h2Raw, id uint32, chaosID string) {
		h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndStream: true, EndHeaders: true,
			BlockFragment: h.block(get("localhost", "/c/"+chaosID, "x-chaos-id", chaosID)...)})
	}
	// followUp sends a well-behaved GET on stream id and checks its
	// answer is its own.
	followUp := func(h *h2Raw, id uint32, chaosID string) error {
		getReq(h, id, chaosID)
		a, err := h.answer(id)
		if err != nil {
			return fmt.Errorf("follow-up %s: %v", chaosID, err)
		}
		if a.status != 200 || a.body != "id="+chaosID {
			return fmt.Errorf("follow-up %s: got %d %q (reset %v), want 200 %q", chaosID, a.status, a.body, a.reset, "id="+chaosID)
		}
		return nil
	}

	var mu sync.Mutex
	mustNotComplete := map[string]string{} // id → why it must not reach the upstream whole
	never := func(id, why string) {
		mu.Lock()
		mustNotComplete[id] = why
		mu.Unlock()
	}
	var wg sync.WaitGroup
	const bad, good, perWorker = 4, 4, 25
	for wk := range bad {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(100+wk)))
			for i := range perWorker {
				id := fmt.Sprintf("h2bad%d-%d", wk, i)
				h, err := openH2Raw(t, gw, "localhost", w.web)
				if err != nil {
					t.Errorf("%s: connect: %v", id, err)
					return
				}
				body := []byte("data-" + id)
				var ferr error
				switch fault := rng.IntN(11); fault {
				case 0: // the body cut off by a reset
					never(id, "its body was cut off by RST_STREAM")
					post(h, 1, id, len(body)+100)
					h.fr.WriteData(1, false, body)
					h.fr.WriteRSTStream(1, http2.ErrCodeCancel)
					ferr = followUp(h, 3, id+".after")
				case 1: // reset before the answer
					getReq(h, 1, id)
					h.fr.WriteRSTStream(1, http2.ErrCodeCancel)
					ferr = followUp(h, 3, id+".after")
				case 2: // more DATA than Content-Length, in one frame
					never(id, "its DATA overran its Content-Length")
					post(h, 1, id, len(body))
					h.fr.WriteData(1, true, append(body, "XXXXX"...))
					if a, err := h.answer(1); err != nil || (a.reset == 0 && a.status < 400) {
						ferr = fmt.Errorf("%s: overrun: got %+v, %v; want a reset or a refusal", id, a, err)
						break
					}
					ferr = followUp(h, 3, id+".after")
				case 3: // a malformed header: an upper-case name
					never(id, "its header was malformed")
					h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
						BlockFragment: h.block(get("localhost", "/c/"+id, "X-Chaos-Id", id)...)})
					if a, err := h.answer(1); err != nil || (a.reset == 0 && a.status < 400) {
						ferr = fmt.Errorf("%s: malformed header: got %+v, %v; want a reset or a refusal", id, a, err)
						break
					}
					ferr = followUp(h, 3, id+".after")
				case 4: // a trailer after the body: served
					post(h, 1, id, len(body), "te", "trailers")
					h.fr.WriteData(1, false, body)
					h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
						BlockFragment: h.block("x-trailer", "v")})
					if a, err := h.answer(1); err != nil || a.status != 200 || a.body != "id="+id {
						ferr = fmt.Errorf("%s: with a trailer: got %+v, %v; want 200 %q", id, a, err, "id="+id)
					}
				case 5: // three bodies interleaved, DATA frame by DATA frame
					ids := []uint32{1, 3, 5}
					for _, s := range ids {
						post(h, s, fmt.Sprintf("%s.%d", id, s), len(body)+2)
					}
					for k := range len(body) + 2 {
						for _, s := range ids {
							b := []byte(fmt.Sprintf("%s.%d", body, s))
							h.fr.WriteData(s, k == len(b)-1, b[k:k+1])
						}
					}
					got, err := collect(h, ids...)
					for _, s := range ids {
						want := fmt.Sprintf("id=%s.%d", id, s)
						if err != nil || got[s].status != 200 || got[s].body != want {
							ferr = fmt.Errorf("%s: interleaved stream %d: got %+v, %v; want 200 %q", id, s, got[s], err, want)
							break
						}
					}
				case 6: // a window that never opens, then the connection closed
					h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
					getReq(h, 1, id+"/big")
					time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
				case 7: // the connection's window overflowed
					h.fr.WriteWindowUpdate(0, 1<<31-1)
					h.fr.WriteWindowUpdate(0, 1<<31-1)
					ferr = wantGoAway(h, http2.ErrCodeFlowControl)
				case 8: // DATA on stream 0, or HEADERS on an even stream
					if rng.IntN(2) == 0 {
						h.fr.AllowIllegalWrites = true // the Framer refuses to write it otherwise
						h.fr.WriteData(0, true, []byte("x"))
					} else {
						getReq(h, 2, id)
					}
					ferr = wantGoAway(h, http2.ErrCodeProtocol)
				case 9: // closed mid-body
					never(id, "its connection closed mid-body")
					post(h, 1, id, len(body)+100)
					h.fr.WriteData(1, false, body)
				case 10: // a PING flood, then a request: still served
					for p := range 500 {
						h.fr.WritePing(false, [8]byte{byte(p)})
					}
					ferr = followUp(h, 1, id)
				}
				if ferr != nil {
					t.Error(ferr)
				}
				h.conn.Close()
			}
		}()
	}
	goodClients(t, w, gw, &wg, good, perWorker, true)
	wg.Wait()

	up.wantNoBadRequests(t, mustNotComplete)
	wantNoneInFlight(t, gw) // the faults leave no handler waiting
	wantServesAfter(t, w, gw)
}

// collect reads frames until every stream in ids has ended, and returns
// how each did; a GOAWAY or a closed connection is an error.
func collect(h *h2Raw, ids ...uint32) (map[uint32]h2Answer, error) {
	got := map[uint32]h2Answer{}
	open := map[uint32]bool{}
	for _, id := range ids {
		open[id] = true
	}
	h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(open) > 0 {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return got, err
		}
		id := f.Header().StreamID
		if !open[id] {
			if g, ok := f.(*http2.GoAwayFrame); ok {
				return got, fmt.Errorf("GOAWAY %v: %s", g.ErrCode, g.DebugData())
			}
			continue
		}
		a := got[id]
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			a.status, _ = strconv.Atoi(f.PseudoValue("status"))
		case *http2.DataFrame:
			a.body += string(f.Data())
		case *http2.RSTStreamFrame:
			a.reset = f.ErrCode
			delete(open, id)
		}
		if f.Header().Flags.Has(http2.FlagDataEndStream) && (f.Header().Type == http2.FrameData || f.Header().Type == http2.FrameHeaders) {
			var p struct{ Reason string }
			json.Unmarshal([]byte(a.body), &p)
			a.reason = p.Reason
			delete(open, id)
		}
		got[id] = a
	}
	return got, nil
}

// wantGoAway reads until the server's GOAWAY and checks its code; the
// connection may also just close after it.
func wantGoAway(h *h2Raw, code http2.ErrCode) error {
	h.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return fmt.Errorf("connection ended without GOAWAY %v: %v", code, err)
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			if g.ErrCode != code {
				return fmt.Errorf("GOAWAY %v, want %v", g.ErrCode, code)
			}
			return nil
		}
	}
}

// wantNoneInFlight checks that every handler returns (the in-flight
// gauge falls to zero) within 10s.
func wantNoneInFlight(t *testing.T, gw *running) {
	t.Helper()
	const gauge = "forgeproof_gateway_requests_in_flight"
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, gw, gauge) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := metricValue(t, gw, gauge); n != 0 {
		t.Errorf("%v handlers still running 10s after the chaos", n)
	}
}

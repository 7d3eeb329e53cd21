package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestStallChaos runs stalling clients, slow-but-moving ones and
// well-behaved ones at once, over both protocols, against one gateway
// with a 1s stall timeout. It checks that:
//
//   - every well-behaved and every slow-but-moving request is served
//     whole;
//   - every stalled body gets 408, every stalled answer its connection
//     closed (HTTP/1.1) or its stream reset (HTTP/2);
//   - the upstream gets each served body whole and no stalled one;
//   - forgeproof_gateway_client_stalls_total counts each stall once,
//     by protocol and direction;
//   - no handler is left running.
func TestStallChaos(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	w, up, gw := startStall(t, stallTimeout)

	var stalled [2][2]atomic.Int64 // [HTTP/2][answer]: the stalls made
	var completePosts atomic.Int64 // served posts: the upstream reads each whole
	const kinds = 7
	var wg sync.WaitGroup
	const workers, perWorker = 6, 4
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(wk)))
			for i := range perWorker {
				id := fmt.Sprintf("w%d-%d", wk, i)
				switch kind := rng.IntN(kinds); kind {
				case 0, 1: // well-behaved, HTTP/1.1 or HTTP/2: a post and a large answer
					h2 := kind == 1
					c := gw.client(w.web)
					c.Transport.(*http.Transport).ForceAttemptHTTP2 = h2
					req, _ := http.NewRequest("POST", gw.base+"/s/post", strings.NewReader(strings.Repeat("p", 100)))
					req.Host = "localhost"
					resp, err := c.Do(req)
					if err != nil {
						t.Errorf("%s: post: %v", id, err)
						break
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "got 100" {
						t.Errorf("%s: post: got %d %q", id, resp.StatusCode, b)
					}
					completePosts.Add(1)
					req, _ = http.NewRequest("GET", gw.base+"/s/big?n=1000000", nil)
					req.Host = "localhost"
					if resp, err = c.Do(req); err != nil {
						t.Errorf("%s: get: %v", id, err)
						break
					}
					n, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || n != 1000000 {
						t.Errorf("%s: get: %d bytes, %v", id, n, err)
					}
				case 2: // slow but moving, HTTP/1.1: a body in parts
					c := dialH1(t, gw)
					io.WriteString(c, "POST /s/post HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n")
					for range 4 {
						time.Sleep(300 * time.Millisecond)
						io.WriteString(c, strings.Repeat("s", 25))
					}
					c.SetReadDeadline(time.Now().Add(stallSeen))
					resp, err := http.ReadResponse(bufio.NewReader(c), nil)
					if err != nil || resp.StatusCode != 200 {
						t.Errorf("%s: slow post: %v, %v", id, resp, err)
						break
					}
					completePosts.Add(1)
					c.Close()
				case 3: // HTTP/1.1 body stalled
					c := dialH1(t, gw)
					io.WriteString(c, "POST /s/post HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nstart")
					c.SetReadDeadline(time.Now().Add(stallSeen))
					resp, err := http.ReadResponse(bufio.NewReader(c), nil)
					if err != nil || resp.StatusCode != http.StatusRequestTimeout {
						t.Errorf("%s: stalled body: %v, %v; want 408", id, resp, err)
					}
					stalled[0][0].Add(1)
					c.Close()
				case 4: // HTTP/1.1 answer stalled
					// The client reads nothing until the gateway has
					// given up on it (the upstream's writes fail), then
					// finds its connection closed: what was sent, then
					// the end. (Not after a fixed wait: on a loaded
					// machine the gateway may not yet have filled the
					// socket, and a client that reads is not stalled.)
					c := dialH1(t, gw)
					fmt.Fprintf(c, "GET /s/big?n=67108864&tag=%s HTTP/1.1\r\nHost: localhost\r\n\r\n", id)
					select {
					case err := <-up.bigTag(id).ended:
						if err == nil {
							t.Errorf("%s: stalled answer: the upstream wrote all 64 MiB to a client that read nothing", id)
						}
					case <-time.After(stallSeen):
						t.Errorf("%s: stalled answer: the upstream was still held after %v", id, stallSeen)
					}
					c.SetReadDeadline(time.Now().Add(stallSeen))
					n, err := io.Copy(io.Discard, c)
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Errorf("%s: stalled answer: the connection stayed open (%d bytes)", id, n)
					} else if n >= 64<<20 {
						t.Errorf("%s: stalled answer: the client got the whole answer (%d bytes)", id, n)
					}
					stalled[0][1].Add(1)
					c.Close()
				case 5: // HTTP/2 body stalled, then a well-behaved stream on the connection
					h, err := openH2Raw(t, gw, "localhost", w.web)
					if err != nil {
						t.Errorf("%s: %v", id, err)
						break
					}
					h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
						BlockFragment: h.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/s/post", "content-length", "100")})
					h.fr.WriteData(1, false, []byte("start"))
					if a, err := h.answer(1); err != nil || a.status != http.StatusRequestTimeout {
						t.Errorf("%s: stalled HTTP/2 body: %+v, %v; want 408", id, a, err)
					}
					stalled[1][0].Add(1)
					h.conn.Close()
				case 6: // HTTP/2 answer stalled (window 0)
					h, err := openH2Raw(t, gw, "localhost", w.web)
					if err != nil {
						t.Errorf("%s: %v", id, err)
						break
					}
					h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
					h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, EndHeaders: true,
						BlockFragment: h.block(get("localhost", "/s/big?n=16777216")...)})
					if a, err := h.answer(1); err != nil || a.reset == 0 {
						t.Errorf("%s: stalled HTTP/2 answer: %+v, %v; want a reset", id, a, err)
					}
					stalled[1][1].Add(1)
					h.conn.Close()
				}
			}
		}()
	}
	wg.Wait()

	// The upstream: every served post whole, no stalled one. Each post
	// made reaches it (a stalled one too: the gateway forwards a body
	// as it reads it), and reports when its read ends, which may be
	// after the client had its answer: wait for as many reports as
	// posts, then for none more that are already in.
	whole, cut := 0, 0
	count := func(p postResult) {
		if p.err == nil && p.n == 100 {
			whole++
		} else {
			cut++
		}
	}
	posts := int(completePosts.Load() + stalled[0][0].Load() + stalled[1][0].Load())
	for deadline := time.After(stallSeen); whole+cut < posts; {
		select {
		case p := <-up.posted:
			count(p)
		case <-deadline:
			t.Errorf("the upstream reported %d of %d posts after %v", whole+cut, posts, stallSeen)
			posts = 0
		}
	}
	for more := true; more; {
		select {
		case p := <-up.posted:
			count(p)
		default:
			more = false
		}
	}
	if want := int(completePosts.Load()); whole != want {
		t.Errorf("the upstream read %d bodies whole, want %d (the served ones)", whole, want)
	}
	if want := int(stalled[0][0].Load() + stalled[1][0].Load()); cut != want {
		t.Errorf("the upstream saw %d bodies cut off, want %d (the stalled ones)", cut, want)
	}
	for i, proto := range []string{"http/1.1", "h2"} {
		for j, dir := range []string{"body", "answer"} {
			wantStalls(t, gw, proto, dir, float64(stalled[i][j].Load()))
		}
	}
	wantNoneInFlight(t, gw)
}

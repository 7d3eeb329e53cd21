package gateway_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClientChaos has clients misbehave at random on their own
// connections, over raw TLS, while well-behaved clients use the same
// gateway: requests cut off in the head or the body, closed or reset
// before the answer, half-closed, pipelined three at a time, or garbage.
// It checks that:
//
//   - every well-behaved request gets its own answer (200 with its id);
//   - pipelined requests get their answers in order, each its own;
//   - garbage gets a 400, and the connection is closed;
//   - no request reaches the upstream twice, and none whose body was
//     cut off reaches it as complete (the upstream checks each body);
//   - the gateway serves normally afterwards.
func TestClientChaos(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	w, up, gw := startChaos(t, seed, false)
	up.only(chaosAnswer)
	addr := strings.TrimPrefix(gw.base, "https://")

	dial := func() (*tls.Conn, error) {
		return tls.Dial("tcp", addr, &tls.Config{
			RootCAs: w.ca.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"},
			Certificates: []tls.Certificate{w.web.TLSCertificate()},
		})
	}
	head := func(method, id string, length int) string {
		h := fmt.Sprintf("%s /c/%s HTTP/1.1\r\nHost: localhost\r\nX-Chaos-Id: %s\r\n", method, id, id)
		if length > 0 {
			h += fmt.Sprintf("Content-Length: %d\r\n", length)
		}
		return h + "\r\n"
	}
	// answer reads one answer and checks that it is id's.
	answer := func(br *bufio.Reader, id string) error {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || string(b) != "id="+id {
			return fmt.Errorf("got %d %q, want 200 %q", resp.StatusCode, b, "id="+id)
		}
		return nil
	}

	var mu sync.Mutex
	cutBodies := map[string]string{} // ids whose body was cut off → how
	var wg sync.WaitGroup
	const bad, good, perWorker = 4, 4, 40
	for wk := range bad {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(wk)))
			for i := range perWorker {
				id := fmt.Sprintf("bad%d-%d", wk, i)
				c, err := dial()
				if err != nil {
					t.Errorf("%s: dial: %v", id, err)
					return
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				body := "data-" + id
				switch rng.IntN(7) {
				case 0: // the head cut off
					full := head("GET", id, 0)
					io.WriteString(c, full[:rng.IntN(len(full)-4)])
				case 1: // the body cut off
					mu.Lock()
					cutBodies[id] = "its body was cut off"
					mu.Unlock()
					io.WriteString(c, head("POST", id, len(body)+100)+body)
				case 2: // closed before the answer
					io.WriteString(c, head("POST", id, len(body))+body)
				case 3: // reset mid-body
					mu.Lock()
					cutBodies[id] = "its connection was reset mid-body"
					mu.Unlock()
					io.WriteString(c, head("POST", id, len(body)+100)+body)
					c.NetConn().(*net.TCPConn).SetLinger(0)
				case 4: // half-closed after the request: the answer may come or not
					io.WriteString(c, head("GET", id, 0))
					c.CloseWrite()
					io.Copy(io.Discard, br)
				case 5: // three pipelined in one write
					var b strings.Builder
					for j := range 3 {
						b.WriteString(head("POST", fmt.Sprintf("%s.%d", id, j), len(body)+2) + fmt.Sprintf("%s.%d", body, j))
					}
					io.WriteString(c, b.String())
					for j := range 3 {
						if err := answer(br, fmt.Sprintf("%s.%d", id, j)); err != nil {
							t.Errorf("%s: pipelined answer %d: %v", id, j, err)
							break
						}
					}
				case 6: // garbage
					io.WriteString(c, "GET /c/x HTTP/1.1\r\nHost: localhost\r\nX-Chaos-Id: \x00bad\r\n\r\n")
					resp, err := http.ReadResponse(br, nil)
					if err != nil || resp.StatusCode != 400 {
						t.Errorf("%s: garbage: got %v, %v, want 400", id, resp, err)
					} else {
						io.Copy(io.Discard, resp.Body)
						if _, err := br.ReadByte(); err != io.EOF {
							t.Errorf("%s: garbage: the connection stayed open (%v)", id, err)
						}
					}
				}
				c.Close()
			}
		}()
	}
	goodClients(t, w, gw, &wg, good, perWorker, false)
	wg.Wait()

	up.wantNoBadRequests(t, cutBodies)
	wantServesAfter(t, w, gw)
}

// goodClients starts n well-behaved clients beside a chaos test (in
// wg), each sending each POSTs with their id, over HTTP/2 when h2, and
// checking that each answer is the request's own.
func goodClients(t *testing.T, w *world, gw *running, wg *sync.WaitGroup, n, each int, h2 bool) {
	prefix := map[bool]string{false: "good", true: "h2good"}[h2]
	for wk := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := gw.client(w.web)
			c.Transport.(*http.Transport).ForceAttemptHTTP2 = h2
			for i := range each {
				id := fmt.Sprintf("%s%d-%d", prefix, wk, i)
				req, _ := http.NewRequest("POST", gw.base+"/c/"+id, strings.NewReader("data-"+id))
				req.Host = "localhost"
				req.Header.Set("X-Chaos-Id", id)
				resp, err := c.Do(req)
				if err != nil {
					t.Errorf("%s: %v", id, err)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "id="+id || (h2 && resp.ProtoMajor != 2) {
					t.Errorf("%s: got HTTP/%d %d %q, want 200 %q", id, resp.ProtoMajor, resp.StatusCode, b, "id="+id)
				}
			}
		}()
	}
}

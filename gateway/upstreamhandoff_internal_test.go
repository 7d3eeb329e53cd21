package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// A connection put back just as the request waiting for it is
// cancelled is not lost: the request takes it, or it goes back to the
// pool, and its slot stays held once. The rounds alternate the order of
// the put and the cancellation so that each comes first in some.
func TestHostPoolHandOffCancelled(t *testing.T) {
	ln := holdingListener(t)
	tr := newUpstreamTransport(Limits{UpstreamMaxConnsPerHost: 1, UpstreamDialTimeout: 30 * time.Second, UpstreamMaxIdleConnsPerHost: 4}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	hp := tr.host(ln.Addr().String())
	pc, err := tr.dialAddr(context.Background(), hp.addr) // the one slot
	if err != nil {
		t.Fatal(err)
	}
	var took, back int
	for round := range 100 {
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan *upConn, 1)
		go func() {
			pc, err := hp.takeOrAcquire(ctx, false, true)
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("round %d: %v", round, err)
			}
			got <- pc
		}()
		for queued := false; !queued; time.Sleep(time.Millisecond) {
			hp.mu.Lock()
			queued = len(hp.waiters) == 1
			hp.mu.Unlock()
		}
		if round%2 == 0 {
			hp.put(pc)
			cancel()
		} else {
			cancel()
			hp.put(pc)
		}
		next := <-got
		if next == nil {
			// Cancelled: the connection is the pool's.
			if next = hp.get(time.Time{}, false); next == nil {
				t.Fatalf("round %d: the connection put back for a cancelled request was lost", round)
			}
			back++
		} else {
			took++
		}
		if next != pc || pc.closed.Load() {
			t.Fatalf("round %d: the connection put back was replaced or closed", round)
		}
		if n := len(hp.slots); n != 1 {
			t.Fatalf("round %d: %d slots held for one connection", round, n)
		}
	}
	t.Logf("the request took the connection %d times, the pool %d", took, back)
}

// A connection on which the upstream sent bytes after its answer (here
// a whole forged answer, in the same write) is not handed to the request
// waiting for it, as get does not take it from the pool: the waiter gets
// its own answer, on a new connection. The twin is the held request,
// whose answer came before the stray bytes.
func TestHostPoolHandOffStrayBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					answer := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
					if req.URL.Path == "/hold" {
						arrived <- struct{}{}
						<-release
						answer += "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
					}
					io.WriteString(c, answer)
				}
			}()
		}
	}()
	tr := newUpstreamTransport(Limits{UpstreamMaxConnsPerHost: 1, UpstreamDialTimeout: 30 * time.Second, UpstreamMaxIdleConnsPerHost: 4}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	hp := tr.host(ln.Addr().String())
	get := func(path string) string {
		req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: hp.addr, Path: path}, Host: hp.addr, Header: http.Header{}}
		res, err := tr.RoundTrip(req)
		if err != nil {
			return err.Error()
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return string(body)
	}
	held, waited := make(chan string, 1), make(chan string, 1)
	go func() { held <- get("/hold") }()
	<-arrived
	go func() { waited <- get("/next") }()
	for queued := false; !queued; time.Sleep(time.Millisecond) {
		hp.mu.Lock()
		queued = len(hp.waiters) == 1
		hp.mu.Unlock()
	}
	close(release)
	if got := <-held; got != "ok" {
		t.Errorf("the held request: got %q, want %q", got, "ok")
	}
	if got := <-waited; got != "ok" {
		t.Errorf("the waiting request: got %q, want %q (bytes sent after another answer)", got, "ok")
	}
}

package gateway

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stressConn is a pooled connection of TestHostPoolHandOffStress: who
// holds it, and whether the upstream "spoke" on it (a byte buffered, as
// after a forged answer), which no taker may be given.
type stressConn struct {
	pc    *upConn
	held  atomic.Int32
	stray bool
}

// Requests of both paths (own pool and std's dials) race puts, closes,
// cancellations, timeouts and the reload's idle closes on a pool at its
// cap. No connection is held by two requests, none with stray bytes is
// handed over, and at the end the slots held are exactly the
// connections still open: a slot leaked or released twice shows as a
// difference (or, released from an empty pool, as the test's timeout).
func TestHostPoolHandOffStress(t *testing.T) {
	const slots, workers, rounds = 3, 8, 400
	hp := &hostPool{addr: "stress", max: 2, wait: 200 * time.Microsecond, slots: make(chan struct{}, slots)}
	var closeStd atomic.Int32 // std's idle connections, closed by closeOtherIdle
	hp.closeOtherIdle = func() { closeStd.Add(1) }
	var mu sync.Mutex
	conns := map[*upConn]*stressConn{}
	newConn := func(stray bool) *stressConn {
		c, peer := net.Pipe()
		peer.Close()
		pc := &upConn{conn: c, limit: -1, hp: hp}
		pc.br = bufio.NewReader(strings.NewReader(map[bool]string{true: "x"}[stray]))
		if stray {
			pc.br.Peek(1)
		}
		sc := &stressConn{pc: pc, stray: stray}
		mu.Lock()
		conns[pc] = sc
		mu.Unlock()
		return sc
	}
	lookup := func(pc *upConn) *stressConn {
		mu.Lock()
		defer mu.Unlock()
		return conns[pc]
	}
	take := func(t *testing.T, pc *upConn) *stressConn {
		sc := lookup(pc)
		if sc.stray {
			t.Errorf("a connection with stray bytes was handed to a request")
		}
		if !sc.held.CompareAndSwap(0, 1) {
			t.Errorf("a connection was handed to two requests")
		}
		if pc.closed.Load() {
			t.Errorf("a closed connection was handed to a request")
		}
		return sc
	}
	stop := make(chan struct{})
	var reloads sync.WaitGroup
	reloads.Add(1)
	go func() {
		defer reloads.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				hp.closeIdle()
			} else {
				hp.dropIdle()
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				ctx, cancel := context.WithCancel(context.Background())
				if rng.IntN(4) == 0 {
					go cancel()
				}
				pooled, noBody := rng.IntN(3) != 0, rng.IntN(2) == 0
				var pc *upConn
				if pooled {
					pc = hp.get(time.Time{}, noBody)
				}
				if pc == nil {
					var err error
					pc, err = hp.takeOrAcquire(ctx, noBody, pooled)
					if err != nil {
						if !errors.Is(err, context.Canceled) && !errors.Is(err, errUpstreamBusy) {
							t.Errorf("takeOrAcquire: %v", err)
						}
						cancel()
						continue
					}
				}
				cancel()
				if !pooled {
					if pc != nil {
						t.Errorf("std's dial was given a connection")
					}
					// std's connection, closed when its exchange ends.
					time.Sleep(time.Duration(rng.IntN(100)) * time.Microsecond)
					hp.release()
					continue
				}
				var sc *stressConn
				if pc == nil {
					sc = newConn(false)
					sc.held.Store(1)
				} else {
					sc = take(t, pc)
				}
				time.Sleep(time.Duration(rng.IntN(100)) * time.Microsecond)
				switch rng.IntN(4) {
				case 0:
					sc.held.Store(0)
					sc.pc.close()
				case 1:
					// The upstream sent bytes after its answer: put
					// back, it must not be handed on.
					sc.pc.br = bufio.NewReader(strings.NewReader("x"))
					sc.pc.br.Peek(1)
					mu.Lock()
					sc.stray = true
					mu.Unlock()
					sc.held.Store(0)
					hp.put(sc.pc)
				default:
					sc.held.Store(0)
					hp.put(sc.pc)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	reloads.Wait()
	hp.mu.Lock()
	if len(hp.waiters) != 0 {
		t.Errorf("%d waiters left", len(hp.waiters))
	}
	open := 0
	for _, pc := range hp.idle {
		if !pc.closed.Load() {
			open++
		}
	}
	hp.mu.Unlock()
	if n := len(hp.slots); n != open {
		t.Errorf("%d slots held, %d connections open", n, open)
	}
	hp.closeIdle()
	if n := len(hp.slots); n != 0 {
		t.Errorf("%d slots held with no connection open", n)
	}
}

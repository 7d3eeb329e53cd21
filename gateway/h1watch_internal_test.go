package gateway

import (
	"net/http"
	"testing"
	"time"
)

// One sweep of the server's watch timer: the connection whose request
// has run for bgReadDelay gets its watch (a background read, which
// cancels the request when the client leaves); the one whose request is
// younger is held on, with the timer armed for when it is due, and gets
// no watch yet; the one with no request running is let go. Times are an
// hour away from the sweep's: no wall-clock margin.
func TestH1WatcherSweep(t *testing.T) {
	s := newH1Server(&http.Server{})
	wr := &s.watcher
	wr.timer = time.AfterFunc(time.Hour, func() {}) // the sweep below stands in for it
	defer wr.timer.Stop()
	now := time.Now()
	conn := func(watched bool, start time.Time) (*h1Conn, *h1Response, func()) {
		client, server := tcpPair(t)
		c := &h1Conn{s: s, rwc: server}
		c.r.c = c
		c.r.cond.L = &c.r.mu
		var w *h1Response
		if watched {
			w = &h1Response{conn: c}
			c.r.watched, c.r.watchedAt = w, start
		}
		c.r.timerArmed = true
		wr.conns = append(wr.conns, c)
		return c, w, func() { client.Close() }
	}
	dueC, dueW, leave := conn(true, now.Add(-time.Hour))
	youngC, youngW, _ := conn(true, now.Add(time.Hour))
	idleC, _, _ := conn(false, time.Time{})

	wr.sweep()

	if len(wr.conns) != 1 || wr.conns[0] != youngC {
		t.Fatalf("after the sweep the timer holds %d connections, want the young one alone", len(wr.conns))
	}
	if want := youngC.r.watchedAt.Add(bgReadDelay); !wr.at.Equal(want) {
		t.Errorf("timer armed for %v, want %v (the young request's due time)", wr.at, want)
	}
	for _, tt := range []struct {
		name  string
		c     *h1Conn
		armed bool
	}{{"due", dueC, false}, {"young", youngC, true}, {"idle", idleC, false}} {
		if tt.c.r.timerArmed != tt.armed {
			t.Errorf("%s connection: timerArmed %v, want %v", tt.name, tt.c.r.timerArmed, tt.armed)
		}
	}
	// The due connection's watch reads; the client leaving cancels its
	// request.
	leave()
	for deadline := time.Now().Add(10 * time.Second); dueW.ctx.Err() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // a hang guard, not a speed limit
			t.Fatal("the due request was not cancelled after its client left")
		}
	}
	youngC.r.mu.Lock()
	inRead := youngC.r.inRead
	youngC.r.mu.Unlock()
	if inRead || youngW.ctx.Err() != nil {
		t.Errorf("young request: watch read %v, cancelled %v; want neither", inRead, youngW.ctx.Err() != nil)
	}

	// Its request done, the young connection is let go at the next
	// sweep, and the timer is left unarmed.
	youngC.r.mu.Lock()
	youngC.r.watched = nil
	youngC.r.mu.Unlock()
	wr.sweep()
	if len(wr.conns) != 0 || !wr.at.IsZero() || youngC.r.timerArmed {
		t.Errorf("after the last request: %d connections held, timer at %v, young armed %v; want none, zero, false", len(wr.conns), wr.at, youngC.r.timerArmed)
	}
}

// add arms the timer when it is not armed, or armed for later than the
// new connection's due time, and otherwise leaves it.
func TestH1WatcherAdd(t *testing.T) {
	s := newH1Server(&http.Server{})
	wr := &s.watcher
	wr.timer = time.AfterFunc(time.Hour, func() {}) // no sweep: its state stays as add left it
	defer wr.timer.Stop()
	a, b, c := &h1Conn{s: s}, &h1Conn{s: s}, &h1Conn{s: s}
	now := time.Now()
	at := func() time.Time {
		wr.mu.Lock()
		defer wr.mu.Unlock()
		return wr.at
	}
	wr.add(a, now)
	if got, want := at(), now.Add(bgReadDelay); !got.Equal(want) {
		t.Fatalf("first add: timer at %v, want %v", got, want)
	}
	wr.add(b, now.Add(time.Millisecond))
	if got, want := at(), now.Add(bgReadDelay); !got.Equal(want) {
		t.Errorf("a later request: timer at %v, want %v (unchanged)", got, want)
	}
	wr.add(c, now.Add(-time.Millisecond))
	if got, want := at(), now.Add(bgReadDelay-time.Millisecond); !got.Equal(want) {
		t.Errorf("an earlier request: timer at %v, want %v", got, want)
	}
	wr.mu.Lock()
	n := len(wr.conns)
	wr.mu.Unlock()
	if n != 3 {
		t.Errorf("%d connections held, want 3", n)
	}
}

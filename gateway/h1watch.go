package gateway

import (
	"sync"
	"time"
)

// An h1Watcher is the timer of an h1Server's client watches (see
// bgReadDelay): one for every connection, where each connection had its
// own. A connection whose handler runs is added when its watch is armed
// (h1Conn.watch); when the timer fires (sweep), it starts the watch of
// each connection whose request has run for bgReadDelay, drops those
// with no request running, and fires again when the youngest request
// left reaches bgReadDelay. The watch starts when it did with a timer
// per connection, but the timer no longer fires about every bgReadDelay
// per busy connection: time.AfterFunc starts a goroutine each time it
// fires, which under keep-alive load (a connection busy with short
// requests) cost about 0.5 µs of CPU per request with the timer's
// updates (bench/NOTES.md, session 9). A sweep locks each connection it
// holds once.
type h1Watcher struct {
	mu    sync.Mutex
	conns []*h1Conn   // connections whose watch is armed (h1ConnReader.timerArmed)
	timer *time.Timer // made on first use; runs sweep
	at    time.Time   // when the timer fires; zero: it is not armed
}

// add holds c, whose watch was armed for a request that started at
// start, until the next sweep finds it done or due.
func (wr *h1Watcher) add(c *h1Conn, start time.Time) {
	due := start.Add(bgReadDelay)
	wr.mu.Lock()
	wr.conns = append(wr.conns, c)
	if wr.at.IsZero() || due.Before(wr.at) {
		wr.at = due
		if wr.timer == nil {
			wr.timer = time.AfterFunc(bgReadDelay, wr.sweep)
		} else {
			wr.timer.Reset(bgReadDelay)
		}
	}
	wr.mu.Unlock()
}

// sweep is the timer's function: it starts the watch of each connection
// whose request has run for bgReadDelay (in a goroutine of its own: the
// watch's read waits), forgets those with none running, and arms the
// timer for the earliest of the others.
func (wr *h1Watcher) sweep() {
	type start struct {
		c *h1Conn
		w *h1Response
	}
	var due []start
	now := time.Now()
	wr.mu.Lock()
	keep := wr.conns[:0]
	var next time.Time
	for _, c := range wr.conns {
		cr := &c.r
		cr.mu.Lock()
		switch {
		case cr.watched == nil:
			cr.timerArmed = false
		case now.Sub(cr.watchedAt) >= bgReadDelay:
			cr.timerArmed = false
			due = append(due, start{c, cr.watched})
		default:
			keep = append(keep, c)
			if t := cr.watchedAt.Add(bgReadDelay); next.IsZero() || t.Before(next) {
				next = t
			}
		}
		cr.mu.Unlock()
	}
	clear(wr.conns[len(keep):]) // no connection kept alive by the list
	wr.conns = keep
	wr.at = next
	if !next.IsZero() {
		wr.timer.Reset(next.Sub(now))
	}
	wr.mu.Unlock()
	for _, s := range due {
		go s.c.r.startBackgroundRead(s.w)
	}
}

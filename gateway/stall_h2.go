package gateway

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A stallGuard gives up on an HTTP/2 request whose client stops sending
// its body, or stops taking its answer, for limits.stall-timeout while
// the gateway's handler waits for it. On HTTP/2 one stream stalls by
// flow control (its window stays shut) while its connection carries
// others, so the connection's deadlines (clientConn) cannot see it.
//
// The guard has one timer per request. Each tick looks at whether a
// read or write has begun or ended since the last one; if none has and
// one is waiting, it has waited a whole period: the guard ends it
// through the stream's deadlines (a past one resets the stream, or fails
// the body's read, at once). So a stall ends after one to two periods.
// Only a body read, or a write past what the server buffers, waits: an
// answer's first 4 KiB, unflushed, never does (Go's HTTP/2 server
// buffers a handler's writes in 4 KiB and sends them when the buffer
// fills, at a Flush, or when the handler returns).
//
// The last of an answer (up to 4 KiB) is written by the server after
// the handler returned, when the guard is gone. For it, the stream's own
// write deadline (Go's timer, two stall timeouts from the stream's
// start: streamWriteTimeout) stays: a handler that returns within half a
// timeout leaves the server at least a timeout and a half to write it.
// The first tick, at half a timeout, moves that deadline out of the way
// of a handler that runs longer, and end puts it back a stall timeout
// ahead. Nothing orders that tick before Go's timer but the time between
// them, a timeout and a half: a tick later than that (a machine too busy
// to run it) would find the stream of a handler still waiting reset.
// Those resets are Go's, so the stalls metric does not count them.
type stallGuard struct {
	w     http.ResponseWriter // the server's own, whose deadlines end a stall
	sc    stallConfig
	bound time.Time // the stream's deadline while the handler runs (limits.write-timeout's); zero: none
	// movable: the stream's deadline is the stall timeout's, which the
	// guard moves (not limits.write-timeout's, which bounds the answer).
	movable bool

	mu      sync.Mutex
	timer   *time.Timer
	shifted bool // the first tick has run (the stream's deadline moved)
	ended   bool // the handler returned (end)
	stalled bool // the guard reset the stream: the answer stalled

	moves  atomic.Uint64 // reads and writes begun or ended
	seen   atomic.Uint64 // moves at the last tick
	reads  atomic.Int32  // body reads waiting
	writes atomic.Int32  // writes waiting
}

// stallBufferedAnswer is how much of an answer Go's HTTP/2 server
// buffers before a handler's write waits for the client
// (http2handlerChunkWriteSize).
const stallBufferedAnswer = 4 << 10

// start sets the guard up for the handler of w, on a listener with
// limits.write-timeout writeTimeout (0: none). The first tick runs late
// by late: zero but in tests (Gateway.stallTickLate).
func (g *stallGuard) start(w http.ResponseWriter, sc stallConfig, writeTimeout, late time.Duration) {
	g.w, g.sc = w, sc
	g.movable = writeTimeout == 0 || sc.timeout < writeTimeout
	if writeTimeout > 0 && g.movable {
		g.bound = time.Now().Add(writeTimeout)
	}
	g.mu.Lock() // tick reads the timer
	g.timer = time.AfterFunc(sc.timeout/2+late, g.tick)
	g.mu.Unlock()
}

// begin notes a read or write (counter) that may wait.
func (g *stallGuard) begin(counter *atomic.Int32) {
	counter.Add(1)
	g.moves.Add(1)
}

func (g *stallGuard) done(counter *atomic.Int32) {
	g.moves.Add(1)
	counter.Add(-1)
}

// streamTimerAhead is how far ahead the guard moves a stream's deadline
// while its handler runs, with no limits.write-timeout: never, in
// effect, but a timer all the same (see streamWriteTimeout).
const streamTimerAhead = 100 * 365 * 24 * time.Hour

func (g *stallGuard) tick() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return
	}
	if !g.shifted {
		// Half a timeout in: the stream's deadline gives way to the
		// guard's ticks (and to write-timeout's bound) until end.
		g.shifted = true
		if g.movable {
			d := g.bound
			if d.IsZero() {
				d = time.Now().Add(streamTimerAhead)
			}
			http.NewResponseController(g.w).SetWriteDeadline(d)
		}
		g.seen.Store(g.moves.Load())
		g.timer.Reset(g.sc.timeout)
		return
	}
	m := g.moves.Load()
	if m != g.seen.Swap(m) || (g.reads.Load() == 0 && g.writes.Load() == 0) {
		g.timer.Reset(g.sc.timeout)
		return
	}
	// What waited is read once, before either deadline ends it (the
	// 408 the handler writes once its read fails is not a stalled
	// write), and each stall is counted before its deadline: the client
	// sees the 408, or the reset, after the metric has it.
	reads, writes := g.reads.Load() > 0, g.writes.Load() > 0
	if reads {
		g.sc.counted("h2", "body")
	}
	if writes {
		g.sc.counted("h2", "answer")
		g.stalled = true
	}
	rc := http.NewResponseController(g.w)
	if reads {
		rc.SetReadDeadline(aLongTimeAgo) // the read fails: 408
	}
	if writes {
		rc.SetWriteDeadline(aLongTimeAgo) // the stream is reset
	}
}

// end stops the guard when the handler returns, notes a stall it gave
// up on in the request's exchange x (for the access log) and, if the
// first tick moved the stream's deadline, puts it a stall timeout ahead
// (within write-timeout's bound): the server still has the end of the
// answer (what rec wrote) to write, and its client must take it in that
// time.
func (g *stallGuard) end(rec *recorder, x *exchange) {
	g.mu.Lock()
	g.ended = true
	g.timer.Stop()
	shifted := g.shifted
	if g.stalled && x.reason == "" {
		x.reason = reasonClientStalled
	}
	g.mu.Unlock()
	if !shifted || !g.movable || rec.bytes == 0 {
		// The deadline from the stream's start stands; or nothing is
		// left but the stream's end, a frame flow control does not hold.
		return
	}
	d := time.Now().Add(g.sc.timeout)
	if !g.bound.IsZero() && g.bound.Before(d) {
		d = g.bound
	}
	http.NewResponseController(g.w).SetWriteDeadline(d)
}

// A guardedWriter is an HTTP/2 request's recorder with its stall guard
// around the writes that may wait.
type guardedWriter struct {
	*recorder
	g *stallGuard
}

func (w *guardedWriter) Write(p []byte) (int, error) {
	g := w.g
	if w.recorder.bytes+int64(len(p)) <= stallBufferedAnswer {
		return w.recorder.Write(p)
	}
	g.begin(&g.writes)
	defer g.done(&g.writes)
	return w.recorder.Write(p)
}

func (w *guardedWriter) Flush() {
	w.g.begin(&w.g.writes)
	defer w.g.done(&w.g.writes)
	w.recorder.Flush()
}

// Unwrap lets http.ResponseController reach the server's deadlines.
func (w *guardedWriter) Unwrap() http.ResponseWriter { return w.recorder }

// A stallBody is a request body read under a stallGuard.
type stallBody struct {
	io.ReadCloser
	g *stallGuard
}

func (b *stallBody) Read(p []byte) (int, error) {
	b.g.begin(&b.g.reads)
	n, err := b.ReadCloser.Read(p)
	b.g.done(&b.g.reads)
	return n, asClientReadError(err)
}

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
// The guard has one timer per request, made when the handler first reads
// the body or writes past what the server buffers: an answer's first
// 4 KiB, unflushed, never waits (Go's HTTP/2 server buffers a handler's
// writes in 4 KiB and sends them when the buffer fills, at a Flush, or
// when the handler returns). Each tick looks at whether a read or write
// has begun or ended since the last one; if none has and one is waiting,
// it has waited a whole period: the guard ends it through the stream's
// deadlines (a past one resets the stream, or fails the body's read,
// at once). So a stall ends after one to two periods.
//
// Not covered: the last of an answer, written by the server after the
// handler returned. The upstream connection is free by then; the stream
// waits until the client opens its window or the connection closes.
type stallGuard struct {
	w  http.ResponseWriter // the server's own, whose deadlines end a stall
	sc stallConfig

	mu    sync.Mutex
	timer *time.Timer // nil until a read or write may wait
	ended bool        // the handler returned (end)

	moved   atomic.Uint64 // reads and writes begun or ended
	seen    atomic.Uint64 // moved at the last tick
	reads   atomic.Int32  // body reads waiting
	writes  atomic.Int32  // writes waiting
	written int           // answer bytes written (guardedWriter.Write's)
}

// stallBufferedAnswer is how much of an answer Go's HTTP/2 server
// buffers before a handler's write waits for the client
// (http2handlerChunkWriteSize).
const stallBufferedAnswer = 4 << 10

func (g *stallGuard) start(w http.ResponseWriter, sc stallConfig) {
	g.w, g.sc = w, sc
}

// begin notes a read or write (counter) that may wait, and starts the
// timer if it has not.
func (g *stallGuard) begin(counter *atomic.Int32) {
	counter.Add(1)
	g.moved.Add(1)
	g.mu.Lock()
	if g.timer == nil && !g.ended {
		g.timer = time.AfterFunc(g.sc.timeout, g.tick)
	}
	g.mu.Unlock()
}

func (g *stallGuard) done(counter *atomic.Int32) {
	g.moved.Add(1)
	counter.Add(-1)
}

func (g *stallGuard) tick() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ended {
		return
	}
	m := g.moved.Load()
	if m != g.seen.Swap(m) || (g.reads.Load() == 0 && g.writes.Load() == 0) {
		g.timer.Reset(g.sc.timeout)
		return
	}
	rc := http.NewResponseController(g.w)
	if g.reads.Load() > 0 {
		rc.SetReadDeadline(aLongTimeAgo) // the read fails: 408
		g.sc.counted("h2", "body")
	}
	if g.writes.Load() > 0 {
		rc.SetWriteDeadline(aLongTimeAgo) // the stream is reset
		g.sc.counted("h2", "answer")
	}
}

// end stops the guard when the handler returns.
func (g *stallGuard) end() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ended = true
	if g.timer != nil {
		g.timer.Stop()
	}
}

// A guardedWriter is an HTTP/2 request's recorder with its stall guard
// around the writes that may wait.
type guardedWriter struct {
	*recorder
	g *stallGuard
}

func (w *guardedWriter) Write(p []byte) (int, error) {
	g := w.g
	g.written += len(p)
	if g.written <= stallBufferedAnswer {
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
	return n, asClientTimeout(err)
}

package gateway

import (
	"net"
	"os"
	"sync"
	"time"
)

// A batchConn is the TCP connection below a client's *tls.Conn (see
// tlsListener). It passes everything through until batch is called,
// which the listener does for HTTP/2 connections only. From then on
// Write queues the bytes (TLS records) and returns, and a goroutine
// writes everything queued in one write as soon as the scheduler runs
// it; bytes queued meanwhile go out with them.
//
// Why: net/http's HTTP/2 server makes a handler wait until the HEADERS
// frame of its answer is written, and it flushes whenever nothing else
// is queued, so the HEADERS and the DATA of an answer reach the socket
// in two flushes: two TLS records in two write syscalls. While the
// writer goroutine waits for a core, the handler's DATA (already on its
// way through the server's goroutines) catches up, and both leave in one
// syscall; under load, answers of several streams do (bench/NOTES.md,
// session 9: 2.9 → 1.65 write syscalls per h2 request, counting the
// upstream's one). Nothing waits for more data to come, and there is no
// timer: the queue is written as soon as the goroutine runs.
//
// What changes for the server above it, and why that is sound:
//   - Write accepts bytes as the kernel's socket buffer does. When the
//     writer's write fails, it closes the connection at once (as the
//     HTTP/2 server does after a failed write, and as crypto/tls makes
//     any write error permanent) and the next Write returns the error.
//   - At most maxQueued bytes wait (and as many in the write under way):
//     Write blocks while its bytes would not fit, so a client that reads
//     slowly slows its connection down as before.
//
// Write deadlines (the rules that keep every write bounded by one):
//   - A deadline in the future, or none (the zero time), goes to the
//     connection at once, also while the writer is writing: it bounds
//     the write under way (bytes accepted before it, as if their Write
//     were still blocked), and so a Write waiting for room (the writer
//     fails at the deadline, and the waiting Write with it), and later
//     writes. crypto/tls's Close relies on it: it sets a deadline 5
//     seconds on before it writes close_notify, which may wait for room
//     behind a client that stopped reading.
//   - A deadline in the past (crypto/tls sets one of now after
//     close_notify) is not given to the connection, so the bytes
//     accepted before it still go out, as bytes in the kernel's buffer
//     do, under the deadline they had. Until another deadline is set,
//     Write fails at once with os.ErrDeadlineExceeded, and so do Writes
//     waiting for room, as a blocked write on the connection would.
//   - A deadline in the future that passes fails the writer's write
//     under way (or the next one): that closes the connection, where a
//     plain one would fail only that Write. Both crypto/tls and the
//     HTTP/2 server give up on the connection after any failed write.
//     With http2's WriteByteTimeout, the writer's whole write must be
//     done by the deadline: progress alone does not extend it.
//   - Close lets the queued bytes (a GOAWAY, the last answer,
//     close_notify) go out first, under the deadline already set or one
//     closeDrainTimeout (5 seconds, crypto/tls's bound for its
//     close_notify) on, whichever is earlier; the writer closes the
//     connection once they are out or the write failed. So crypto/tls's
//     Close returns within its 5 seconds whether or not a Write was in
//     flight. After Close, Write and SetWriteDeadline fail with
//     net.ErrClosed (a later deadline cannot extend the drain).
type batchConn struct {
	net.Conn

	// batching is set once, before the connection is handed to the
	// HTTP/2 server, and never changed after.
	batching bool

	// drain bounds how long Close lets queued bytes go out:
	// closeDrainTimeout (tests shorten it).
	drain time.Duration

	mu       sync.Mutex
	cond     sync.Cond // broadcast when the queue empties or the state changes
	queued   []byte    // bytes accepted by Write, not yet written
	writing  bool      // a writer goroutine owns the connection's writes
	closing  bool      // Close was called: no more writes; the writer closes
	err      error     // the first failed write, returned by later ones
	expired  bool      // the write deadline set last was in the past
	deadline time.Time // the write deadline SetWriteDeadline gave the connection last
}

const (
	// maxQueued bounds the bytes a batchConn holds: Write waits while the
	// bytes it is given would not fit beside those queued. It is the
	// size of a large queue buffer, so a queue never grows past it.
	maxQueued = 64 << 10
	// smallQueue is the size of the buffer a queue starts with; the
	// records of small answers fit in it.
	smallQueue = 4 << 10
	// closeDrainTimeout bounds how long Close lets queued bytes go out
	// (crypto/tls's bound for writing its close_notify).
	closeDrainTimeout = 5 * time.Second
)

// Queue buffers of the two sizes, of connections that are not writing,
// so an idle connection keeps none.
var (
	smallQueues = sync.Pool{New: func() any { b := make([]byte, 0, smallQueue); return &b }}
	largeQueues = sync.Pool{New: func() any { b := make([]byte, 0, maxQueued); return &b }}
)

// queueBuf returns an empty queue buffer with room for n bytes (from the
// pools when n is at most maxQueued).
func queueBuf(n int) []byte {
	switch {
	case n <= smallQueue:
		return (*smallQueues.Get().(*[]byte))[:0]
	case n <= maxQueued:
		return (*largeQueues.Get().(*[]byte))[:0]
	}
	return make([]byte, 0, n)
}

// putQueueBuf gives a buffer from queueBuf back to its pool.
func putQueueBuf(b []byte) {
	b = b[:0]
	switch cap(b) {
	case smallQueue:
		smallQueues.Put(&b)
	case maxQueued:
		largeQueues.Put(&b)
	}
}

func newBatchConn(c net.Conn) *batchConn {
	b := &batchConn{Conn: c, drain: closeDrainTimeout}
	b.cond.L = &b.mu
	return b
}

// batch turns queued writes on. It must be called before the connection
// is shared with another goroutine, while it has no write deadline
// (runHandshake clears the one it sets).
func (b *batchConn) batch() { b.batching = true }

func (b *batchConn) Write(p []byte) (int, error) {
	if !b.batching {
		return b.Conn.Write(p)
	}
	b.mu.Lock()
	for b.err == nil && !b.closing && !b.expired && len(b.queued) > 0 && len(b.queued)+len(p) > maxQueued {
		b.cond.Wait()
	}
	switch {
	case b.err != nil:
		err := b.err
		b.mu.Unlock()
		return 0, err
	case b.closing:
		b.mu.Unlock()
		return 0, net.ErrClosed
	case b.expired:
		b.mu.Unlock()
		return 0, os.ErrDeadlineExceeded
	}
	if n := len(b.queued) + len(p); n > cap(b.queued) {
		// Move to a buffer of the next size at once, rather than let
		// append double the queue through sizes no pool holds.
		q := append(queueBuf(n), b.queued...)
		if b.queued != nil {
			putQueueBuf(b.queued)
		}
		b.queued = q
	}
	b.queued = append(b.queued, p...)
	if !b.writing {
		b.writing = true
		go b.writeQueued()
	}
	b.mu.Unlock()
	return len(p), nil
}

// writeQueued writes the queue until it is empty, then closes the
// connection after Close or a failed write.
func (b *batchConn) writeQueued() {
	b.mu.Lock()
	var spare []byte
	for len(b.queued) > 0 && b.err == nil {
		buf := b.queued
		b.queued, spare = spare, nil
		b.mu.Unlock()
		_, err := b.Conn.Write(buf)
		b.mu.Lock()
		spare = buf[:0]
		if err != nil {
			b.err = err
		}
		b.cond.Broadcast() // room in the queue
	}
	// Idle now: the buffers go back to the pool (bytes left after a
	// failed write are dropped).
	for _, buf := range [...][]byte{spare, b.queued} {
		if buf != nil {
			putQueueBuf(buf)
		}
	}
	b.queued = nil
	b.writing = false
	b.cond.Broadcast()
	closeNow := b.err != nil || b.closing
	b.mu.Unlock()
	if closeNow {
		b.Conn.Close()
	}
}

// SetWriteDeadline sets the deadline of the write under way and later
// ones; one in the past only fails later Writes (see batchConn).
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	if !b.batching {
		return b.Conn.SetWriteDeadline(t)
	}
	past := !t.IsZero() && !t.After(time.Now())
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closing:
		return net.ErrClosed
	case past:
		b.expired = true
		b.cond.Broadcast() // Writes waiting for room fail
		return nil
	}
	b.expired = false
	b.deadline = t
	return b.Conn.SetWriteDeadline(t)
}

func (b *batchConn) SetDeadline(t time.Time) error {
	if !b.batching {
		return b.Conn.SetDeadline(t)
	}
	if err := b.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return b.SetWriteDeadline(t)
}

// Close closes the connection, or, while queued bytes are being written,
// has the writer close it once they are out (see batchConn).
func (b *batchConn) Close() error {
	if b.batching {
		b.mu.Lock()
		if b.closing {
			b.mu.Unlock()
			return nil
		}
		b.closing = true
		b.cond.Broadcast()
		if b.err != nil || b.writing {
			// The writer closes the connection (or did, after its
			// failed write): the drain's deadline bounds it.
			if drain := time.Now().Add(b.drain); b.err == nil && (b.deadline.IsZero() || b.deadline.After(drain)) {
				b.Conn.SetWriteDeadline(drain)
			}
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
	}
	return b.Conn.Close()
}

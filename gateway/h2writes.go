package gateway

import (
	"net"
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
//     HTTP/2 server does after a failed write) and the next Write
//     returns the error.
//   - At most maxQueued bytes wait (and as many in the write under way):
//     Write blocks while its bytes would not fit, so a client that reads
//     slowly slows its connection down as before.
//   - A write deadline set while queued bytes are being written applies
//     once they are (as bytes in the kernel's buffer are not recalled
//     by a later deadline). crypto/tls's Close relies on that: it sends
//     close_notify, then sets a deadline of now for later writes.
//   - Close lets the queued bytes (a GOAWAY, the last answer,
//     close_notify) go out first; the writer closes the connection when
//     they are out, within 5 seconds, which is crypto/tls's bound for its
//     close_notify. Writes after Close fail.
type batchConn struct {
	net.Conn

	// batching is set once, before the connection is handed to the
	// HTTP/2 server, and never changed after.
	batching bool

	mu          sync.Mutex
	cond        sync.Cond // broadcast when the queue empties or the state changes
	queued      []byte    // bytes accepted by Write, not yet written
	writing     bool      // a writer goroutine owns the connection's writes
	closing     bool      // Close was called: no more writes; the writer closes
	err         error     // the first failed write, returned by later ones
	deadline    time.Time // write deadline to apply once the queue is written
	deadlineSet bool
}

const (
	// maxQueued bounds the bytes a batchConn holds: Write waits while the
	// bytes it is given would not fit beside those queued. It is the
	// size of a large queue buffer, so a queue never grows past it.
	maxQueued = 64 << 10
	// smallQueue is the size of the buffer a queue starts with; the
	// records of small answers fit in it.
	smallQueue = 4 << 10
	// closeDrainTimeout bounds how long Close lets queued bytes go out.
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
	b := &batchConn{Conn: c}
	b.cond.L = &b.mu
	return b
}

// batch turns queued writes on. It must be called before the connection
// is shared with another goroutine.
func (b *batchConn) batch() { b.batching = true }

func (b *batchConn) Write(p []byte) (int, error) {
	if !b.batching {
		return b.Conn.Write(p)
	}
	b.mu.Lock()
	for b.err == nil && !b.closing && len(b.queued) > 0 && len(b.queued)+len(p) > maxQueued {
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

// writeQueued writes the queue until it is empty, then applies a
// deadline set meanwhile, or closes the connection after Close or a
// failed write.
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
	if b.deadlineSet && b.err == nil && !b.closing {
		b.Conn.SetWriteDeadline(b.deadline)
		b.deadlineSet = false
	}
	b.writing = false
	b.cond.Broadcast()
	closeNow := b.err != nil || b.closing
	b.mu.Unlock()
	if closeNow {
		b.Conn.Close()
	}
}

// SetWriteDeadline sets the deadline of later writes; while queued bytes
// are being written, it applies once they are.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	if !b.batching {
		return b.Conn.SetWriteDeadline(t)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.writing {
		b.deadline, b.deadlineSet = t, true
		return nil
	}
	return b.Conn.SetWriteDeadline(t)
}

func (b *batchConn) SetDeadline(t time.Time) error {
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
		if b.writing {
			b.Conn.SetWriteDeadline(time.Now().Add(closeDrainTimeout))
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
	}
	return b.Conn.Close()
}

package gateway

import (
	"errors"
	"net"
	"sync"
)

// A handoffListener accepts connections from the listener below and
// readies each one in a goroutine of its own (a slow peer delays nobody
// else): the ready func reads what must come first (a PROXY header, a
// TLS handshake) and hands the connection to Accept with handOver, or
// closes it. proxyListener and tlsListener are built on it.
type handoffListener struct {
	net.Listener
	ready chan net.Conn
	errs  chan error
	done  chan struct{}
	once  sync.Once
}

// start makes h a handoffListener on ln and starts accepting; ready
// runs once per connection, in its own goroutine.
func (h *handoffListener) start(ln net.Listener, ready func(raw net.Conn)) {
	h.Listener = ln
	h.ready = make(chan net.Conn)
	h.errs = make(chan error)
	h.done = make(chan struct{})
	go h.loop(ready)
}

func (h *handoffListener) loop(ready func(net.Conn)) {
	for {
		raw, err := h.Listener.Accept()
		if err != nil {
			select {
			case h.errs <- err: // http.Server backs off on temporary errors
			case <-h.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go ready(raw)
	}
}

// handOver queues c for Accept, or closes it once the listener is
// closed.
func (h *handoffListener) handOver(c net.Conn) {
	select {
	case h.ready <- c:
	case <-h.done:
		c.Close()
	}
}

// Accept returns the next connection handed over.
func (h *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.ready:
		return c, nil
	case err := <-h.errs:
		return nil, err
	case <-h.done:
		return nil, net.ErrClosed
	}
}

// stop ends Accept and hand-overs; it may be called more than once.
func (h *handoffListener) stop() { h.once.Do(func() { close(h.done) }) }

// Close stops accepting.
func (h *handoffListener) Close() error {
	h.stop()
	return h.Listener.Close()
}

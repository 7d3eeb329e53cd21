package gateway

import (
	"errors"
	"net"
	"net/http"
	"testing"
)

// errListener's Accept returns its errors in turn, then waits for Close.
type errListener struct {
	net.Listener // nil: only Accept, Close and Addr are called
	errs         chan error
	closed       chan struct{}
}

func (l *errListener) Accept() (net.Conn, error) {
	select {
	case err := <-l.errs:
		return nil, err
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *errListener) Close() error { close(l.closed); return nil }

// temporary is an Accept error http.Server retries (net.Error with
// Temporary, as EMFILE is).
type temporary struct{}

func (temporary) Error() string   { return "too many open files" }
func (temporary) Timeout() bool   { return false }
func (temporary) Temporary() bool { return true }

// TestTLSListenerPassesAcceptErrors: an error of the listener below
// reaches Accept as it was (http.Server backs off and retries temporary
// ones), the listener keeps accepting after it, and after Close Accept
// returns net.ErrClosed.
func TestTLSListenerPassesAcceptErrors(t *testing.T) {
	inner := &errListener{errs: make(chan error, 2), closed: make(chan struct{})}
	inner.errs <- temporary{}
	inner.errs <- temporary{}
	l := newTLSListener(inner, &http.Server{}, nil)
	for i := range 2 {
		if _, err := l.Accept(); !errors.Is(err, temporary{}) {
			t.Fatalf("Accept %d: got %v, want the listener's temporary error", i, err)
		}
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after Close: got %v, want net.ErrClosed", err)
	}
}

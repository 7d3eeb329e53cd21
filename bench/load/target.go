package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Target is the server under test.
type Target struct {
	// Addr is the TCP address to dial, such as "127.0.0.1:8443".
	Addr string
	// TLS is the client configuration: the client certificate, the roots
	// that verify the server and its ServerName. Handshakes sets its own
	// session cache on a clone; the other modes use it as it is.
	TLS *tls.Config
	// Path is the request path; if empty, "/".
	Path string
	// Host is the Host header; if empty, TLS.ServerName.
	Host string
}

// request returns the bytes of one GET request to t.
func (t Target) request() []byte {
	path, host := t.Path, t.Host
	if path == "" {
		path = "/"
	}
	if host == "" && t.TLS != nil {
		host = t.TLS.ServerName
	}
	return fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: forgeproof-bench\r\n\r\n", path, host)
}

// conn is one client connection: TLS over TCP, a reader for responses.
type conn struct {
	tls *tls.Conn
	br  *bufio.Reader
}

// dial opens a TCP connection to t and completes the TLS handshake with cfg.
func dial(ctx context.Context, t Target, cfg *tls.Config) (*conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, err
	}
	// Close with a reset rather than a FIN: a run that opens thousands of
	// connections a second would otherwise fill the ephemeral port range
	// with TIME_WAIT sockets. Every response is read in full before a
	// close, so no data is lost.
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	// No read or write may outlive the run by more than a grace period,
	// even against a server that stops answering.
	if deadline, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(deadline.Add(ioGrace))
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	return &conn{tls: tc, br: bufio.NewReaderSize(tc, 4096)}, nil
}

// ioGrace is how long an exchange may run past the end of its run.
const ioGrace = 2 * time.Second

// errStatus reports a response other than 200 OK.
type errStatus int

func (e errStatus) Error() string { return fmt.Sprintf("status %d, want 200", int(e)) }

// roundTrip sends req and reads the whole response. keep reports whether
// the server allows another request on this connection.
func (c *conn) roundTrip(req []byte) (keep bool, err error) {
	if _, err := c.tls.Write(req); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return !resp.Close, errStatus(resp.StatusCode)
	}
	return !resp.Close, nil
}

func (c *conn) close() { c.tls.NetConn().Close() }

// errNoTarget reports a Target without an address or TLS configuration.
var errNoTarget = errors.New("load: target needs Addr and TLS")

func (t Target) check() error {
	if t.Addr == "" || t.TLS == nil {
		return errNoTarget
	}
	return nil
}

// sleepUntil waits for deadline or ctx, whichever comes first.
func sleepUntil(ctx context.Context, deadline time.Time) {
	d := time.Until(deadline)
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

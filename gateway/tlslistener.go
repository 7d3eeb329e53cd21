package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
)

// A tlsListener is tls.NewListener for an http.Server, with the TLS
// handshake moved from the server to the listener, so that an HTTP/1.x
// connection can be handed to the server as a framingConn: its bytes then
// pass a framingScanner, which tells the handler when a chunked request
// also carried Content-Length (net/http hides it; see framingScanner).
//
// net/http serves HTTP/2 only on a *tls.Conn, so a wrapper must not reach
// the server before ALPN has chosen: the listener completes each
// handshake in a goroutine of its own (a slow client delays nobody else),
// then Accept returns HTTP/2 connections as the *tls.Conn (the server
// finds the handshake done). Every other one becomes a framingConn, which
// implements ConnectionState (so the server sets Request.TLS) and
// CloseWrite like *tls.Conn, and is served right there by the gateway's
// h1Server when the listener has one, else returned by Accept to the
// http.Server. What http.Server does for a handshake it
// runs, the listener does the same way: the time limit is the smallest
// positive of ReadHeaderTimeout, ReadTimeout and the write timeout (the
// h1Server's, when the listener has one: the server's WriteTimeout is
// HTTP/2's stream deadline, streamWriteTimeout); a failure
// mtls did not refuse is reported with its reason (mtls.HandshakeReason)
// to the h1Server's handshakeFailed, which the gateway sets (without one,
// it is logged to the server's ErrorLog as "http: TLS handshake error
// from ADDR: ERR"; errorlog.go filters the ones mtls has logged); a
// client that spoke plain HTTP gets net/http's 400. Below each *tls.Conn is a
// batchConn, which batches the writes of HTTP/2 connections (h2writes.go).
type tlsListener struct {
	handoffListener
	srv *http.Server
	// h1, when set, serves the HTTP/1.x connections in their handshake's
	// goroutine; srv gets only HTTP/2 ones.
	h1 *h1Server

	mu      sync.Mutex
	closed  bool
	pending map[net.Conn]struct{} // handshaking; closed by Close
}

func newTLSListener(ln net.Listener, srv *http.Server, h1 *h1Server) *tlsListener {
	l := &tlsListener{srv: srv, h1: h1, pending: make(map[net.Conn]struct{})}
	l.start(ln, l.handshake)
	return l
}

// handshake runs raw's TLS handshake and queues the connection for
// Accept, or reports the failure (the h1Server's handshakeFailed, when
// set; else the server's ErrorLog) and closes it.
func (l *tlsListener) handshake(raw net.Conn) {
	var stall stallConfig // limits.stall-timeout, for the writes (clientConn)
	if l.h1 != nil {
		stall = l.h1.stall
	}
	raw = clientConn(raw, stall.timeout)
	bc := newBatchConn(raw)
	tc := tls.Server(bc, l.srv.TLSConfig)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		raw.Close()
		return
	}
	l.pending[raw] = struct{}{}
	l.mu.Unlock()

	writeTimeout := l.srv.WriteTimeout
	if l.h1 != nil {
		writeTimeout = l.h1.writeTimeout // srv's is HTTP/2's stream deadline
	}
	err := runHandshake(l.srv, writeTimeout, tc)
	l.mu.Lock()
	delete(l.pending, raw)
	closed := l.closed
	l.mu.Unlock()
	if err != nil {
		if !closed {
			var report handshakeReporter
			if l.h1 != nil {
				report = l.h1.handshakeFailed
			}
			logHandshakeFailure(l.srv, tc, err, report)
		}
		tc.Close()
		return
	}
	var c net.Conn = tc
	proto := tc.ConnectionState().NegotiatedProtocol
	var fc *framingConn
	if proto == "" || proto == "http/1.1" || proto == "http/1.0" { // the ones http.Server serves as HTTP/1.x
		fc = &framingConn{Conn: tc}
		c = fc
	}
	if r, ok := raw.(stallReporter); ok {
		label := "http/1.1"
		if fc == nil {
			label = "h2"
		}
		r.onStall(func() {
			if fc != nil {
				fc.answerStalled.Store(true) // for the access log (answerStalled)
			}
			stall.counted(label, "answer")
		})
	}
	switch {
	case fc != nil:
		if l.h1 != nil && !l.h1.checks.off(checkOwnServer) {
			if closed {
				c.Close() // as handOver does once the listener is closed
				return
			}
			l.h1.ServeConn(c)
			return
		}
	case proto == "h2":
		bc.batch() // see batchConn
	}
	l.handOver(c) // closing c closes tc
}

// runHandshake runs tc's handshake under srv's time limit for it, with
// writeTimeout as its WriteTimeout.
func runHandshake(srv *http.Server, writeTimeout time.Duration, tc *tls.Conn) error {
	timeout := handshakeTimeout(srv, writeTimeout)
	if timeout > 0 {
		dl := time.Now().Add(timeout)
		tc.SetReadDeadline(dl)
		tc.SetWriteDeadline(dl)
	}
	if err := tc.Handshake(); err != nil {
		return err
	}
	if timeout > 0 {
		tc.SetReadDeadline(time.Time{})
		tc.SetWriteDeadline(time.Time{})
	}
	return nil
}

// A handshakeReporter is told about each failed handshake of a listener
// that mtls did not refuse (OnHandshakeFailure reports those), with its
// reason (mtls.HandshakeReason).
type handshakeReporter func(tc *tls.Conn, reason mtls.Reason, err error)

// errHTTPToHTTPS is the error reported for a client that spoke plain HTTP
// (and got net/http's 400).
var errHTTPToHTTPS = errors.New("client sent an HTTP request to an HTTPS server")

// logHandshakeFailure is http.Server's handling of a failed handshake,
// with the failure reported to report, when set, rather than logged to the
// server's ErrorLog, for a handshake that mtls did not refuse.
func logHandshakeFailure(srv *http.Server, tc *tls.Conn, err error, report handshakeReporter) {
	reason := err.Error()
	var re tls.RecordHeaderError
	plainHTTP := errors.As(err, &re) && re.Conn != nil && recordLooksLikeHTTP(re.RecordHeader)
	if plainHTTP {
		io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		re.Conn.Close()
		reason = errHTTPToHTTPS.Error()
	}
	var refused *mtls.Error
	if report != nil && !errors.As(err, &refused) {
		r := mtls.HandshakeReason(err)
		if plainHTTP {
			err = errHTTPToHTTPS
		}
		report(tc, r, err)
		return
	}
	serverLogf(srv, "http: TLS handshake error from %s: %v", tc.RemoteAddr(), reason)
}

// recordLooksLikeHTTP is net/http's tlsRecordHeaderLooksLikeHTTP.
func recordLooksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// handshakeTimeout is http.Server's limit for a TLS handshake: the
// smallest positive of its ReadHeaderTimeout, ReadTimeout and
// WriteTimeout (writeTimeout), or zero for none.
func handshakeTimeout(srv *http.Server, writeTimeout time.Duration) time.Duration {
	var d time.Duration
	for _, v := range [...]time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, writeTimeout} {
		if v > 0 && (d == 0 || v < d) {
			d = v
		}
	}
	return d
}

// Close stops accepting and closes the connections still in their
// handshake.
func (l *tlsListener) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		l.stop()
		for raw := range l.pending {
			raw.Close() // the handshake fails, and closes the rest
		}
	}
	l.mu.Unlock()
	return l.Listener.Close()
}

// A framingConn is a client's HTTP/1.x connection after its TLS
// handshake (see tlsListener): a *tls.Conn whose Read feeds a
// framingScanner. ChunkedWithContentLength reports what the scanner found.
type framingConn struct {
	*tls.Conn
	scan framingScanner
	// answerStalled: a write to the client was ended by the stall
	// timeout (clientConn), which ends the connection: its last request's
	// answer stalled.
	answerStalled atomic.Bool
}

func (c *framingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.scan.state != scanStopped {
		c.scan.Scan(p[:n])
	}
	return n, err
}

// ChunkedWithContentLength reports, for the handler of an HTTP/1.1
// request with Transfer-Encoding chunked, whether the request's head also
// carried Content-Length. It is meaningful for the connection's first
// chunked request (the gateway closes the connection after it); a
// misaligned scanner answers safely either way (see framingScanner).
func (c *framingConn) ChunkedWithContentLength() bool {
	return c.scan.Verdict() == verdictCLTE
}

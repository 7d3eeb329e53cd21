package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// KeepAliveH2 is KeepAlive over HTTP/2: opts.Conns workers, each sending
// its next request as soon as the previous answer is in, as streams of
// long-lived HTTP/2 connections, streamsPerConn workers to a connection
// (as browsers multiplex a page's requests). Requests are sent by the
// standard library's HTTP/2 client (net/http), with t.TLS for the
// handshake; a server that does not negotiate h2 is an error. A
// connection the server closes is reopened.
func KeepAliveH2(ctx context.Context, t Target, opts Options, streamsPerConn int) (Result, error) {
	if streamsPerConn < 1 {
		return Result{}, fmt.Errorf("load: streams per connection must be at least 1, got %d", streamsPerConn)
	}
	if err := t.check(); err != nil {
		return Result{}, err
	}
	tr, url, err := h2Transport(t)
	if err != nil {
		return Result{}, err
	}
	// Open the connections before the clock starts; a server without h2
	// fails here, not as a run full of errors.
	opts = opts.withDefaults()
	conns := make([]*h2Conn, (opts.Conns+streamsPerConn-1)/streamsPerConn)
	for i := range conns {
		conns[i] = &h2Conn{tr: tr, addr: t.Addr}
		if _, err := conns[i].get(ctx); err != nil {
			for _, c := range conns[:i+1] {
				c.close()
			}
			return Result{}, err
		}
	}
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	next := 0
	var mu sync.Mutex
	return closedLoop(ctx, t, opts, "h2-keepalive", func(ctx context.Context, _ []byte, from, to time.Time) (ok, errs, _ int64, first error) {
		mu.Lock()
		c := conns[next/streamsPerConn]
		next++
		mu.Unlock()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, 1, 0, err
		}
		req.Header.Set("User-Agent", "forgeproof-bench")
		for ctx.Err() == nil {
			cc, err := c.get(ctx)
			if err == nil {
				err = roundTripH2(cc, req)
			}
			if ctx.Err() != nil {
				break // the window closed under a request in flight
			}
			if errors.Is(err, errNotSent) {
				// The server ended the connection gracefully (GOAWAY after
				// nginx's http2_max_requests, say) before this request was
				// sent: reconnect, as a browser would, and send it again.
				c.retire(cc)
				continue
			}
			if inWindow(from, to) {
				if err != nil {
					errs++
					first = firstOf(first, err)
				} else {
					ok++
				}
			}
			if err != nil {
				c.drop(cc)
				sleepUntil(ctx, time.Now().Add(10*time.Millisecond))
			}
		}
		return ok, errs, 0, first
	})
}

// h2Transport returns the transport that opens t's HTTP/2 connections
// and the URL of t's request.
func h2Transport(t Target) (*http.Transport, string, error) {
	if t.TLS == nil {
		return nil, "", errors.New("load: HTTP/2 needs Target.TLS")
	}
	path, host := t.Path, t.Host
	if path == "" {
		path = "/"
	}
	if host == "" {
		host = t.TLS.ServerName
	}
	var p http.Protocols
	p.SetHTTP2(true)
	tr := &http.Transport{TLSClientConfig: t.TLS.Clone(), Protocols: &p}
	return tr, "https://" + host + path, nil
}

// errNotSent: the connection could take no more requests (it got a
// GOAWAY); the request was not processed.
var errNotSent = errors.New("load: the server ended the HTTP/2 connection before the request")

// roundTripH2 sends req on cc and reads the answer, which must be 200.
func roundTripH2(cc *http.ClientConn, req *http.Request) error {
	resp, err := cc.RoundTrip(req)
	if err != nil {
		// net/http's HTTP/2 client names these only in its messages:
		// "client conn not usable", "received Server's graceful shutdown
		// GOAWAY" (the server did not process the request).
		if msg := err.Error(); strings.Contains(msg, "client conn not usable") || strings.Contains(msg, "graceful shutdown GOAWAY") {
			return errNotSent
		}
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// h2Conn is one HTTP/2 connection shared by several workers, opened
// again when it fails.
type h2Conn struct {
	tr      *http.Transport
	addr    string
	mu      sync.Mutex
	cc      *http.ClientConn
	retired []*http.ClientConn // closed by close: their streams may still run
}

func (c *h2Conn) get(ctx context.Context) (*http.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cc != nil && c.cc.Err() == nil {
		return c.cc, nil
	}
	if c.cc != nil {
		c.cc.Close()
		c.cc = nil
	}
	cc, err := c.tr.NewClientConn(ctx, "https", c.addr)
	if err != nil {
		return nil, err
	}
	c.cc = cc
	return cc, nil
}

// drop closes cc if it is still the connection in use, so that the next
// get opens a new one.
func (c *h2Conn) drop(cc *http.ClientConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cc == cc && cc != nil {
		cc.Close()
		c.cc = nil
	}
}

// retire stops using cc for new requests, if it is still the connection
// in use, without cutting off the requests in flight on it.
func (c *h2Conn) retire(cc *http.ClientConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cc == cc && cc != nil {
		c.retired = append(c.retired, cc)
		c.cc = nil
	}
}

func (c *h2Conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cc := range c.retired {
		cc.Close()
	}
	c.retired = nil
	if c.cc != nil {
		c.cc.Close()
		c.cc = nil
	}
}

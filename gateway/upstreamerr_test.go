package gateway_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// upstreamFailureLine sends GET /api/x through a gateway whose api route
// goes to upstream (trusting the test CA) and returns the status and the
// error of its "upstream error" log line ("" for none).
func upstreamFailureLine(t *testing.T, w *world, upstream string) (int, string) {
	t.Helper()
	cfg := w.config()
	cfg.Routes[0].Upstream = upstream
	if strings.HasPrefix(upstream, "https:") {
		cfg.Routes[0].UpstreamCAFile = w.path("ca.pem")
	}
	logs := &logBuffer{}
	gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	status, _ := do(t, gw.client(w.web), "GET", gw.base+"/api/x", nil, "")
	for _, l := range logs.lines(t) {
		if l["msg"] == "upstream error" {
			if l["route"] != "api" || l["upstream"] != upstream {
				t.Errorf("log line %v: want route api, upstream %s", l, upstream)
			}
			s, _ := l["error"].(string)
			return status, s
		}
	}
	return status, ""
}

// tlsListener accepts TLS connections with the test upstream certificate
// (127.0.0.1) and hands each, its handshake done, to serve.
func tlsListener(t *testing.T, w *world, serve func(net.Conn)) string {
	cfg := &tls.Config{Certificates: []tls.Certificate{w.upstreamCert().TLSCertificate()}, NextProtos: []string{"http/1.1"}}
	return "https://" + listen(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			c.Close()
			return
		}
		serve(tc)
	})
}

// listen serves each connection accepted on loopback with serve.
func listen(t *testing.T, serve func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// TestUpstreamTLSHandshakeResetLogged: an https upstream that resets the
// connection during the TLS handshake (after the ClientHello) is a 502
// whose log line says it was the TLS handshake with that upstream
// (host:port), not only "read tcp ...: connection reset by peer". The
// twin: the same handshake completed, an answer, no error line.
func TestUpstreamTLSHandshakeResetLogged(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	addr := listen(t, func(c net.Conn) {
		c.Read(make([]byte, 512)) // the ClientHello
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	status, line := upstreamFailureLine(t, w, "https://"+addr)
	if want := "TLS handshake with upstream " + addr + " failed: "; status != 502 || !strings.HasPrefix(line, want) || !strings.Contains(line, "reset") {
		t.Errorf("got %d, log error %q; want 502 and %q... (reset)", status, line, want)
	}

	ok := tlsListener(t, w, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
		c.Close()
	})
	if status, line := upstreamFailureLine(t, w, ok); status != 200 || line != "" {
		t.Errorf("twin: got %d, log error %q; want 200 and no error line", status, line)
	}
}

// TestUpstreamClosesBeforeAnswerLogged: an upstream that closes the
// connection after the request, without an answer, is a 502 whose log
// line says so and names the upstream, not only "EOF" (https, net/http's
// Transport) or "unexpected EOF" (http, the gateway's own connections);
// the TLS handshake is not blamed. The twin answers.
func TestUpstreamClosesBeforeAnswerLogged(t *testing.T) {
	t.Parallel()
	closes := func(c net.Conn) { http.ReadRequest(bufio.NewReader(c)); c.Close() }
	answers := func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
		c.Close()
	}
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			serve := func(f func(net.Conn)) (string, string) {
				if scheme == "https" {
					u := tlsListener(t, w, f)
					return u, strings.TrimPrefix(u, "https://")
				}
				a := listen(t, f)
				return "http://" + a, a
			}
			u, addr := serve(closes)
			status, line := upstreamFailureLine(t, w, u)
			if want := "upstream " + addr + " closed the connection before its answer's header was complete"; status != 502 || !strings.HasPrefix(line, want) {
				t.Errorf("got %d, log error %q; want 502 and %q", status, line, want)
			}
			u, _ = serve(answers)
			if status, line := upstreamFailureLine(t, w, u); status != 200 || line != "" {
				t.Errorf("twin: got %d, log error %q; want 200 and no error line", status, line)
			}
		})
	}
}

// TestUpstreamBodyCutShortLogged: an upstream whose answer's body ends
// before its Content-Length, after the header went to the client, is
// logged by the reverse proxy with the route and the upstream, as the
// other upstream error lines are. The twin sends the whole body: no line.
func TestUpstreamBodyCutShortLogged(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	answer := func(head string) func(net.Conn) {
		return func(c net.Conn) {
			http.ReadRequest(bufio.NewReader(c))
			c.Write([]byte(head + "ok"))
			c.Close()
		}
	}
	for _, tt := range []struct {
		name string
		head string
		cut  bool
	}{
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true},
		{"whole", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", false},
	} {
		upstream := "http://" + listen(t, answer(tt.head))
		cfg := w.config()
		cfg.Routes[0].Upstream = upstream
		logs := &logBuffer{}
		gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		resp, err := gw.client(w.web).Get(gw.base + "/api/x")
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		io.Copy(io.Discard, resp.Body) // an error when cut short
		resp.Body.Close()
		gw.close() // waits for the handler, and so for its log line
		var line map[string]any
		for _, l := range logs.lines(t) {
			if msg, _ := l["msg"].(string); strings.Contains(msg, "body copy") {
				line = l
			}
		}
		if (line != nil) != tt.cut {
			t.Errorf("%s: body copy line %v, want one: %v", tt.name, line, tt.cut)
		} else if line != nil && (line["route"] != "api" || line["upstream"] != upstream) {
			t.Errorf("%s: log line %v: want route api, upstream %s", tt.name, line, upstream)
		}
	}
}

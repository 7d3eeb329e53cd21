package gateway_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki/pkitest"
	"golang.org/x/net/http2"
)

// TestBodyInvalid: a request body the client's framing or connection
// cuts short is the client's fault, not the upstream's: 400 body-invalid
// (the HTTP/1.1 connection then closes, since where the body ends is
// unknown), where it used to be 502 upstream-unavailable, logged as an
// upstream failure. Over HTTP/1.1: a malformed chunk size, and a
// Content-Length body whose client ends its side (TLS close_notify)
// early; over HTTP/2: a stream that ends before its declared
// content-length. The allowed twins, whole bodies, reach the upstream.
func TestBodyInvalid(t *testing.T) {
	t.Parallel()
	w, up, gw := startStall(t, stallOff)
	const head = "POST /s/post HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
	for _, tt := range []struct {
		name, req string
		halfClose bool
		status    int
		want      string // body-invalid, or the upstream's answer
	}{
		{"malformed chunk size", head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n", false, 400, "body-invalid"},
		{"whole chunked body (twin)", head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false, 200, "got 5"},
		{"client ends mid-body", head + "Content-Length: 100\r\n\r\n0123456789", true, 400, "body-invalid"},
		{"whole body, then the client ends (twin)", head + "Content-Length: 10\r\n\r\n0123456789", true, 200, "got 10"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dialH1(t, gw)
			defer c.Close()
			io.WriteString(c, tt.req)
			if tt.halfClose {
				c.CloseWrite()
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.want) {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, body, tt.status, tt.want)
			}
			if tt.status == 400 && !resp.Close {
				t.Errorf("the 400 keeps the connection open; the rest of the body would be read as a request")
			}
			if p, ok := up.waitPost(10 * time.Second); !ok || (p.err == nil) != (tt.status == 200) {
				t.Errorf("the upstream's read of the body: %+v (ended: %v)", p, ok)
			}
		})
	}
	t.Run("HTTP/2 stream shorter than its content-length", func(t *testing.T) {
		h := dialH2Raw(t, gw, "localhost", w.web)
		defer h.conn.Close()
		// In order: stream IDs must rise. Stream 3 is the twin.
		for _, st := range []struct {
			id uint32
			n  string
		}{{1, "100"}, {3, "10"}} {
			id, n := st.id, st.n
			blk := h.block(":method", "POST", ":scheme", "https", ":authority", "localhost", ":path", "/s/post", "accept", "application/json", "content-length", n)
			h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true})
			h.fr.WriteData(id, true, []byte("0123456789"))
			a, err := h.answer(id)
			switch {
			case err != nil:
				t.Errorf("stream %d: %v", id, err)
			case n == "100" && (a.status != 400 || a.reason != "body-invalid"):
				t.Errorf("short stream: got %+v, want 400 body-invalid", a)
			case n == "10" && (a.status != 200 || a.body != "got 10"):
				t.Errorf("whole stream: got %+v, want 200 got 10", a)
			}
			up.waitPost(10 * time.Second)
		}
	})
}

// TestBodyInvalidHTTPSUpstream: the same over an https:// upstream, which
// net/http's Transport serves (it hands the body's read error back as
// it came): 400 body-invalid for a malformed chunk, the whole body
// forwarded in the twin.
func TestBodyInvalidHTTPSUpstream(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	u := newRawUpstreamTLS(t, w, respondOK)
	cfg := w.config()
	for i := range cfg.Routes {
		cfg.Routes[i].Upstream = u.URL
		cfg.Routes[i].UpstreamCAFile = w.path("ca.pem")
	}
	gw := w.start(cfg)
	const head = "POST /public/x HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
	wantBodyAnswers(t, gw, w, "", head, []bodyCase{
		{"5\r\nhello\r\nzz\r\n", 400, "body-invalid"},
		{"5\r\nhello\r\n0\r\n\r\n", 200, "ok"},
	})
}

// TestBodyInvalidEmbedded: Gateway.Handler mounted on a server of one's
// own (net/http's, HTTP/1.1 and HTTP/2) hands the handler net/http's
// request body, whose read errors ("invalid byte in chunk length", an
// unexpected EOF) are the client's as much as on the gateway's
// listeners: 400 body-invalid, not 502 upstream-unavailable logged as an
// upstream failure. The twin, a whole chunked body, is forwarded.
func TestBodyInvalidEmbedded(t *testing.T) {
	t.Parallel()
	w, gw, _ := rawWorld(t, respondOK)
	embedded, srv := startEmbedded(t, w, gw.g.Handler())
	defer srv.Close()
	const head = "POST /public/x HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
	wantBodyAnswers(t, embedded, w, "embedded, ", head, []bodyCase{
		{"5\r\nhello\r\nzz\r\n", 400, "body-invalid"},
		{"5\r\nhello\r\n0\r\n\r\n", 200, "ok"}, // twin
	})
}

// TestBodyInvalidTokenForm: on a token-mode route the CSRF guard reads a
// form body for its csrf_token field before anything is forwarded. A
// body the client's framing cuts short fails there, and was answered 403
// token-missing, whose detail tells the operator to fix the app's forms:
// it is the client's framing, 400 body-invalid as when the upstream
// exchange reads it. The twin, a whole form without a token, is still
// 403 token-missing.
func TestBodyInvalidTokenForm(t *testing.T) {
	t.Parallel()
	w, gw := tokenWorld(t)
	const head = "POST /forms/x HTTP/1.1\r\nHost: localhost\r\nOrigin: https://localhost\r\nAccept: application/json\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
	wantBodyAnswers(t, gw, w, "", head, []bodyCase{
		{"5\r\nhello\r\nzz\r\n", 400, "body-invalid"},
		{"5\r\na=b&c\r\n0\r\n\r\n", 403, "token-missing"}, // twin
	})
}

// A bodyCase is a request body sent after a head, and the answer wanted:
// its status, and a string its body holds.
type bodyCase struct {
	body   string
	status int
	want   string
}

// wantBodyAnswers sends head and each case's body on a connection of its
// own to gw, with w's web client certificate, and checks the answers;
// what names the server in errors.
func wantBodyAnswers(t *testing.T, gw *running, w *world, what, head string, cases []bodyCase) {
	t.Helper()
	for _, tt := range cases {
		c := gw.dialRaw(t, w.web)
		c.send(head + tt.body)
		if resp, body := c.read(); resp.StatusCode != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%sbody %q: got %d %s, want %d %s", what, tt.body, resp.StatusCode, body, tt.status, tt.want)
		}
		c.Close()
	}
}

// startEmbedded serves h (a Gateway.Handler) on a TLS server of one's
// own that asks for w's client certificates, as a user mounting the
// handler would; close the server when done.
func startEmbedded(t *testing.T, w *world, h http.Handler) (*running, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pkitest.ServerWith(t, w.ca, serverOptions()).TLSCertificate()},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    w.ca.Pool(),
	}
	srv.StartTLS()
	return &running{w: w, base: srv.URL}, srv
}

package gateway_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// Answers of a broken or hostile HTTP/1.1 upstream that earlier tests
// (upstreamframing_test.go, upstream_chaos_test.go, trailerframing_test.go)
// do not cover.

// TestUpstreamStatusBelow100: http.ReadResponse takes any three digits as
// a status code, but none below 100 is a status (RFC 9110, section 15).
// The gateway's own path read one as informational and ReverseProxy (the
// https path) relayed it as final: either way the server's WriteHeader
// panicked, and the client's connection was cut with no answer (HTTP/2:
// the stream reset), logged as an allowed request of status 99 with a
// stack trace. A "050" whose body is an answer must not make that
// answer the client's either. Each is a 502 upstream-unavailable now,
// over both upstream paths and to HTTP/1.1 and HTTP/2 clients, and the
// client's connection serves its next request. The allowed twins: a 100
// then a 200, and a 200 alone (the negative control: the rig relays the
// upstream's answers); 600 and 999, relayed as security-model.md says.
func TestUpstreamStatusBelow100(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, answer string
		wantStatus   int
		wantBody     string // contained in the body
	}{
		{"099", "HTTP/1.1 099 Weird\r\nContent-Length: 5\r\n\r\nhello", 502, "upstream-unavailable"},
		{"000", "HTTP/1.1 000 Weird\r\n\r\n", 502, "upstream-unavailable"},
		{"050 whose body is an answer", "HTTP/1.1 050 X\r\nContent-Length: 38\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 502, "upstream-unavailable"},
		{"100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, "ok"},
		{"200", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, "ok"},
		{"099 after a 200", "HTTP/1.1 099 Weird\r\nContent-Length: 5\r\n\r\nhello", 502, "upstream-unavailable"},
		{"600", "HTTP/1.1 600 X\r\nContent-Length: 2\r\n\r\nok", 600, "ok"},
		{"999", "HTTP/1.1 999 X\r\nContent-Length: 2\r\n\r\nok", 999, "ok"},
	}
	answers := map[string]string{}
	for i, tc := range cases {
		answers["/public/"+strconv.Itoa(i)] = tc.answer
	}
	respond := func(r *http.Request) string { return answers[r.URL.Path] }
	for _, upTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[upTLS], func(t *testing.T) {
			t.Parallel()
			w, cfg := h2World(t)
			routeToRawUpstream(t, w, cfg, upTLS, respond)
			logBuf := &logBuffer{}
			gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logBuf, nil))})

			h1 := gw.dialRaw(t, w.web) // one connection for every case
			h2 := h2Conn(t, gw, "localhost", w.web)
			for i, tc := range cases {
				path := "/public/" + strconv.Itoa(i)
				h1.send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n")
				resp, body, err := h1.next()
				for err == nil && resp.StatusCode/100 == 1 { // the relayed 100
					resp, body, err = h1.next()
				}
				if err != nil {
					t.Fatalf("%s, HTTP/1.1: no answer: %v", tc.name, err)
				}
				if resp.StatusCode != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
					t.Errorf("%s, HTTP/1.1: got %d %q, want %d with %q", tc.name, resp.StatusCode, body, tc.wantStatus, tc.wantBody)
				}

				req, _ := http.NewRequest("GET", "https://localhost"+path, nil)
				resp, err = h2.RoundTrip(req)
				if err != nil {
					t.Fatalf("%s, HTTP/2: no answer: %v", tc.name, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != tc.wantStatus || !strings.Contains(string(b), tc.wantBody) {
					t.Errorf("%s, HTTP/2: got %d %q (%v), want %d with %q", tc.name, resp.StatusCode, b, err, tc.wantStatus, tc.wantBody)
				}
			}
			gw.close()
			if strings.Contains(logBuf.String(), "panic") {
				t.Errorf("the gateway logged a panic:\n%s", logBuf.String())
			}
		})
	}
}

// TestUpstreamTrailerForbiddenFields: an upstream's chunked answer may end
// with trailer fields it did not declare, which ReverseProxy and the
// direct path relay (as http.TrailerPrefix fields). Those no trailer may
// carry (RFC 9110, section 6.5.1: Content-Length, Cache-Control, Host,
// Authorization...) went out to HTTP/1.1 clients, where a client or cache
// that merges trailers would read them as the answer's; Go's HTTP/2
// server dropped them already. The allowed twin: an ordinary field
// (X-T) reaches clients of both protocols, over both upstream paths.
func TestUpstreamTrailerForbiddenFields(t *testing.T) {
	t.Parallel()
	answer := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" +
		"Content-Length: 9\r\nCache-Control: public, max-age=86400\r\nHost: evil.example\r\nAuthorization: Basic eDp5\r\nX-T: 1\r\n\r\n"
	respond := func(*http.Request) string { return answer }
	want := http.Header{"X-T": {"1"}}
	for _, upTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[upTLS], func(t *testing.T) {
			t.Parallel()
			w, cfg := h2World(t)
			routeToRawUpstream(t, w, cfg, upTLS, respond)
			gw := w.start(cfg)

			c := gw.dialRaw(t, w.web)
			c.send("GET /public/x HTTP/1.1\r\nHost: localhost\r\nTE: trailers\r\n\r\n")
			resp, body := c.read()
			if resp.StatusCode != 200 || body != "hello" || !reflect.DeepEqual(resp.Trailer, want) {
				t.Errorf("HTTP/1.1: got %d %q trailer %v, want 200 \"hello\" trailer %v", resp.StatusCode, body, resp.Trailer, want)
			}

			req, _ := http.NewRequest("GET", "https://localhost/public/x", nil)
			resp, err := h2Conn(t, gw, "localhost", w.web).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(b) != "hello" || !reflect.DeepEqual(resp.Trailer, want) {
				t.Errorf("HTTP/2: got %d %q (%v) trailer %v, want 200 \"hello\" trailer %v", resp.StatusCode, b, err, resp.Trailer, want)
			}
		})
	}
}

// TestUpstreamMalformedAnswers pins how the gateway reads answers that
// parsers disagree on (response splitting if it read one as the client
// or a cache would read another): each is refused with a 502
// upstream-unavailable, or read one way that the gateway then frames
// afresh, over both upstream paths and to HTTP/1.1 and HTTP/2 clients,
// whose connections serve the next case. Each refusal has an allowed
// twin that differs only in the fault.
func TestUpstreamMalformedAnswers(t *testing.T) {
	t.Parallel()
	const bad = "upstream-unavailable"
	cases := []struct {
		name, answer, want string // want: the body, or bad for a 502
	}{
		{"two Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello", bad},
		{"two equal Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", "hello"},
		{"Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 5,5\r\n\r\nhello", bad},
		{"Content-Length sign", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello", bad},
		{"NUL in a value", "HTTP/1.1 200 OK\r\nX-A: b\x00c\r\nContent-Length: 5\r\n\r\nhello", bad},
		{"CTL in a value", "HTTP/1.1 200 OK\r\nX-A: b\x01c\r\nContent-Length: 5\r\n\r\nhello", bad},
		{"bare CR", "HTTP/1.1 200 OK\r\nX-A: b\rContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello", bad},
		{"bare LF", "HTTP/1.1 200 OK\nX-A: b\nContent-Length: 5\n\nhello", "hello"},
		{"NUL in a name", "HTTP/1.1 200 OK\r\nX\x00A: b\r\nContent-Length: 5\r\n\r\nhello", bad},
		{"obs-fold (RFC 9112 §5.2: replaced by SP)", "HTTP/1.1 200 OK\r\nX-A: b\r\n Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello", "hello"},
		{"coding before chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", bad},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\n\r\n", "hello"},
		{"chunked then identity", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\nhello", bad},
		{"status of four digits", "HTTP/1.1 2000 OK\r\nContent-Length: 5\r\n\r\nhello", bad},
		{"status without reason", "HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello", "hello"},
	}
	answers := map[string]string{}
	for i, tc := range cases {
		answers["/public/"+strconv.Itoa(i)] = tc.answer
	}
	respond := func(r *http.Request) string { return answers[r.URL.Path] }
	for _, upTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[upTLS], func(t *testing.T) {
			t.Parallel()
			w, cfg := h2World(t)
			routeToRawUpstream(t, w, cfg, upTLS, respond)
			gw := w.start(cfg)
			h1 := gw.dialRaw(t, w.web)
			h2 := h2Conn(t, gw, "localhost", w.web)
			for i, tc := range cases {
				path := "/public/" + strconv.Itoa(i)
				check := func(proto string, status int, body string) {
					t.Helper()
					if tc.want == bad && (status != 502 || !strings.Contains(body, bad)) ||
						tc.want != bad && (status != 200 || body != tc.want) {
						t.Errorf("%s, %s: got %d %q, want %q", tc.name, proto, status, body, tc.want)
					}
				}
				h1.send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n")
				resp, body, err := h1.next()
				if err != nil {
					t.Fatalf("%s, HTTP/1.1: no answer: %v", tc.name, err)
				}
				check("HTTP/1.1", resp.StatusCode, body)

				req, _ := http.NewRequest("GET", "https://localhost"+path, nil)
				resp, err = h2.RoundTrip(req)
				if err != nil {
					t.Fatalf("%s, HTTP/2: no answer: %v", tc.name, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("%s, HTTP/2: %v", tc.name, err)
				}
				check("HTTP/2", resp.StatusCode, string(b))
			}
		})
	}
}

// TestUpstreamHTTP10NotReused: an HTTP/1.0 answer's Transfer-Encoding is
// deleted unread by Go's parser, which frames the answer by its
// Content-Length, where nginx frames it by chunks: an upstream that sent
// both with "Connection: keep-alive" may mean bytes after the length as
// part of this answer, and on a reused connection they would be read as
// the next request's answer, another client's. The gateway's own path
// (plain-HTTP upstreams) reuses no connection after an HTTP/1.0 answer.
// The allowed twin: the same answer as HTTP/1.1 keeps its connection.
func TestUpstreamHTTP10NotReused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, answer string
		conns        int32 // upstream connections two requests take
	}{
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 2},
		{"HTTP/1.0 keep-alive, chunked and a length", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nok", 2},
		{"HTTP/1.1 (allowed twin)", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A keep-alive upstream: every request on a connection gets
			// the answer.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			var conns atomic.Int32
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					conns.Add(1)
					go func() {
						defer conn.Close()
						br := bufio.NewReader(conn)
						for {
							if _, err := http.ReadRequest(br); err != nil {
								return
							}
							io.WriteString(conn, tc.answer)
						}
					}()
				}
			}()
			w := newWorld(t)
			cfg := w.config()
			for i := range cfg.Routes {
				cfg.Routes[i].Upstream = "http://" + ln.Addr().String()
			}
			gw := w.start(cfg)
			for _, path := range []string{"/public/first", "/public/second"} {
				c := gw.dialRaw(t, nil) // one client each
				c.send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n")
				if resp, body := c.read(); resp.StatusCode != http.StatusOK || body != "ok" {
					t.Fatalf("%s: got %d %q, want 200 ok", path, resp.StatusCode, body)
				}
			}
			if got := conns.Load(); got != tc.conns {
				t.Errorf("upstream connections: got %d, want %d", got, tc.conns)
			}
		})
	}
}

// routeToRawUpstream points every route of cfg at a new raw upstream
// answering with respond, over TLS (w's CA) when upTLS.
func routeToRawUpstream(t *testing.T, w *world, cfg *gateway.Config, upTLS bool, respond func(*http.Request) string) {
	u := newRawUpstream(t, respond)
	if upTLS {
		u = newRawUpstreamTLS(t, w, respond)
	}
	for i := range cfg.Routes {
		cfg.Routes[i].Upstream = u.URL
		if upTLS {
			cfg.Routes[i].UpstreamCAFile = w.path("ca.pem")
		}
	}
}

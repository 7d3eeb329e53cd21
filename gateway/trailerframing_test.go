package gateway_test

import (
	"bufio"
	"cmp"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestTrailerWithContentLength: an HTTP/2 upstream may send a
// content-length and a trailer both; HTTP/1.1 carries a trailer only
// after a chunked body, HTTP/1.0 never. An answer to an HTTP/1.x client
// announces a trailer (Trailer) only when the trailer follows: chunked,
// without the Content-Length, to an HTTP/1.1 client that sent "TE:
// trailers"; to any other HTTP/1.x client the trailer is dropped and
// not announced, the Content-Length kept. An HTTP/2 client gets the
// Content-Length and the trailer (the twin showing the upstream sent
// both). The negative control: the same answer flushed before its end
// goes out without a length, chunked with its trailer even without TE.
// An HTTP/1.0 client of a chunked HTTP/1.1 upstream with a trailer gets
// no announcement either, on both proxy paths.
func TestTrailerWithContentLength(t *testing.T) {
	w, gw := startTrailerGateway(t)

	for _, tc := range []struct {
		name, path, proto, te string
		direct                bool
		// want: the trailer is announced and follows, chunked; else
		// neither, with wantLength.
		wantTrailer bool
		wantLength  bool
	}{
		{"HTTP/1.1, TE: trailers", "/h2/x", "HTTP/1.1", "Te: trailers\r\n", false, true, false},
		{"HTTP/1.1, no TE", "/h2/x", "HTTP/1.1", "", false, false, true},
		{"HTTP/1.0, TE: trailers", "/h2/x", "HTTP/1.0", "Te: trailers\r\n", false, false, true},
		{"negative control: flushed, HTTP/1.1, no TE", "/h2/x?flush", "HTTP/1.1", "", false, true, false},
		{"h1 chunked upstream, HTTP/1.0, direct", "/h1/x", "HTTP/1.0", "Te: trailers\r\n", true, false, false},
		{"h1 chunked upstream, HTTP/1.0, ReverseProxy", "/h1/x", "HTTP/1.0", "Te: trailers\r\n", false, false, false},
		{"negative control: h1 chunked upstream, HTTP/1.1, direct", "/h1/x", "HTTP/1.1", "", true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gateway.SetDirectProxy(gw.g, tc.direct)
			raw := rawExchange(t, gw, w, "GET", tc.path, tc.proto, tc.te)
			has := func(prefix string) bool { return hasField(raw, prefix) }
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(raw))), nil)
			if err != nil {
				t.Fatalf("%v in %q", err, raw)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || string(b) != "ok" {
				t.Fatalf("body %q, %v in %q", b, err, raw)
			}
			announced, chunked, length := has("Trailer:"), has("Transfer-Encoding: chunked"), has("Content-Length:")
			if chunked && length {
				t.Fatalf("chunked with a Content-Length: %q", raw)
			}
			if announced != tc.wantTrailer || chunked != tc.wantTrailer || length != tc.wantLength {
				t.Errorf("Trailer announced %v, chunked %v, Content-Length %v; want %v, %v, %v in %q",
					announced, chunked, length, tc.wantTrailer, tc.wantTrailer, tc.wantLength, raw)
			}
			if got := resp.Trailer.Get("X-Sum"); tc.wantTrailer && got != "5" {
				t.Errorf("trailer X-Sum %q, want 5 in %q", got, raw)
			}
			if got := resp.Trailer.Get("Grpc-Status"); tc.wantTrailer && strings.HasPrefix(tc.path, "/h2") && got != "0" {
				t.Errorf("trailer Grpc-Status %q, want 0 in %q", got, raw)
			}
		})
	}

	t.Run("HTTP/2 client", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "https://localhost/h2/x", nil)
		resp, err := h2Conn(t, gw, "localhost", w.web).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "ok" {
			t.Fatalf("body %q, %v", b, err)
		}
		if resp.ContentLength != 2 || resp.Trailer.Get("X-Sum") != "5" || resp.Trailer.Get("Grpc-Status") != "0" {
			t.Errorf("Content-Length %d, trailer %v; want 2 and X-Sum 5, Grpc-Status 0", resp.ContentLength, resp.Trailer)
		}
	})
}

// TestTrailerHEAD: the answer to a HEAD request carries the header
// fields the GET's would (RFC 9110, section 9.3.2), Trailer among them:
// announced to an HTTP/1.x client exactly when the GET's trailer would
// follow, the Content-Length kept exactly when the GET's is, and nothing
// after the header section. The GET of each case is the twin: both
// announcements (with TE: trailers, from a chunked upstream) and both
// drops (without TE from an HTTP/2 upstream's answer with a
// content-length, HTTP/1.0, a 204) occur. An HTTP/2 client's HEAD
// answer announces the trailer, as its GET's does.
func TestTrailerHEAD(t *testing.T) {
	w, gw := startTrailerGateway(t)
	for _, tc := range []struct {
		name, path, proto, te string
		direct                bool
	}{
		{"h2 upstream, HTTP/1.1, TE: trailers", "/h2/x", "HTTP/1.1", "Te: trailers\r\n", false},
		{"h2 upstream, HTTP/1.1, no TE", "/h2/x", "HTTP/1.1", "", false},
		{"h2 upstream, HTTP/1.0", "/h2/x", "HTTP/1.0", "Te: trailers\r\n", false},
		{"h2 upstream, 204, TE: trailers", "/h2/x?status=204", "HTTP/1.1", "Te: trailers\r\n", false},
		{"h1 chunked upstream, HTTP/1.1, no TE, direct", "/h1/x", "HTTP/1.1", "", true},
		{"h1 chunked upstream, HTTP/1.1, no TE, ReverseProxy", "/h1/x", "HTTP/1.1", "", false},
		{"h1 chunked upstream, HTTP/1.0, direct", "/h1/x", "HTTP/1.0", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gateway.SetDirectProxy(gw.g, tc.direct)
			get := rawExchange(t, gw, w, "GET", tc.path, tc.proto, tc.te)
			head := rawExchange(t, gw, w, "HEAD", tc.path, tc.proto, tc.te)
			if _, rest, _ := strings.Cut(head, "\r\n\r\n"); rest != "" {
				t.Fatalf("bytes after the HEAD answer's header section: %q", head)
			}
			for _, f := range []string{"Trailer:", "Content-Length:"} {
				if g, h := hasField(get, f), hasField(head, f); g != h {
					t.Errorf("%s in the GET answer %v, in the HEAD answer %v; want the same in %q and %q", f, g, h, get, head)
				}
			}
		})
	}

	t.Run("HTTP/2 client", func(t *testing.T) {
		cc := h2Conn(t, gw, "localhost", w.web)
		for _, method := range []string{"GET", "HEAD"} {
			req, _ := http.NewRequestWithContext(t.Context(), method, "https://localhost/h2/x", nil)
			resp, err := cc.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if _, ok := resp.Trailer["X-Sum"]; !ok {
				t.Errorf("%s: trailer %v, want X-Sum announced", method, resp.Trailer)
			}
		}
	})
}

// TestTrailerNoBodyStatus: a 204 or 304 answer ends with its header
// section on HTTP/1.x, so a trailer its HTTP/2 upstream sent is dropped
// and not announced: no chunked framing, no trailer section, no Trailer
// field, whatever the client's TE. The twins: the same answer with 200
// goes out chunked with its trailer, and an HTTP/2 client of the 204
// gets the trailer (which shows the upstream sent it).
func TestTrailerNoBodyStatus(t *testing.T) {
	w, gw := startTrailerGateway(t)
	for _, tc := range []struct {
		status, proto, te string
		wantTrailer       bool
	}{
		{"204", "HTTP/1.1", "Te: trailers\r\n", false},
		{"204", "HTTP/1.1", "", false},
		{"204", "HTTP/1.0", "Te: trailers\r\n", false},
		{"304", "HTTP/1.1", "Te: trailers\r\n", false},
		{"304", "HTTP/1.1", "", false},
		{"304", "HTTP/1.0", "Te: trailers\r\n", false},
		{"200", "HTTP/1.1", "Te: trailers\r\n", true},
	} {
		t.Run(tc.status+", "+tc.proto+", "+cmp.Or(strings.TrimSpace(tc.te), "no TE"), func(t *testing.T) {
			raw := rawExchange(t, gw, w, "GET", "/h2/x?status="+tc.status, tc.proto, tc.te)
			head, rest, _ := strings.Cut(raw, "\r\n\r\n")
			announced, chunked := hasField(raw, "Trailer:"), hasField(raw, "Transfer-Encoding:")
			if !strings.HasPrefix(head, tc.proto+" "+tc.status+" ") {
				t.Fatalf("want a %s in %q", tc.status, raw)
			}
			if tc.wantTrailer {
				if !announced || !chunked || !strings.HasPrefix(rest, "2\r\nok\r\n0\r\n") || !strings.Contains(rest, "\r\nX-Sum: 5\r\n") {
					t.Errorf("Trailer announced %v, chunked %v; want both, and the trailer after the body in %q", announced, chunked, raw)
				}
				return
			}
			if announced || chunked || rest != "" {
				t.Errorf("Trailer announced %v, chunked %v, after the header section %q; want none in %q", announced, chunked, rest, raw)
			}
		})
	}

	t.Run("HTTP/2 client, 204", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "https://localhost/h2/x?status=204", nil)
		resp, err := h2Conn(t, gw, "localhost", w.web).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 204 || resp.Trailer.Get("X-Sum") != "5" {
			t.Errorf("status %d, trailer %v; want 204 and X-Sum 5", resp.StatusCode, resp.Trailer)
		}
	})
}

// TestTrailerUndeclaredAfterContentLength pins a known loss
// (docs/gateway.md, "Trailers"): a trailer an HTTP/2 upstream sends
// after a content-length without announcing it cannot be planned for,
// so an HTTP/1.1 client gets the body with its Content-Length and no
// trailer, even with TE: trailers. The twins: an HTTP/2 client gets it,
// and the same answer flushed before its end (no length) reaches the
// HTTP/1.1 client chunked with the trailer.
func TestTrailerUndeclaredAfterContentLength(t *testing.T) {
	w, gw := startTrailerGateway(t)
	for _, tc := range []struct {
		name, path  string
		wantTrailer bool
	}{
		{"content-length", "/h2/x?undeclared", false},
		{"negative control: flushed", "/h2/x?undeclared&flush", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawExchange(t, gw, w, "GET", tc.path, "HTTP/1.1", "Te: trailers\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
			if err != nil {
				t.Fatalf("%v in %q", err, raw)
			}
			if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
				t.Fatalf("body %q, %v in %q", b, err, raw)
			}
			if got := resp.Trailer.Get("Grpc-Status") == "0"; got != tc.wantTrailer {
				t.Errorf("trailer Grpc-Status relayed %v, want %v in %q", got, tc.wantTrailer, raw)
			}
			if length := hasField(raw, "Content-Length:"); length == tc.wantTrailer {
				t.Errorf("Content-Length %v, want %v in %q", length, !tc.wantTrailer, raw)
			}
		})
	}

	t.Run("HTTP/2 client", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", "https://localhost/h2/x?undeclared", nil)
		resp, err := h2Conn(t, gw, "localhost", w.web).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ContentLength != 2 || resp.Trailer.Get("Grpc-Status") != "0" {
			t.Errorf("Content-Length %d, trailer %v; want 2 and Grpc-Status 0", resp.ContentLength, resp.Trailer)
		}
	})
}

// startTrailerGateway runs a gateway with two routes whose upstreams
// send a trailer: /h2 to an HTTP/2 upstream that announces X-Sum (not
// with ?undeclared), sends it and Grpc-Status after "ok", with a
// content-length unless ?flush, and the status in ?status; /h1 to a
// chunked HTTP/1.1 upstream that announces and sends X-Sum (its HEAD
// answer is the header alone).
func startTrailerGateway(t *testing.T) (*world, *running) {
	t.Helper()
	w := newWorld(t)
	h2up := startH2Upstream(t, w, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain")
		if !r.URL.Query().Has("undeclared") {
			rw.Header().Set("Trailer", "X-Sum")
		}
		if s := r.URL.Query().Get("status"); s != "" {
			code, _ := strconv.Atoi(s)
			rw.WriteHeader(code)
		}
		io.WriteString(rw, "ok")
		if r.URL.Query().Has("flush") {
			rw.(http.Flusher).Flush() // no content-length
		}
		rw.Header().Set("X-Sum", "5")
		rw.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	}))
	h1up := newRawUpstream(t, func(r *http.Request) string {
		const head = "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
		if r.Method == http.MethodHead {
			return head
		}
		return head + "2\r\nok\r\n0\r\nX-Sum: 5\r\n\r\n"
	})
	allow := gateway.Allow{AnyVerified: true}
	cfg := w.config()
	cfg.Routes = append([]gateway.Route{
		{Name: "h2", PathPrefix: "/h2", Upstream: h2up.URL, UpstreamCAFile: w.path("ca.pem"), Allow: allow},
		{Name: "h1", PathPrefix: "/h1", Upstream: h1up.URL, Allow: allow},
	}, cfg.Routes...)
	return w, w.start(cfg)
}

// rawExchange sends one request as raw bytes on a new connection, with
// Connection: close, and returns all the gateway sent back.
func rawExchange(t *testing.T, gw *running, w *world, method, path, proto, te string) string {
	t.Helper()
	c := gw.dialRaw(t, w.web)
	c.send(method + " " + path + " " + proto + "\r\nHost: localhost\r\n" + te + "Connection: close\r\n\r\n")
	raw, err := io.ReadAll(c.Conn)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// hasField reports whether the header section of the raw answer has a
// line starting with prefix, in any case.
func hasField(raw, prefix string) bool {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	for _, l := range strings.Split(head, "\r\n")[1:] {
		if strings.HasPrefix(strings.ToLower(l), strings.ToLower(prefix)) {
			return true
		}
	}
	return false
}

package gateway_test

import (
	"bufio"
	"io"
	"net/http"
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
	w := newWorld(t)
	h2up := startH2Upstream(t, w, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain")
		rw.Header().Set("Trailer", "X-Sum")
		io.WriteString(rw, "ok")
		if r.URL.Query().Has("flush") {
			rw.(http.Flusher).Flush() // no content-length
		}
		rw.Header().Set("X-Sum", "5")
		rw.Header().Set(http.TrailerPrefix+"Grpc-Status", "0")
	}))
	h1up := newRawUpstream(t, func(*http.Request) string {
		return "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
			"2\r\nok\r\n0\r\nX-Sum: 5\r\n\r\n"
	})
	allow := gateway.Allow{AnyVerified: true}
	cfg := w.config()
	cfg.Routes = append([]gateway.Route{
		{Name: "h2", PathPrefix: "/h2", Upstream: h2up.URL, UpstreamCAFile: w.path("ca.pem"), Allow: allow},
		{Name: "h1", PathPrefix: "/h1", Upstream: h1up.URL, Allow: allow},
	}, cfg.Routes...)
	gw := w.start(cfg)

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
			c := gw.dialRaw(t, w.web)
			c.send("GET " + tc.path + " " + tc.proto + "\r\nHost: localhost\r\n" + tc.te + "Connection: close\r\n\r\n")
			raw, err := io.ReadAll(c.Conn)
			if err != nil {
				t.Fatal(err)
			}
			head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
			has := func(prefix string) bool {
				for _, l := range strings.Split(head, "\r\n")[1:] {
					if strings.HasPrefix(strings.ToLower(l), strings.ToLower(prefix)) {
						return true
					}
				}
				return false
			}
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

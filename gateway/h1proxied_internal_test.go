package gateway

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// writeFieldsBoth returns what net/http's Header.WriteSubset and
// writeFields (sorting in buf) write for h.
func writeFieldsBoth(h http.Header, exclude map[string]bool, buf *fieldBuf) (std, own string) {
	var a, b strings.Builder
	h.WriteSubset(&a, exclude)
	bw := bufio.NewWriter(&b)
	var excluded func(string) bool
	if exclude != nil {
		excluded = func(name string) bool { return exclude[name] }
	}
	writeFields(bw, h, excluded, buf)
	bw.Flush()
	return a.String(), b.String()
}

// lettersDescending is a header of n fields X-<letter>, from the n-th
// letter down to X-a, each with the value "v".
func lettersDescending(n int) http.Header {
	h := http.Header{}
	for i := range n {
		h[fmt.Sprintf("X-%c", 'a'+n-1-i)] = []string{"v"}
	}
	return h
}

// TestWriteFieldsIsWriteSubset: writeFields writes what WriteSubset
// writes, for the edges its shortcuts skip: many fields (the sort beyond
// the stack), invalid names, CR and LF in values, surrounding space,
// empty values, nil and empty value lists, exclusions; each in a new
// fieldBuf and in one that every case before it used (a connection's).
func TestWriteFieldsIsWriteSubset(t *testing.T) {
	many := http.Header{}
	for i := range 40 {
		many[fmt.Sprintf("X-F%02d", 39-i)] = []string{fmt.Sprint(i)}
	}
	tests := []struct {
		name    string
		h       http.Header
		exclude map[string]bool
	}{
		{"empty", http.Header{}, nil},
		{"nil", nil, nil},
		{"proxied answer", http.Header{
			"Content-Type": {"text/plain"}, "Content-Length": {"5"}, "Date": {"Mon, 01 Jan 2026 00:00:00 GMT"},
			"X-Upstream": {"1"}, "Set-Cookie": {"a=1; Secure", "b=2; HttpOnly"}, "Vary": {"Accept-Encoding"},
		}, nil},
		{"exactly thirty-two", lettersDescending(32), nil},
		{"thirty-three", lettersDescending(33), nil},
		{"many", many, map[string]bool{"X-F07": true}},
		{"excluded", http.Header{"Content-Length": {"1"}, "Transfer-Encoding": {"chunked"}, "X-A": {"1"}}, map[string]bool{"Content-Length": true, "Transfer-Encoding": true}},
		{"invalid names", http.Header{"X A": {"1"}, "": {"2"}, "X\x00": {"3"}, "Ok": {"4"}, "é": {"5"}}, nil},
		{"cr and lf in values", http.Header{"X-A": {"a\r\nb", "\rc\n", "d\n\n"}, "X-B": {" \r\n "}}, nil},
		{"space around values", http.Header{"X-A": {"  a  ", "\tb\t", " ", ""}}, nil},
		{"nil and empty value lists", http.Header{"Content-Type": nil, "X-Empty": {}, "X-A": {"1"}}, nil},
		{"non-canonical names", http.Header{"x-lower": {"1"}, "X-Lower": {"2"}, "X-LOWER": {"3"}}, nil},
		{"bytes sort", http.Header{"a": {"1"}, "B": {"2"}, "_": {"3"}, "Z": {"4"}, "~": {"5"}, "0": {"6"}}, nil},
	}
	var used fieldBuf
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, buf := range []*fieldBuf{new(fieldBuf), &used} {
				std, own := writeFieldsBoth(tt.h, tt.exclude, buf)
				if own != std {
					t.Errorf("got %q, want %q", own, std)
				}
				if len(*buf) != 0 || slices.ContainsFunc((*buf)[:cap(*buf)], func(f headerField) bool { return f.name != "" || f.values != nil }) {
					t.Errorf("fieldBuf left with %d fields or keeps a header's: %q", len(*buf), (*buf)[:cap(*buf)])
				}
			}
		})
	}
}

// TestFieldBufBounded: a connection's fieldBuf keeps its room after a
// common header, and not after one of more than maxKeptFields fields.
func TestFieldBufBounded(t *testing.T) {
	bw := bufio.NewWriter(io.Discard)
	var buf fieldBuf
	writeFields(bw, lettersDescending(20), nil, &buf)
	if cap(buf) < 20 {
		t.Errorf("after 20 fields: room for %d kept, want 20 or more", cap(buf))
	}
	large := http.Header{}
	for i := range maxKeptFields + 1 {
		large[fmt.Sprintf("X-%04d", i)] = []string{"1"}
	}
	writeFields(bw, large, nil, &buf)
	if cap(buf) > maxKeptFields {
		t.Errorf("after %d fields: room for %d kept, want at most %d", len(large), cap(buf), maxKeptFields)
	}
}

// FuzzWriteFields: writeFields writes what WriteSubset writes for any
// header; the input is lines "name: value" (a line without ": " is a name
// with no value), the first byte of each name choosing whether it is
// excluded.
func FuzzWriteFields(f *testing.F) {
	f.Add("Content-Type: text/plain\nX-A: 1\nX-A: 2\nx-b:  v \n")
	f.Add("X A: 1\n: 2\nX-C: a\rb\n\nX-D")
	f.Add(strings.Repeat("X-M: 1\nX-N: 2\nY: 3\nZ-", 10))
	f.Fuzz(func(t *testing.T, in string) {
		h := http.Header{}
		exclude := map[string]bool{}
		for l := range strings.SplitSeq(in, "\n") {
			name, value, ok := strings.Cut(l, ": ")
			if !ok {
				h[l] = h[l][:len(h[l]):len(h[l])]
				continue
			}
			h[name] = append(h[name], value)
			if name != "" && name[0]%7 == 0 {
				exclude[name] = true
			}
		}
		std, own := writeFieldsBoth(h, exclude, new(fieldBuf))
		if own != std {
			t.Fatalf("got %q, want %q", own, std)
		}
	})
}

func BenchmarkWriteFields(b *testing.B) {
	// The fields of an upstream request as writeRequest writes them.
	req := http.Header{
		"Accept": {"*/*"}, "Accept-Encoding": {"gzip"}, "User-Agent": {"loadgen"},
		"Client-Cert": {":" + strings.Repeat("QUJD", 135) + ":"}, "Forgeproof-Client-Identity": {"CN=bench client"},
		"X-Forwarded-For": {"127.0.0.1"}, "X-Forwarded-Host": {"127.0.0.1:31511"}, "X-Forwarded-Proto": {"https"},
		"Te": {"trailers"},
	}
	b.Run("request", func(b *testing.B) {
		b.ReportAllocs()
		bw := bufio.NewWriterSize(discardWriter{}, 4096)
		var buf fieldBuf
		for b.Loop() {
			writeFields(bw, req, reqWriteExclude, &buf)
		}
	})
	h := http.Header{
		"Content-Type": {"text/plain; charset=utf-8"}, "Content-Length": {"512"},
		"Date": {"Mon, 01 Jan 2026 00:00:00 GMT"}, "X-Request-Id": {"abc"}, "Vary": {"Accept-Encoding"},
		"Cache-Control": {"no-store"},
	}
	bw := bufio.NewWriterSize(discardWriter{}, 4096)
	b.Run("WriteSubset", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h.WriteSubset(bw, nil)
		}
	})
	b.Run("writeFields", func(b *testing.B) {
		b.ReportAllocs()
		var buf fieldBuf
		for b.Loop() {
			writeFields(bw, h, nil, &buf)
		}
	})
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// h1eqAdopt hands h to w as the direct path hands an upstream's header
// (adoptHeader), or copies it where w does not adopt (net/http's server):
// both must answer the same.
func h1eqAdopt(w http.ResponseWriter, h http.Header) {
	if !adoptHeader(w, h) {
		copyHeaders(w.Header(), h)
	}
}

// upstreamHeader is a header as http.ReadResponse returns one, with the
// fields given as name, value pairs.
func upstreamHeader(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// h1eqAdoptCases are the equivalence cases of a header adopted by the
// h1Server (h1proxied.go) against net/http's server, which copies it: the
// header as of WriteHeader is what goes out, whatever changes after it
// (net/http's snapshot), trailers announced and not, 1xx answers first,
// HEAD, 204 and 304, lengths set and computed, chunks, and the headers
// it does not adopt.
func h1eqAdoptCases() []h1eqCase {
	const post = "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello"
	const postChunked = "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	proxied := func(kv ...string) h1eqHandler {
		return func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader(kv...))
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("hello")
		}
	}
	return []h1eqCase{
		{name: "adopted-content-length", handler: proxied("Content-Type", "text/plain", "Content-Length", "5", "X-A", "1", "Date", "Mon, 02 Jan 2006 15:04:05 GMT"), in: h1eqGet + h1eqGet},
		{name: "adopted-content-length-post", handler: proxied("Content-Type", "text/plain", "Content-Length", "5", "X-A", "1"), in: post + post},
		{name: "adopted-content-length-post-read", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			b, err := io.ReadAll(r.Body)
			note("body %q %v", b, err)
			proxied("Content-Type", "text/plain", "Content-Length", "5")(w, r, note)
		}, in: postChunked + post},
		{name: "adopted-no-content-length", handler: proxied("Content-Type", "text/plain", "X-A", "1"), in: h1eqGet + post},
		{name: "adopted-no-content-type", handler: proxied("Content-Length", "5"), in: h1eqGet + post},
		{name: "adopted-chunked-large", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain"))
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)(h1eqBig)
		}, in: h1eqGet + post},
		{name: "adopted-transfer-encoding-chunked", handler: proxied("Transfer-Encoding", "chunked", "Content-Type", "text/plain"), in: h1eqGet + post},
		{name: "adopted-content-length-and-transfer-encoding", handler: proxied("Transfer-Encoding", "chunked", "Content-Length", "5"), in: h1eqGet},
		{name: "adopted-invalid-content-length", handler: proxied("Content-Length", "five", "Content-Type", "text/plain"), in: h1eqGet + post},
		{name: "adopted-content-length-mismatch", handler: proxied("Content-Length", "7", "Content-Type", "text/plain"), in: h1eqGet},
		{name: "adopted-connection-close", handler: proxied("Connection", "close", "Content-Length", "5", "Content-Type", "text/plain"), in: h1eqGet + h1eqGet},
		{name: "adopted-http10", handler: proxied("Content-Type", "text/plain"), in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n"},
		{name: "adopted-head", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain", "Content-Length", "5"))
			w.WriteHeader(http.StatusOK)
		}, in: "HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n" + h1eqGet},
		{name: "adopted-head-with-body", handler: proxied("Content-Type", "text/plain"), in: "HEAD / HTTP/1.1\r\nHost: a.test\r\n\r\n" + h1eqGet},
		{name: "adopted-204", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain", "Content-Length", "0", "X-A", "b"))
			w.WriteHeader(http.StatusNoContent)
		}, in: h1eqGet + post},
		{name: "adopted-304", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain", "Content-Length", "5", "Etag", `"v1"`, "Transfer-Encoding", "chunked"))
			w.WriteHeader(http.StatusNotModified)
		}, in: h1eqGet + post},
		{name: "adopted-header-changed-after-write-header", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain", "X-Before", "1"))
			w.WriteHeader(http.StatusOK)
			w.Header().Set("X-After", "1")
			w.Header().Del("X-Before")
			w.Header().Set("Content-Length", "5")
			h1eqWriter(w, note)("hello")
		}, in: h1eqGet + post},
		{name: "adopted-header-changed-after-write-header-final", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain", "Content-Length", "5"))
			w.WriteHeader(http.StatusOK)
			w.Header().Set("X-After", "1")
			h1eqWriter(w, note)("hello")
		}, in: h1eqGet + post},
		{name: "adopted-trailers-announced", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain", "Trailer", "X-Sum, X-Other"))
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("body")
			w.Header().Set("X-Sum", "42")
			w.Header().Set("X-Undeclared", "dropped")
		}, in: h1eqGet + post},
		{name: "adopted-trailers-announced-flushed", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain", "Trailer", "X-Sum"))
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("body")
			h1eqFlush(w, note)
			w.Header().Set("X-Sum", "42")
		}, in: h1eqGet + post},
		{name: "adopted-trailers-announced-content-length", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain", "Trailer", "X-Sum", "Content-Length", "4"))
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("body")
			w.Header().Set("X-Sum", "42")
		}, in: h1eqGet},
		{name: "adopted-trailers-unannounced", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain"))
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("body")
			w.Header().Set(http.TrailerPrefix+"X-Late", "v")
		}, in: h1eqGet + post},
		{name: "adopted-trailers-unannounced-flushed", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain", "Content-Length", "4"))
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("body")
			h1eqFlush(w, note)
			w.Header().Set(http.TrailerPrefix+"X-Late", "v")
		}, in: h1eqGet + post},
		{name: "adopted-trailer-prefix-in-header", handler: proxied("Content-Type", "text/plain", http.TrailerPrefix+"X-Early", "v"), in: h1eqGet + post},
		{name: "adopted-after-1xx", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h := w.Header()
			copyHeaders(h, upstreamHeader("Link", "</a.css>; rel=preload"))
			w.WriteHeader(http.StatusEarlyHints)
			clear(h)
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/plain", "Content-Length", "5"))
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("hello")
		}, in: h1eqGet + post},
		{name: "adopted-flush-before-write", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, upstreamHeader("Content-Type", "text/event-stream"))
			w.WriteHeader(http.StatusOK)
			h1eqFlush(w, note)
			h1eqWriter(w, note)("data: 1\n\n")
		}, in: h1eqGet + post},
		{name: "adopted-header-values", handler: proxied("X-Multi", "1", "X-Multi", "2", "X-Newline", "a\r\nInjected: yes", "X-Empty", "", "X-Space", "  v  "), in: h1eqGet},
		// Not adopted: what copyHeaders would change.
		{name: "adopted-not-canonical", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, http.Header{"x-lower": {"a"}, "X-Other": {"b"}, "Content-Type": {"text/plain"}})
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("hello")
		}, in: h1eqGet},
		{name: "adopted-not-empty-values", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			h1eqAdopt(w, http.Header{"X-None": {}, "X-Nil": nil, "Content-Type": {"text/plain"}})
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("hello")
		}, in: h1eqGet},
		{name: "adopted-not-header-set", handler: func(w http.ResponseWriter, r *http.Request, note h1eqNote) {
			w.Header().Set("Vary", "Cookie")
			h1eqAdopt(w, upstreamHeader("Vary", "Accept", "Content-Type", "text/plain"))
			w.WriteHeader(http.StatusOK)
			h1eqWriter(w, note)("hello")
		}, in: h1eqGet},
	}
}

// TestAdoptHeader: the h1Server's response adopts an answer's header
// exactly where copyHeaders into its empty header would make the same
// map, through the recorder and not through keepHeaders or another
// writer.
func TestAdoptHeader(t *testing.T) {
	fresh := func() *h1Response {
		return &h1Response{conn: &h1Conn{}, handlerHeader: http.Header{}, contentLength: -1}
	}
	tests := []struct {
		name  string
		w     func() http.ResponseWriter
		h     http.Header
		adopt bool
	}{
		{"h1Response", func() http.ResponseWriter { return fresh() }, upstreamHeader("Content-Type", "text/plain"), true},
		{"empty header", func() http.ResponseWriter { return fresh() }, http.Header{}, true},
		{"through the recorder", func() http.ResponseWriter { return &recorder{ResponseWriter: fresh()} }, upstreamHeader("X-A", "1"), true},
		{"through two recorders", func() http.ResponseWriter { return &recorder{ResponseWriter: &recorder{ResponseWriter: fresh()}} }, upstreamHeader("X-A", "1"), true},
		{"non-canonical name", func() http.ResponseWriter { return fresh() }, http.Header{"x-a": {"1"}}, false},
		{"name with a space", func() http.ResponseWriter { return fresh() }, http.Header{"X A": {"1"}}, true},
		{"no values", func() http.ResponseWriter { return fresh() }, http.Header{"X-A": {}}, false},
		{"nil values", func() http.ResponseWriter { return fresh() }, http.Header{"X-A": nil}, false},
		{"header set", func() http.ResponseWriter {
			w := fresh()
			w.Header().Set("Vary", "Cookie")
			return w
		}, upstreamHeader("X-A", "1"), false},
		{"after WriteHeader", func() http.ResponseWriter {
			w := fresh()
			w.wroteHeader = true
			return w
		}, upstreamHeader("X-A", "1"), false},
		{"hijacked", func() http.ResponseWriter {
			w := fresh()
			w.conn.hijacked = true
			return w
		}, upstreamHeader("X-A", "1"), false},
		{"keepHeaders", func() http.ResponseWriter { return &keepHeaders{ResponseWriter: fresh(), own: http.Header{}} }, upstreamHeader("X-A", "1"), false},
		{"net/http's recorder", func() http.ResponseWriter { return httptest.NewRecorder() }, upstreamHeader("X-A", "1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.w()
			if got := adoptHeader(w, tt.h); got != tt.adopt {
				t.Fatalf("adoptHeader = %v, want %v", got, tt.adopt)
			}
			h := w.Header()
			if tt.adopt && reflect.ValueOf(h).UnsafePointer() != reflect.ValueOf(tt.h).UnsafePointer() {
				t.Errorf("w.Header() is not the adopted map")
			}
		})
	}
}

// TestCopyScratch: the direct path copies a body through the connection's
// body buffer only when nothing else writes there while it does (the
// header committed without the buffer, no chunks), only for a body that
// fits, and never through the connection's write buffer.
func TestCopyScratch(t *testing.T) {
	fresh := func(mod func(w *h1Response)) http.ResponseWriter {
		c := &h1Conn{}
		c.bufw = bufio.NewWriterSize(io.Discard, 4096)
		c.bodyBuf = bufio.NewWriterSize(&c.cw, bufferBeforeChunking)
		w := &h1Response{conn: c, handlerHeader: http.Header{}, contentLength: -1, committed: true}
		if mod != nil {
			mod(w)
		}
		return w
	}
	tests := []struct {
		name   string
		w      http.ResponseWriter
		length int64
		want   bool
	}{
		{"committed, small body", fresh(nil), 3, true},
		{"through the recorder", &recorder{ResponseWriter: fresh(nil)}, 3, true},
		{"empty body", fresh(nil), 0, true},
		{"body filling it but one byte", fresh(nil), bufferBeforeChunking - 1, true},
		{"body the size of it", fresh(nil), bufferBeforeChunking, false},
		{"unknown length", fresh(nil), -1, false},
		{"not committed", fresh(func(w *h1Response) { w.committed = false }), 3, false},
		{"body buffer in use", fresh(func(w *h1Response) { w.w = w.conn.bodyBuf }), 3, false},
		{"chunked", fresh(func(w *h1Response) { w.chunking = true }), 3, false},
		{"hijacked", fresh(func(w *h1Response) { w.conn.hijacked = true }), 3, false},
		{"keepHeaders", &keepHeaders{ResponseWriter: fresh(nil), own: http.Header{}}, 3, false},
		{"net/http's recorder", httptest.NewRecorder(), 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := copyScratch(tt.w, tt.length)
			if got := b != nil; got != tt.want {
				t.Fatalf("copyScratch = %d bytes, want a buffer: %v", len(b), tt.want)
			}
			if b == nil {
				return
			}
			if int64(len(b)) <= tt.length {
				t.Errorf("copyScratch = %d bytes, not more than the body's %d", len(b), tt.length)
			}
			w := tt.w
			if r, ok := w.(*recorder); ok {
				w = r.ResponseWriter
			}
			c := w.(*h1Response).conn
			if &b[0] != &c.bodyBuf.AvailableBuffer()[:1][0] || &b[0] == &c.bufw.AvailableBuffer()[:1][0] {
				t.Errorf("copyScratch is not the body buffer's memory")
			}
		})
	}
}

// FuzzReadResponseHeaderCanonical: every name in a header that
// http.ReadResponse returns is what CanonicalMIMEHeaderKey makes of it
// and has a value, which adoptParsedHeader relies on. The input is the
// answer's header lines.
func FuzzReadResponseHeaderCanonical(f *testing.F) {
	for _, s := range []string{
		"Content-Type: text/plain\r\nContent-Length: 2\r\n",
		"x-lower: 1\r\nX-LOUD: 2\r\ncontent-type: a\r\nContent-Type: b\r\n",
		"X A: 1\r\nx a: 2\r\n",
		"a_b: 1\r\nA_B: 2\r\nx-é: 3\r\n",
		"X-Empty:\r\nX-Space:   \r\n",
		"X-Folded: a\r\n b\r\n",
		": no name\r\n",
		"X-Colon:: 1\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, lines string) {
		raw := "HTTP/1.1 200 OK\r\n" + lines + "\r\n"
		res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
		if err != nil {
			return
		}
		for k, vv := range res.Header {
			if len(vv) == 0 || textproto.CanonicalMIMEHeaderKey(k) != k {
				t.Fatalf("ReadResponse's header has %q: %q", k, vv)
			}
		}
	})
}

// TestModifyResponseKeepsParsedHeader: the route's ModifyResponse (the
// upgrade check, a preflight's trimmed answer, the cookie rules) keeps
// an answer's header as adoptParsedHeader takes it: names canonical,
// each with a value.
func TestModifyResponseKeepsParsedHeader(t *testing.T) {
	const raw = "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2; Path=/\r\nAccess-Control-Allow-Origin: https://a.test\r\n" +
		"Vary: Origin\r\nX-A: 1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
	rt := &route{cookies: &cookieRules{secure: true, httpOnly: true, sameSite: "Lax", hostPrefix: "a"}}
	rp := newReverseProxy(rt, nil, &compiled{}, slog.New(slog.DiscardHandler))
	for _, preflight := range []bool{false, true} {
		t.Run(fmt.Sprintf("preflight=%v", preflight), func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req = req.WithContext(&exchangeContext{Context: req.Context(), x: &exchange{preflight: preflight}})
			res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), req)
			if err != nil {
				t.Fatal(err)
			}
			if err := rp.ModifyResponse(res); err != nil {
				t.Fatal(err)
			}
			if !headerCanonical(res.Header, true) {
				t.Errorf("after ModifyResponse: %q", res.Header)
			}
			if got := len(res.Header["Set-Cookie"]) + len(res.Header["Vary"]); got == 0 {
				t.Errorf("ModifyResponse left nothing to check: %q", res.Header)
			}
		})
	}
}

package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// scanVerdicts are the framingScanner verdicts by name, for messages.
var scanVerdicts = map[uint32]string{verdictScanning: "scanning", verdictTE: "TE", verdictCLTE: "CL+TE", verdictInvalid: "invalid", verdictTE10: "HTTP/1.0 TE"}

// framingCases are streams of HTTP/1.x requests as a client sends them
// on one connection, and the scanner's verdict at the end. They seed
// FuzzFramingScanner.
var framingCases = []struct {
	name, stream string
	want         uint32
}{
	{"GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", verdictScanning},
	{"CL+TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictCLTE},
	{"TE+CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", verdictCLTE},
	{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", verdictTE},
	{"mixed case", "POST / HTTP/1.1\r\nhost: a\r\ncOnTeNt-LeNgTh: 5\r\ntRANSFER-eNCODING: chunked\r\n\r\n0\r\n\r\n", verdictCLTE},
	{"bare LF", "POST / HTTP/1.1\nHost: a\ncontent-length: 5\ntransfer-encoding: chunked\n\n0\r\n\r\n", verdictCLTE},
	{"CL body that looks like CL+TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 52\r\n\r\n" +
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: x\r\n\r\n" +
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n", verdictScanning},
	{"CL body, then CL+TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictCLTE},
	{"CL body, then chunked", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictTE},
	{"CRLF after a POST body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\r\n" +
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictCLTE},
	// An HTTP/1.0 head with Transfer-Encoding stops the scanner: Go
	// frames it by Content-Length, and h1Conn closes after it (RFC 9112
	// §6.1), so what follows is never read as a request. Its twin, the
	// same head without the field, keeps scanning.
	{"HTTP/1.0 CL+TE stops", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n", verdictTE10},
	{"HTTP/1.0 TE stops", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"0\r\n\r\n", verdictTE10},
	{"HTTP/1.0, then HTTP/1.0 TE", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx" +
		"POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nx", verdictTE10},
	{"HTTP/1.0 CL is framed by CL", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" +
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n", verdictScanning},
	{"HTTP/1.0, then CL+TE", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx" +
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictCLTE},
	{"continuation is no name", "POST / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictTE},
	{"continued Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: a\r\n\r\n", verdictScanning},
	{"Content-Length in a body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 22\r\n\r\nContent-Length: 1\r\n\r\n" +
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n", verdictScanning},
	{"name with a space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictTE},
	{"underscore twin", "POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictTE},
	{"Content-Lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Lengths: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictTE},
	{"two equal Content-Lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab" +
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n", verdictScanning},
	{"empty Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", verdictInvalid},
	{"Content-Length with a sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", verdictInvalid},
	{"Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx", verdictInvalid},
	{"Content-Length 2^63", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", verdictInvalid},
	{"Content-Length 2^63-1", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", verdictScanning},
	{"padded Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t 00001 \t \r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictCLTE},
	{"long line before", "GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("b", 5000) + "\r\n\r\n" +
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", verdictCLTE},
	{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", verdictScanning},
}

// TestFramingScanner feeds each stream to the scanner whole, byte by
// byte and in every split in two (a head across TLS records and reads).
func TestFramingScanner(t *testing.T) {
	for _, tt := range framingCases {
		t.Run(tt.name, func(t *testing.T) {
			var s framingScanner
			s.Scan([]byte(tt.stream))
			if got := s.Verdict(); got != tt.want {
				t.Fatalf("whole: got %s, want %s", scanVerdicts[got], scanVerdicts[tt.want])
			}
			s = framingScanner{}
			for i := range len(tt.stream) {
				s.Scan([]byte(tt.stream[i : i+1]))
			}
			if got := s.Verdict(); got != tt.want {
				t.Fatalf("byte by byte: got %s, want %s", scanVerdicts[got], scanVerdicts[tt.want])
			}
			if len(tt.stream) > 1000 {
				return
			}
			for i := range len(tt.stream) {
				s = framingScanner{}
				s.Scan([]byte(tt.stream[:i]))
				s.Scan([]byte(tt.stream[i:]))
				if got := s.Verdict(); got != tt.want {
					t.Fatalf("split at %d: got %s, want %s", i, scanVerdicts[got], scanVerdicts[tt.want])
				}
			}
		})
	}
}

// FuzzFramingScanner compares the scanner with net/http's own framing:
// requests are read from the stream as the server reads them
// (http.ReadRequest, bodies read, up to four CR/LF skipped after a POST)
// up to the first one the server would refuse or close after. If that is
// a chunked HTTP/1.1 request, the scanner must have stopped at it and
// say whether its head (read again with net/textproto, which keeps
// Content-Length) had Content-Length; if it is an HTTP/1.0 request with
// Transfer-Encoding (after which h1Conn closes), the scanner must have
// stopped at it too; if the stream ended with every
// request accepted and none chunked, it must still be scanning. The
// stream reaches the scanner in reads of random sizes.
func FuzzFramingScanner(f *testing.F) {
	for _, tt := range framingCases {
		f.Add([]byte(tt.stream), uint8(0))
		f.Add([]byte(tt.stream), uint8(3))
	}
	f.Fuzz(func(t *testing.T, stream []byte, split uint8) {
		var s framingScanner
		for p, n := stream, 0; len(p) > 0; p = p[n:] {
			n = min(len(p), int(split)+1)
			s.Scan(p[:n])
			split = split*31 + 7
		}
		got := s.Verdict()
		want, hosts, claim := referenceFraming(stream)
		if claim && got != want {
			t.Fatalf("%q: scanner says %s, net/http %s", stream, scanVerdicts[got], scanVerdicts[want])
		}
		// The Host fields of every head net/http read whole, which
		// h1Server's Host checks rely on.
		for i, want := range hosts {
			host, bad, known := s.hostFields(uint64(i))
			if !known {
				if s.oddCut {
					break
				}
				t.Fatalf("%q: head %d: the scanner does not know its Host fields", stream, i)
			}
			// http.ReadRequest read the head: no more than one Host field.
			if host != (len(want) == 1) {
				t.Fatalf("%q: head %d: the scanner says Host field: %v, net/textproto counts %d", stream, i, host, len(want))
			}
			if host && bad == httpguts.ValidHostHeader(want[0]) {
				t.Fatalf("%q: head %d: the scanner says the Host %q is bad: %v, httpguts %v", stream, i, want[0], bad, !bad)
			}
		}
		if got == verdictCLTE && !bytes.Contains(bytes.ToLower(stream), []byte("content-length:")) {
			t.Fatalf("%q: CL+TE claimed without a Content-Length", stream)
		}
	})
}

// referenceFraming frames stream as net/http's server does and returns
// the verdict a scanner must reach, and the number of Host fields of each
// head read before it stopped; claim is false when net/http would
// refuse a request (or close after one) before the stream ends, after
// which the scanner may say anything but CL+TE for a head without
// Content-Length.
func referenceFraming(stream []byte) (verdict uint32, hosts [][]string, claim bool) {
	off, lastPOST := 0, false
	for off < len(stream) {
		rest := stream[off:]
		if lastPOST {
			n := 0
			for n < 4 && n < len(rest) && (rest[n] == '\r' || rest[n] == '\n') {
				n++
			}
			rest, off = rest[n:], off+n
			if len(rest) == 0 {
				break
			}
		}
		rd := bytes.NewReader(rest)
		br := bufio.NewReader(rd)
		req, err := http.ReadRequest(br)
		if err != nil {
			return 0, hosts, false
		}
		tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(rest)))
		if _, err := tp.ReadLine(); err != nil {
			return 0, hosts, false
		}
		h, err := tp.ReadMIMEHeader()
		if err != nil {
			return 0, hosts, false
		}
		hosts = append(hosts, h["Host"])
		if _, te := h["Transfer-Encoding"]; te && req.ProtoMajor == 1 && req.ProtoMinor == 0 {
			return verdictTE10, hosts, true // h1Conn closes after it
		}
		if req.ProtoMajor != 1 || req.Close {
			return 0, hosts, false // refused (505), or the last request
		}
		if len(req.TransferEncoding) > 0 {
			if _, ok := h["Content-Length"]; ok {
				return verdictCLTE, hosts, true
			}
			return verdictTE, hosts, true
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return 0, hosts, false
		}
		off += len(rest) - rd.Len() - br.Buffered()
		lastPOST = req.Method == "POST"
	}
	return verdictScanning, hosts, true
}

// BenchmarkFramingScanner is the scanner's cost per request on a
// keep-alive connection: a 400-byte browser head, GET, no body.
//
//	go test -run '^$' -bench BenchmarkFramingScanner -benchmem ./gateway
func BenchmarkFramingScanner(b *testing.B) {
	head := []byte("GET /api/items?page=2 HTTP/1.1\r\n" +
		"Host: app.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n" +
		"Accept: text/html,application/xhtml+xml\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\n" +
		"Referer: https://app.example.com/items\r\n" +
		"Sec-Fetch-Site: same-origin\r\n" +
		"Sec-Fetch-Mode: navigate\r\n" +
		"Sec-Fetch-Dest: document\r\n" +
		"Cookie: session=0123456789abcdef\r\n" +
		"\r\n")
	b.SetBytes(int64(len(head)))
	var s framingScanner
	for b.Loop() {
		s.Scan(head)
	}
	if s.Verdict() != verdictScanning {
		b.Fatal("scanner stopped")
	}
}

package gateway

import (
	"bufio"
	"bytes"
	"net"
	"testing"

	"github.com/pires/go-proxyproto"
)

// FuzzProxyHeader: whatever bytes a balancer sends, a header that
// validateProxyHeader accepts (not optional) names a TCP client with an
// IP address, and nothing panics. The parser is go-proxyproto's (fuzzed
// there too); this guards the gateway's use of its answers.
func FuzzProxyHeader(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 203.0.113.7 127.0.0.1 40001 443\r\n",
		"PROXY TCP6 2001:db8::7 ::1 40001 443\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY TCP4 203.0.113.x 127.0.0.1 1 2\r\n",
		"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00\x71\x07\x7f\x00\x00\x01\x9c\x41\x01\xbb",
		"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00",
		"\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c\xcb\x00\x71\x07\x7f\x00\x00\x01\x9c\x41\x01\xbb",
		"\x16\x03\x01\x00\xa5",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := proxyproto.Read(bufio.NewReader(bytes.NewReader(data)))
		if err != nil || h == nil {
			return
		}
		if validateProxyHeader(h, false) != nil {
			return
		}
		src, ok := h.SourceAddr.(*net.TCPAddr)
		if !ok || src.IP == nil || h.Command.IsLocal() {
			t.Fatalf("accepted header without a TCP client: %+v", h)
		}
	})
}

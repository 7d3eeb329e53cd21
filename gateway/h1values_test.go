package gateway_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// TestHeaderValuesCheckedByReadRequest: http.ReadRequest refuses a
// request whose field value has a byte that httpguts.ValidHeaderFieldValue
// refuses, and keeps one without, for every byte, in a value, at its
// start and end, and on a continuation line (obs-fold): h1Conn.readRequest
// relies on it to skip net/http's server's check of the values (which
// could then never fail). Should a Go release change textproto, this
// fails and the check must come back.
func TestHeaderValuesCheckedByReadRequest(t *testing.T) {
	for b := 0; b < 256; b++ {
		if b == '\n' {
			continue // a line's end: framing, not a value byte
		}
		c := string(rune(b))
		if b >= 0x80 {
			c = string([]byte{byte(b)})
		}
		for _, v := range []string{"a" + c + "b", c + "b", "a" + c} {
			for _, folded := range []bool{false, true} {
				raw := "GET / HTTP/1.1\r\nHost: x\r\nX-V: " + v + "\r\n\r\n"
				if folded {
					raw = "GET / HTTP/1.1\r\nHost: x\r\nX-V: first\r\n " + v + "\r\n\r\n"
				}
				req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
				valid := httpguts.ValidHeaderFieldValue(v)
				if err == nil {
					for _, got := range req.Header["X-V"] {
						if !httpguts.ValidHeaderFieldValue(got) {
							t.Errorf("byte %#x, value %q, folded %v: http.ReadRequest kept %q, which httpguts refuses", b, v, folded, got)
						}
					}
				} else if valid && !folded {
					t.Errorf("byte %#x, value %q: http.ReadRequest refused a valid value: %v", b, v, err)
				}
				if !valid && err == nil {
					t.Errorf("byte %#x, value %q, folded %v: http.ReadRequest kept an invalid value", b, v, folded)
				}
			}
		}
	}
}

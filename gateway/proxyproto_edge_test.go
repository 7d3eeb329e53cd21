package gateway_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/forgeproof/forgeproof/gateway"
)

// trickle writes b one byte per TCP segment (Go sets TCP_NODELAY), as a
// balancer's header may arrive split on a congested path.
func trickle(header func(net.Conn) []byte) func(net.Conn) []byte {
	return func(c net.Conn) []byte {
		b := header(c)
		for i := 0; i < len(b)-1; i++ {
			if _, err := c.Write(b[i : i+1]); err != nil {
				return nil
			}
		}
		return b[len(b)-1:]
	}
}

// v2TLVs is v2 with the TLVs balancers add: HAProxy's unique ID and
// authority, an AWS NLB's VPC endpoint ID (0xEA), and padding (NOOP).
func v2TLVs(src string) func(net.Conn) []byte {
	return func(c net.Conn) []byte {
		h := proxyproto.HeaderProxyFromAddrs(2, tcpAddr(src), c.RemoteAddr())
		if err := h.SetTLVs([]proxyproto.TLV{
			{Type: proxyproto.PP2_TYPE_AUTHORITY, Value: []byte("bank.example.com")},
			{Type: proxyproto.PP2_TYPE_UNIQUE_ID, Value: []byte("0123456789abcdef")},
			{Type: 0xEA, Value: []byte("\x01vpce-0123456789abcdef0")},
			{Type: proxyproto.PP2_TYPE_NOOP, Value: make([]byte, 7)},
		}); err != nil {
			panic(err)
		}
		b, err := h.Format()
		if err != nil {
			panic(err)
		}
		return b
	}
}

// TestProxyProtocolHeaderShapes: a v2 header split into one-byte
// segments, and one with TLVs, give the client's address as a header sent
// in one piece does (the twin, first). A v1 header is not split here:
// go-proxyproto takes v1 only from one read, so whether a split one is
// served depends on when the gateway reads (docs/scale-out.md).
func TestProxyProtocolHeaderShapes(t *testing.T) {
	t.Parallel()
	_, gw, buf := proxyWorld(t, &gateway.ProxyProtocol{Trusted: []string{"127.0.0.1"}})
	for _, tc := range []struct {
		name, path string
		header     func(net.Conn) []byte
		wantPeer   string
	}{
		{"v2 in one piece", "/api/whole", v2("198.51.100.1:1001"), "198.51.100.1:1001"},
		{"v1 in one piece", "/api/v1whole", v1("198.51.100.2:1002"), "198.51.100.2:1002"},
		{"v2 byte by byte", "/api/v2split", trickle(v2("198.51.100.3:1003")), "198.51.100.3:1003"},
		{"v2 with TLVs", "/api/tlv", v2TLVs("[2001:db8::4]:1004"), "[2001:db8::4]:1004"},
		{"v2 with TLVs byte by byte", "/api/tlvsplit", trickle(v2TLVs("198.51.100.5:1005")), "198.51.100.5:1005"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(t, gw.proxyClient(tc.header), "GET", gw.base+tc.path, nil, "")
			if status != 200 {
				t.Fatalf("got status %d (%s), want 200", status, body)
			}
			if got := accessPeers(t, buf, tc.path); len(got) != 1 || got[0] != tc.wantPeer {
				t.Errorf("access log peer: got %q, want %q", got, tc.wantPeer)
			}
		})
	}
	if r := refusals(t, buf); len(r) != 0 {
		t.Errorf("refusals: got %v, want none", r)
	}
}

// TestProxyProtocolPartialHeaderTimeout: a trusted peer that sends the
// start of a header and then nothing is cut off at the header timeout,
// refused as a malformed header, with optional too: it is not served
// under the balancer's address.
func TestProxyProtocolPartialHeaderTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		optional bool
		partial  string
	}{
		{"v1", false, "PROXY TCP4 203.0.113.7 "},
		{"v2", false, "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00"},
		{"v1 optional", true, "PROXY TCP4 203.0.113.7 "},
		{"v2 optional", true, "\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, gw, buf := proxyWorld(t, &gateway.ProxyProtocol{Trusted: []string{"127.0.0.1"}, Optional: tc.optional, HeaderTimeout: time.Second})
			conn, err := net.Dial("tcp", strings.TrimPrefix(gw.base, "https://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(tc.partial)); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(30 * time.Second)) // only so a broken gateway cannot hang the test
			b := make([]byte, 64)
			n, err := conn.Read(b)
			if err == nil {
				t.Fatalf("read: got %q, want the connection closed", b[:n])
			}
			if r := refusals(t, buf); len(r) != 1 || r[0]["reason"] != string(gateway.ReasonProxyHeaderInvalid) {
				t.Fatalf("refusals: got %v, want one %s", r, gateway.ReasonProxyHeaderInvalid)
			}
		})
	}
}

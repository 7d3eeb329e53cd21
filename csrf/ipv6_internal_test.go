package csrf

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestBrowserIPv6: the WHATWG URL serialisation of IPv6 addresses, which
// browsers put in Origin; netip's String differs only on IPv4-mapped
// addresses, which it writes with a dotted tail.
func TestBrowserIPv6(t *testing.T) {
	for in, want := range map[string]string{
		"::1":                  "::1",
		"0::1":                 "::1",
		"0:0:0:0:0:0:0:0":      "::",
		"1::":                  "1::",
		"2001:DB8:0:0:1:0:0:1": "2001:db8::1:0:0:1", // the first of two equal runs
		"2001:db8:0:0:0:1:0:0": "2001:db8::1:0:0",   // the longer run
		"1:0:1:1:1:1:1:1":      "1:0:1:1:1:1:1:1",   // one zero piece stays
		"::ffff:1.2.3.4":       "::ffff:102:304",
		"fe80::0a":             "fe80::a",
	} {
		if got := browserIPv6(netip.MustParseAddr(in)); got != want {
			t.Errorf("browserIPv6(%s) = %s, want %s", in, got, want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b [16]byte
		for i := range b {
			// Mostly zeros, so that runs of every length come up.
			if r.IntN(3) == 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		a := netip.AddrFrom16(b)
		if a.Is4In6() {
			continue
		}
		if got, want := browserIPv6(a), a.String(); got != want {
			t.Fatalf("browserIPv6(%x) = %s, netip says %s", b, got, want)
		}
	}
}

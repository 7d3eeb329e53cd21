package csrf

import (
	"net/netip"
	"testing"
)

// TestBrowserIPv6: the WHATWG URL serialisation of IPv6 addresses, which
// browsers put in Origin, for the cases where spellings differ: zero
// runs (the first longest), case, leading zeros, one zero piece, and
// IPv4-mapped addresses, which netip writes with a dotted tail.
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
		"::ffff:0.0.0.0":       "::ffff:0:0",
	} {
		if got := browserIPv6(netip.MustParseAddr(in)); got != want {
			t.Errorf("browserIPv6(%s) = %s, want %s", in, got, want)
		}
	}
}

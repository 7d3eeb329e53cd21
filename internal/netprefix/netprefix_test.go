package netprefix_test

import (
	"net/netip"
	"testing"

	"github.com/forgeproof/forgeproof/internal/netprefix"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want, err string
	}{
		{name: "IPv4 address", in: "10.0.0.1", want: "10.0.0.1/32"},
		{name: "IPv6 address", in: "::1", want: "::1/128"},
		{name: "IPv4-mapped address", in: "::ffff:10.0.0.1", want: "10.0.0.1/32"},
		{name: "IPv4 prefix", in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{name: "IPv6 prefix", in: "fd00::/8", want: "fd00::/8"},
		{name: "IPv4-mapped prefix", in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{name: "IPv4-mapped host prefix", in: "::ffff:10.0.0.1/128", want: "10.0.0.1/32"},
		{name: "short mapped prefix stays IPv6", in: "::fffe:0:0/95", want: "::fffe:0:0/95"},
		{name: "mapped host bits", in: "::ffff:0:0/95", err: "host bits are set (did you mean ::ffff:0.0.0.0 or ::fffe:0:0/95?)"},
		{name: "all of IPv4, mapped", in: "::ffff:0:0/96", err: "a /0 prefix would trust every peer"},
		{name: "IPv4 /1", in: "128.0.0.0/1", want: "128.0.0.0/1"},
		{name: "one-address prefix", in: "192.0.2.7/32", want: "192.0.2.7/32"},
		{name: "host bits", in: "10.0.0.1/8", err: "host bits are set (did you mean 10.0.0.1 or 10.0.0.0/8?)"},
		{name: "IPv6 host bits", in: "fd00::1/64", err: "host bits are set (did you mean fd00::1 or fd00::/64?)"},
		{name: "IPv4 /0", in: "0.0.0.0/0", err: "a /0 prefix would trust every peer"},
		{name: "IPv6 /0", in: "::/0", err: "a /0 prefix would trust every peer"},
		// Not "did you mean … or 0.0.0.0/0?": that would suggest what is refused.
		{name: "/0 with host bits", in: "10.0.0.1/0", err: "a /0 prefix would trust every peer"},
		{name: "IPv6 /0 with host bits", in: "fd00::1/0", err: "a /0 prefix would trust every peer"},
		{name: "all of IPv4, mapped, with host bits", in: "::ffff:10.0.0.0/96", err: "a /0 prefix would trust every peer"},
		{name: "mapped host bits within IPv4", in: "::ffff:10.0.0.1/104", err: "host bits are set (did you mean ::ffff:10.0.0.1 or ::ffff:10.0.0.0/104?)"},
		{name: "zone", in: "fe80::1%eth0", err: "zones are not allowed"},
		{name: "zone in prefix", in: "fe80::%eth0/64", err: "zones are not allowed"},
		{name: "host name", in: "proxy.internal", err: "not an IP address or CIDR prefix"},
		{name: "empty", in: "", err: "not an IP address or CIDR prefix"},
		{name: "bad length", in: "10.0.0.0/33", err: "not an IP address or CIDR prefix"},
		{name: "spaces", in: " 10.0.0.1", err: "not an IP address or CIDR prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := netprefix.Parse(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("Parse(%q): got %v, %v; want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("Parse(%q): got %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzParse checks that whatever Parse accepts is a masked prefix that is
// not /0 and contains the address that was written.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "::1", "::ffff:10.0.0.0/104", "10.0.0.0/8", "fe80::1%eth0", "0.0.0.0/0", "::ffff:0:0/95"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := netprefix.Parse(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p.Masked() != p || p.Bits() == 0 {
			t.Fatalf("Parse(%q) = %v: want a valid, masked, non-/0 prefix", s, p)
		}
		if a, err := netip.ParseAddr(s); err == nil && !p.Contains(a.Unmap()) {
			t.Fatalf("Parse(%q) = %v does not contain the address", s, p)
		}
	})
}

// Package netprefix parses the IP addresses and CIDR prefixes that name
// trusted peers (proxies, forwarders), so that one list means the same
// thing in the csrf, mtls and gateway packages.
package netprefix

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Parse parses an IP address, meaning that one address, or a CIDR prefix.
//
// An IPv4-mapped IPv6 form (::ffff:10.0.0.1, ::ffff:10.0.0.0/104) becomes
// the IPv4 prefix it names, because peer addresses are compared unmapped.
// Parse refuses zones; prefixes with host bits set, since 10.0.0.1/8 is a
// typo for 10.0.0.1 or for 10.0.0.0/8 and guessing wrong could trust a
// whole network; and /0, which would trust every peer. The error says
// why, without repeating s: callers name the setting and quote s.
func Parse(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address or CIDR prefix")
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errors.New("zones are not allowed")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if a, _, ok := strings.Cut(s, "/"); ok && strings.Contains(a, "%") {
			return netip.Prefix{}, errors.New("zones are not allowed")
		}
		return netip.Prefix{}, errors.New("not an IP address or CIDR prefix")
	}
	named := p
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		// ::ffff:10.0.0.0/104 is 10.0.0.0/8. A shorter prefix is not an
		// IPv4 range and stays IPv6: unmapping it would widen it to
		// 0.0.0.0/0.
		named = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	// Before the host bits: their hint would suggest a /0.
	if named.Bits() == 0 {
		return netip.Prefix{}, errors.New("a /0 prefix would trust every peer")
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("host bits are set (did you mean %s or %s?)", p.Addr(), p.Masked())
	}
	return named, nil
}

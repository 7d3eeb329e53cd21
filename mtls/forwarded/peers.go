package forwarded

import (
	"fmt"
	"net/netip"

	"github.com/forgeproof/forgeproof/internal/netprefix"
)

// ParseTrustedPeers parses addresses ("10.0.0.7", "::1") and CIDR prefixes
// ("10.1.0.0/16") for Trust.TrustedPeers. An address is a
// prefix of its full length. It refuses a prefix with host bits set
// ("10.1.2.3/16": did you mean 10.1.2.3 or 10.1.0.0/16?), a /0 (it would
// trust every peer) and addresses with a zone.
func ParseTrustedPeers(peers ...string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(peers))
	for _, s := range peers {
		p, err := netprefix.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("forwarded: invalid trusted peer %q: %w", s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// normalisePrefix writes an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104)
// as the IPv4 prefix it means, so that it matches unmapped peer addresses.
func normalisePrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() {
		bits := p.Bits() - 96
		if bits < 0 {
			// A prefix shorter than ::ffff:0:0/96 is not an IPv4 range;
			// Unmap would widen it to 0.0.0.0/0 and trust everyone.
			return p
		}
		return netip.PrefixFrom(a.Unmap(), bits).Masked()
	}
	return p.Masked()
}

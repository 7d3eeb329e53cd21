package mtls

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/forgeproof/forgeproof/internal/ascii"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// spiffeIDPattern matches SPIFFE IDs: an exact ID, or one whose path
// segments may be "*", standing for exactly one whole, non-empty segment
// (spiffe://prod.example/ns/*/sa/web). The trust domain is always exact.
type spiffeIDPattern struct {
	td       string
	segments []string // path segments; "*" is the wildcard
}

// parseSPIFFEIDPattern parses a SPIFFE ID pattern. A "*" that is not a
// whole segment ("web-*") is an error, not a literal.
func parseSPIFFEIDPattern(s string) (spiffeIDPattern, error) {
	rest, ok := strings.CutPrefix(s, "spiffe://")
	if !ok {
		return spiffeIDPattern{}, configError("invalid SPIFFE ID pattern %q: scheme must be spiffe://", s)
	}
	td, path, _ := strings.Cut(rest, "/")
	if _, err := spiffeid.TrustDomainFromString(td); err != nil || strings.Contains(td, "*") {
		return spiffeIDPattern{}, configError("invalid SPIFFE ID pattern %q: bad trust domain %q", s, td)
	}
	if path == "" && !strings.HasSuffix(rest, "/") {
		// Such an ID names the trust domain itself, which no workload's
		// certificate may carry (X509-SVID §3.1): the pattern could
		// never match.
		return spiffeIDPattern{}, configError("invalid SPIFFE ID pattern %q: it has no path, and a workload's SPIFFE ID always has one (to allow a whole trust domain, use trust domains)", s)
	}
	p := spiffeIDPattern{td: td}
	for _, seg := range strings.Split(path, "/") {
		if seg != "*" {
			if strings.Contains(seg, "*") {
				return spiffeIDPattern{}, configError("invalid SPIFFE ID pattern %q: %q: a wildcard must be a whole path segment", s, seg)
			}
			if err := spiffeid.ValidatePathSegment(seg); err != nil {
				return spiffeIDPattern{}, configError("invalid SPIFFE ID pattern %q: path segment %q: %v", s, seg, err)
			}
		}
		p.segments = append(p.segments, seg)
	}
	return p, nil
}

// Match reports whether id matches the pattern. The zero ID never matches.
func (p spiffeIDPattern) Match(id spiffeid.ID) bool {
	if id.IsZero() || id.TrustDomain().Name() != p.td {
		return false
	}
	// A pattern has at least one segment (parseSPIFFEIDPattern), so an
	// ID without a path never matches.
	path := id.Path()
	if path == "" {
		return false
	}
	path = path[1:] // spiffeid paths start with "/"
	for i, seg := range p.segments {
		var cur string
		if i == len(p.segments)-1 {
			cur, path = path, ""
			if strings.Contains(cur, "/") {
				return false // the ID has more segments than the pattern
			}
		} else {
			var ok bool
			cur, path, ok = strings.Cut(path, "/")
			if !ok {
				return false // the ID has fewer segments than the pattern
			}
		}
		if seg != "*" && seg != cur {
			return false
		}
		if cur == "" {
			return false
		}
	}
	return true
}

// String returns the pattern as it was written.
func (p spiffeIDPattern) String() string {
	return "spiffe://" + p.td + "/" + strings.Join(p.segments, "/")
}

// dnsPattern matches DNS names: an exact name, or "*.suffix", where "*"
// stands for exactly one whole, non-empty label (*.example.com matches
// a.example.com, not example.com nor a.b.example.com). Matching ignores
// ASCII case.
type dnsPattern struct {
	wildcard bool
	name     string // lower case; without "*." when wildcard
}

// parseDNSPattern parses a DNS name pattern.
func parseDNSPattern(s string) (dnsPattern, error) {
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return dnsPattern{}, configError("invalid DNS name pattern %q: %s", s, errIPPattern)
	}
	name, wildcard := strings.CutPrefix(ascii.Lower(s), "*.")
	if err := checkDNSName(name); err != nil {
		return dnsPattern{}, configError("invalid DNS name pattern %q: %v", s, err)
	}
	// An IPv4 address passes as digits and dots, but a certificate
	// carries one as an IP SAN, which is no DNS name: the pattern would
	// match only a certificate that spells the address as a DNS SAN,
	// which no CA should issue. No DNS name ends in an all-digit label.
	if labels := strings.Split(name, "."); strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return dnsPattern{}, configError("invalid DNS name pattern %q: %s", s, errIPPattern)
	}
	return dnsPattern{wildcard: wildcard, name: name}, nil
}

// errIPPattern says why an IP address is no DNS name pattern.
const errIPPattern = "an IP address is not a DNS name: a certificate carries it as an IP SAN, which no authorizer matches (allow the client by its SPIFFE ID, a DNS name or an SPKI pin)"

func checkDNSName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	if len(name) > 253 {
		return fmt.Errorf("name longer than 253 bytes")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" {
			return fmt.Errorf("empty label")
		}
		if len(label) > 63 {
			return fmt.Errorf("label longer than 63 bytes")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				if c == '*' {
					return fmt.Errorf("a wildcard is only allowed as the whole first label")
				}
				return fmt.Errorf("invalid character %q", c)
			}
		}
	}
	return nil
}

// Match reports whether the DNS name matches the pattern. A name that is
// itself a wildcard ("*.example.com" in a certificate) or is malformed
// never matches.
func (p dnsPattern) Match(name string) bool {
	name = ascii.Lower(name) // not strings.ToLower: it maps U+212A (Kelvin) to 'k'
	if checkDNSName(name) != nil {
		return false
	}
	if !p.wildcard {
		return name == p.name
	}
	first, rest, ok := strings.Cut(name, ".")
	return ok && first != "" && rest == p.name
}

// String returns the pattern in lower case.
func (p dnsPattern) String() string {
	if p.wildcard {
		return "*." + p.name
	}
	return p.name
}

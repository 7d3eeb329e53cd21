package csrf

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/forgeproof/forgeproof/internal/forwardedorigin"
)

// This file parses origins without allocating: the accept path compares the
// Origin header with the request's own origin byte for byte.

// sameOrigin reports whether o is exactly scheme "://" host. Browsers send
// Origin in lower case without a default port; host has been normalized the
// same way, so an exact comparison is both strict and correct.
func sameOrigin(o, scheme, host string) bool {
	if scheme == "" || host == "" {
		return false
	}
	// Scheme and host compare case-insensitively (RFC 3986 §3.1, §3.2.2):
	// browsers send a lower-case Origin, but a proxy may pass on
	// "Host: EXAMPLE.com", which is the same origin.
	if len(o) != len(scheme)+3+len(host) || o[len(scheme):len(scheme)+3] != "://" {
		return false
	}
	if o[:len(scheme)] == scheme && o[len(scheme)+3:] == host {
		return true // the common case, without folding case
	}
	return strings.EqualFold(o[:len(scheme)], scheme) &&
		strings.EqualFold(o[len(scheme)+3:], host)
}

// splitOrigin splits "scheme://host[:port]" and reports whether it has that
// form exactly: a valid scheme, a valid host and port, and nothing else (no
// user information, path, query or fragment).
func splitOrigin(s string) (scheme, hostport string, ok bool) {
	scheme, hostport, ok = strings.Cut(s, "://")
	if !ok || !validScheme(scheme) || !validHostPort(hostport) {
		return "", "", false
	}
	return scheme, hostport, true
}

// refererOrigin returns the origin of an absolute http or https URL: the
// scheme and authority, without path, query or fragment. Browsers strip user
// information from Referer, so a URL with any is refused. A DNS name with
// one trailing dot ("https://app.example./form", a page loaded under the
// absolute name) is kept as it is, as in Origin: it then matches only a
// Host with the same dot.
func refererOrigin(ref string) (string, bool) {
	scheme, rest, ok := strings.Cut(ref, "://")
	if !ok || (scheme != "https" && scheme != "http") {
		return "", false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if hp := rest[:end]; !validHostPort(hp) && !validDottedHostPort(hp) {
		return "", false
	}
	return ref[:len(scheme)+3+end], true
}

func validScheme(s string) bool {
	if s == "" || !isLowerAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isLowerAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// The host grammar, and the default ports, are forwardedorigin's: one
// set of rules for Origin, Referer and a trusted proxy's headers.
// A DNS name with one trailing dot ("app.example.", "app.example.:8443"),
// the absolute name browsers keep in the Origin and Referer of a page
// loaded under it, is valid only where validDottedHostPort is asked.
func validHostPort(hp string) bool       { return forwardedorigin.ValidHostPort(hp) }
func validDottedHostPort(hp string) bool { return forwardedorigin.ValidDottedHostPort(hp) }
func validPort(p string) bool            { return forwardedorigin.ValidPort(p) }
func stripDefaultPort(host, scheme string) string {
	return forwardedorigin.StripDefaultPort(host, scheme)
}

func isLowerAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

// originPattern is a validated trusted origin: exact, or a wildcard that
// stands for exactly one DNS label ("https://*.example.com").
type originPattern struct {
	scheme string
	// host is the normalized host[:port] of an exact origin, or for a
	// wildcard the part after "*": ".example.com" or ".example.com:8443".
	host     string
	wildcard bool
}

func (p originPattern) String() string {
	if p.wildcard {
		return p.scheme + "://*" + p.host
	}
	return p.scheme + "://" + p.host
}

// match reports whether the Origin header value o is matched by p.
func (p originPattern) match(o string) bool {
	if !p.wildcard {
		return sameOrigin(o, p.scheme, p.host)
	}
	rest, ok := strings.CutPrefix(o, p.scheme)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, "://")
	if !ok {
		return false
	}
	label, ok := strings.CutSuffix(rest, p.host)
	if !ok || label == "" {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !isLowerAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// parseOriginPattern validates a trusted or canonical origin given in
// configuration and normalizes it (lower case, no default port). Wildcards
// are accepted only when wildcardOK.
func parseOriginPattern(s string, wildcardOK bool) (originPattern, error) {
	fail := func(why string) (originPattern, error) {
		return originPattern{}, fmt.Errorf("invalid origin %q: %s", s, why)
	}
	if s == "" {
		return fail("empty")
	}
	if s == "null" {
		return fail(`"null" is sent by sandboxed and opaque documents and cannot be trusted`)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return fail("contains white space")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return fail(`scheme is required, as in "https://` + strings.TrimPrefix(s, "//") + `"`)
	}
	scheme = strings.ToLower(scheme)
	if !validScheme(scheme) {
		return fail("invalid scheme")
	}
	if strings.ContainsAny(rest, "/?#") {
		return fail("path, query and fragment are not allowed (an origin is scheme://host[:port])")
	}
	if strings.Contains(rest, "@") {
		return fail("user information is not allowed")
	}
	if rest == "" {
		return fail("host is required")
	}
	hostport := stripDefaultPort(strings.ToLower(rest), scheme)
	p := originPattern{scheme: scheme, host: hostport}
	if strings.Contains(hostport, "*") {
		if !wildcardOK {
			return fail("wildcards are not allowed here")
		}
		suffix, ok := strings.CutPrefix(hostport, "*.")
		if !ok || strings.Contains(suffix, "*") {
			return fail(`a wildcard must be the whole first label, as in "https://*.example.com"`)
		}
		if !validHostPort(suffix) || strings.HasPrefix(suffix, "[") {
			return fail("invalid host after the wildcard")
		}
		name := suffix
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			name = name[:i]
		}
		if !strings.Contains(name, ".") {
			return fail(`a wildcard needs at least two labels after it ("*.com" would trust every .com site)`)
		}
		if _, err := netip.ParseAddr(name); err == nil {
			return fail("a wildcard cannot precede an IP address")
		}
		p.host, p.wildcard = "."+suffix, true
		return p, nil
	}
	if !validHostPort(hostport) {
		if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.HasSuffix(hostport, "]") && !validPort(hostport[i+1:]) {
			return fail(fmt.Sprintf("port %q is not a number from 1 to 65535", hostport[i+1:]))
		}
		return fail("invalid host")
	}
	if strings.HasPrefix(hostport, "[") {
		end := strings.IndexByte(hostport, ']')
		a, _ := netip.ParseAddr(hostport[1:end])
		if a.Is4() {
			// validHostPort's netip takes it; a URL parser does not.
			return fail(fmt.Sprintf("an IPv4 address is written without brackets: %s://%s%s", scheme, a, hostport[end+1:]))
		}
		if want := browserIPv6(a); hostport[1:end] != want {
			// Browsers send one spelling; any other would never match.
			return fail(fmt.Sprintf("write the IPv6 address as browsers send it: %s://[%s]%s", scheme, want, hostport[end+1:]))
		}
	}
	return p, nil
}

// browserIPv6 is the WHATWG URL serialisation of an IPv6 address, the only
// one browsers put in Origin. It is RFC 5952's, which netip writes, except
// for an IPv4-mapped address, which WHATWG writes in hex too
// ("::ffff:102:304", where netip writes "::ffff:1.2.3.4").
func browserIPv6(a netip.Addr) string {
	if !a.Is4In6() {
		return a.String()
	}
	b := a.As4()
	return fmt.Sprintf("::ffff:%x:%x", uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|uint16(b[3]))
}

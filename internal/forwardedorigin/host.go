package forwardedorigin

import (
	"net/netip"
	"strconv"
	"strings"
)

// The host grammar below is the one csrf holds Origin and Referer hosts
// to as well, so that a host a trusted proxy reports and a host a
// browser sends are compared under the same rules.

// ValidHostPort accepts host[:port] where host is a registered name of
// letters, digits, '-', '_' and '.', or a bracketed IPv6 address, and port
// is a decimal number from 1 to 65535.
func ValidHostPort(hp string) bool {
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return false
		}
		if _, err := netip.ParseAddr(hp[1:end]); err != nil || strings.Contains(hp[1:end], "%") {
			return false
		}
		host, port = hp[:end+1], hp[end+1:]
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
			if port == "" {
				return false
			}
		}
	} else if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i+1:]
		if port == "" {
			return false
		}
	}
	if port != "" && !ValidPort(port) {
		return false
	}
	if strings.HasPrefix(host, "[") {
		return true
	}
	return ValidRegName(host)
}

// ValidDottedHostPort accepts a DNS name with exactly one trailing dot
// and an optional port ("app.example.", "app.example.:8443"): the
// absolute name a browser keeps in Host, Origin and Referer for a page
// loaded under it, and a proxy passes on in X-Forwarded-Host or
// Forwarded as it is. IP addresses and "app.example.." are refused.
func ValidDottedHostPort(hp string) bool {
	name := hp
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		if !ValidPort(hp[i+1:]) {
			return false
		}
		name = hp[:i]
	}
	name, ok := strings.CutSuffix(name, ".")
	if _, err := netip.ParseAddr(name); err == nil {
		return false // browsers send "192.0.2.1." as 192.0.2.1
	}
	return ok && ValidRegName(name)
}

// validReportedHost is the host grammar of X-Forwarded-Host and
// Forwarded's host: ValidHostPort's, or a name with one trailing dot.
func validReportedHost(hp string) bool { return ValidHostPort(hp) || ValidDottedHostPort(hp) }

// ValidRegName accepts a registered name of letters, digits, '-', '_'
// and '.', up to 253 bytes, with no empty label.
func ValidRegName(host string) bool {
	if host == "" || host[0] == '.' || host[len(host)-1] == '.' || len(host) > 253 {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'a' <= c && c <= 'z' || isDigit(c) || c == '-' || c == '_' {
			continue
		}
		if (c >= 'A' && c <= 'Z') || (c == '.' && host[i-1] != '.') {
			continue
		}
		return false
	}
	return true
}

// ValidPort accepts a decimal port from 1 to 65535 without leading zeros.
func ValidPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !isDigit(p[i]) {
			return false
		}
	}
	n, _ := strconv.Atoi(p)
	return n >= 1 && n <= 65535
}

// StripDefaultPort removes ":443" from an https host and ":80" from an
// http host, the form browsers use in Origin.
func StripDefaultPort(host, scheme string) string {
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return host[:len(host)-4]
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return host[:len(host)-3]
	}
	return host
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

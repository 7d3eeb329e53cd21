package csrf

import (
	"net/http"
	"net/netip"
	"strings"
)

// fromTrustedProxy reports whether the TCP peer is a trusted proxy. An
// unparsable RemoteAddr (a handler called outside net/http) is not trusted.
func (c *config) fromTrustedProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap().WithZone("")
	for _, p := range c.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedOrigin returns the scheme and host a trusted proxy reports for the
// request, from the last Forwarded element (RFC 7239) or else from the last
// X-Forwarded-Proto and X-Forwarded-Host values: the last ones are those the
// proxy we trust added; earlier ones came from further away and may be the
// client's. Values the proxy did not send are left empty. ok is false when
// a value is present but malformed: the caller then fails closed.
func forwardedOrigin(h http.Header) (scheme, host string, ok bool) {
	if v := lastValue(h["Forwarded"]); v != "" {
		var sawProto, sawHost bool
		for pair := range strings.SplitSeq(v, ";") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue // RFC 7239 §4: pairs are optional between ';'
			}
			k, val, found := strings.Cut(pair, "=")
			if !found {
				return "", "", false
			}
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			// RFC 7239 §4: a parameter occurs once per element; two are
			// ambiguous, and a proxy may have appended to the client's.
			switch strings.ToLower(k) {
			case "proto":
				if sawProto {
					return "", "", false
				}
				sawProto, scheme = true, strings.ToLower(val)
			case "host":
				if sawHost {
					return "", "", false
				}
				sawHost, host = true, val
			}
		}
	} else {
		scheme = strings.ToLower(lastValue(h["X-Forwarded-Proto"]))
		host = lastValue(h["X-Forwarded-Host"])
	}
	if scheme != "" && scheme != "https" && scheme != "http" {
		return "", "", false
	}
	if host != "" && !validHostPort(host) {
		return "", "", false
	}
	return scheme, host, true
}

// lastValue returns the last comma-separated element of the last header
// line, trimmed.
func lastValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	v := lines[len(lines)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// Package listenaddr compares listen addresses, so that forgeproof init
// and the gateway's config check refuse the same clashes.
package listenaddr

import (
	"net"
	"net/netip"
	"strings"
)

// Same reports whether listening on a and on b (host:port) would bind
// the same socket: the same port, and the same IP (localhost being
// 127.0.0.1, an IPv4-mapped IPv6 address its IPv4 one), or either on
// every interface (no host, 0.0.0.0 or ::). Port 0 never clashes, nor
// does an address that does not parse (its own check reports it).
func Same(a, b string) bool {
	ha, pa, okA := socket(a)
	hb, pb, okB := socket(b)
	return okA && okB && pa == pb && (ha == "" || hb == "" || ha == hb)
}

// socket is addr's host in one spelling ("" for every interface) and
// its port.
func socket(addr string) (host string, port int, ok bool) {
	h, ps, err := net.SplitHostPort(addr)
	if err != nil || ps == "" {
		return "", 0, false
	}
	port, err = net.LookupPort("tcp", ps)
	if err != nil || port == 0 {
		return "", 0, false
	}
	if strings.EqualFold(strings.TrimSuffix(h, "."), "localhost") {
		return "127.0.0.1", port, true
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip = ip.Unmap(); ip.IsUnspecified() {
			return "", port, true
		}
		return ip.String(), port, true
	}
	return strings.ToLower(h), port, true
}

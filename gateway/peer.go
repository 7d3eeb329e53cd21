package gateway

import (
	"net"
	"net/http"
	"net/netip"
)

// peerAddr is the TCP peer's IP (IPv4-mapped addresses unmapped), never a
// header; the zero Addr when RemoteAddr does not parse.
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// inPrefixes reports whether a is inside one of ps; an invalid address is
// in none (fail closed).
func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// trustedPeer reports whether r's peer is one of trusted-proxies, whose
// forwarding headers are believed. (Parsing the peer's address is
// skipped when no proxy is trusted.)
func (c *compiled) trustedPeer(r *http.Request) bool {
	return len(c.proxies) > 0 && inPrefixes(peerAddr(r), c.proxies)
}

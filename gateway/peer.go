package gateway

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/forgeproof/forgeproof/internal/forwardedorigin"
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

// readForwarded reads, for a request from a trusted proxy, what its
// Forwarded and X-Forwarded-Proto/-Host say of the request's origin into
// x, as the CSRF check reads them (forwardedorigin, shared with csrf), or
// returns why the request is refused: forwarded-invalid when one of them
// is malformed, forwarded-conflict when Forwarded names another origin
// than X-Forwarded-Proto/-Host. Every request from a trusted proxy is
// read, not only those whose origin the CSRF check works out: the
// upstream gets these headers (rewriteFiltered), and one that reads
// Forwarded first would otherwise build URLs with a host the client
// chose. A request from any other peer is left alone (its forwarding
// headers are dropped), and so costs nothing.
func (c *compiled) readForwarded(r *http.Request, x *exchange) (reason Reason, detail string) {
	if !c.trustedPeer(r) {
		return "", ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	rep, e := forwardedorigin.Read(r.Header, scheme, r.Host)
	switch {
	case e == nil:
		x.fwd, x.fwdRead = rep, true
		return "", ""
	case e.Kind == forwardedorigin.Conflict:
		// The line is not echoed; the cause names the two origins, parsed
		// (http or https, a valid host[:port]), so the operator sees which
		// proxy's header is wrong.
		return ReasonForwardedConflict, "the trusted proxy's Forwarded header " + e.Err.Error() +
			" (a proxy that passes the client's Forwarded on: have it set or delete the header)"
	default:
		return ReasonForwardedInvalid, "the trusted proxy's " + e.Header + " header is malformed: " + e.Err.Error()
	}
}

// checkForwarded is what serveHTTP and Decide refuse of a trusted
// proxy's forwarding headers: readForwarded's reading, then a forwarded
// host that selects another route than rt (forwardedRouteDiffers). One
// function, so that the two transports cannot drift apart.
func (c *compiled) checkForwarded(r *http.Request, x *exchange, rt *route) (reason Reason, detail string) {
	if reason, detail = c.readForwarded(r, x); reason != "" {
		return reason, detail
	}
	if c.forwardedRouteDiffers(r, x, rt) {
		return ReasonForwardedConflict, "the trusted proxy's forwarded host selects another route than the Host: the upstream would read the one, the gateway authorized the other"
	}
	return "", ""
}

// forwardedRouteDiffers reports whether the host a trusted proxy's
// headers name (read into x by readForwarded) selects another route for
// r's path than r's Host did (rt). That host goes on to the upstream in
// X-Forwarded-Host (and Forwarded), which Rack, Django, Express and
// Spring read as the request's host: a proxy that passes the client's
// header on would otherwise let a request authorized for one host's
// route be served as another host's. A route that authorizes alike
// (samePolicy) is no conflict: a proxy that rewrites Host may land
// there.
func (c *compiled) forwardedRouteDiffers(r *http.Request, x *exchange, rt *route) bool {
	if !x.fwdRead || x.fwd.Host == "" || rt == nil {
		return false
	}
	host, why := parseHost(x.fwd.Host)
	return why != "" || !samePolicy(c.findRoute(host, r.URL.Path), rt)
}

package csrf

import (
	"net/http"
	"net/netip"

	"github.com/forgeproof/forgeproof/internal/forwardedorigin"
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

// forwardedOrigin returns the scheme and host a trusted proxy reports for
// the request: from the last element of Forwarded (RFC 7239), else from
// the last X-Forwarded-Proto and X-Forwarded-Host values; empty where it
// names none. defScheme and defHost are the connection's and Host's,
// which fill in what Forwarded or X-Forwarded-* leaves out when the two
// are compared. A malformed value (ReasonForwardedInvalid) or a
// disagreement (ReasonForwardedConflict) is refused with the header, its
// line and the cause. The reading is forwardedorigin's, which the
// gateway shares: it refuses the same requests before they reach the
// check, and forwards what this reads.
func forwardedOrigin(h http.Header, defScheme, defHost string) (scheme, host string, e *Error) {
	rep, fe := forwardedorigin.Read(h, defScheme, defHost)
	if fe != nil {
		reason := ReasonForwardedInvalid
		if fe.Kind == forwardedorigin.Conflict {
			reason = ReasonForwardedConflict
		}
		return "", "", &Error{Reason: reason, Header: fe.Header, Value: fe.Value, Err: fe.Err}
	}
	return rep.Proto, rep.Host, nil
}

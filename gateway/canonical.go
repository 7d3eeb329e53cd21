package gateway

import (
	"net/http"
	"net/textproto"
	"slices"
)

// withCanonicalHeader returns r when every field name of its header is
// in canonical form, as net/http's servers (HTTP/1 and HTTP/2) leave
// them; else a shallow copy of r whose header has the names made
// canonical. Handler does this for requests of an embedder's server:
// the gateway's checks (CSRF's Origin and Sec-Fetch-Site, hop-by-hop and
// Upgrade stripping, identity and forwarding headers) look names up in
// canonical form, and the upstream request is written with the names as
// they are, so a non-canonical "origin" or "upgrade" would pass every
// check and still reach the upstream, which reads names in any case.
// Values of names that differ only in case are merged under the
// canonical one, in the names' byte order ("Origin" before "origin",
// though "ORIGIN" before both), so a request that had both keeps both
// values (two Origins are refused, as any request with two).
func withCanonicalHeader(r *http.Request) *http.Request {
	if headerCanonical(r.Header, false) {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.Header = canonicalHeader(r.Header)
	return r2
}

// headerCanonical reports whether every name in h is in canonical form,
// what textproto.CanonicalMIMEHeaderKey makes of it (a name textproto
// does not canonicalise, one with a space or other byte not allowed in a
// name, counts as canonical: the upstream request writer refuses it).
// With withValues, every name must also have at least one value:
// adoptHeader takes a header in place of what copyHeaders would copy,
// which leaves out a name with none.
func headerCanonical(h http.Header, withValues bool) bool {
	for k, vv := range h {
		if withValues && len(vv) == 0 {
			return false
		}
		if textproto.CanonicalMIMEHeaderKey(k) != k {
			return false
		}
	}
	return true
}

// canonicalHeader returns a copy of h with its names made canonical.
func canonicalHeader(h http.Header) http.Header {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(http.Header, len(h))
	for _, k := range keys {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		out[ck] = append(out[ck], h[k]...)
	}
	return out
}

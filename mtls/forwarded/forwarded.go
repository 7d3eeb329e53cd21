package forwarded

import (
	"fmt"
	"github.com/forgeproof/forgeproof/mtls"
	"net/http"
	"net/netip"
	"slices"

	"github.com/forgeproof/forgeproof/internal/problem"
)

// Trust accepts a client identity that a proxy in front of this
// service (a forwarder: forgeproof serve, Envoy, a load balancer) verified
// and passed on in a header, and only when the request comes from a
// forwarder it trusts. The zero value trusts no one: it strips the headers
// from every request and never sets a forwarded identity (fail closed).
//
// # Which forwarders are trusted
//
// A request comes from a trusted forwarder when every configured test
// passes, and at least one is configured:
//
//   - TrustForwarder: the peer presented a certificate on this TLS
//     connection, an mtls.Server verified it (its Handler stored the
//     connection identity in the context) or crypto/tls did
//     (mtls.IdentityFromTLS; an unverified certificate, as
//     tls.RequireAnyClientCert alone accepts, does not count), and the
//     authorizer accepts its identity;
//   - TrustedPeers: the peer's address (r.RemoteAddr, the TCP peer, never a
//     header) is inside one of the prefixes.
//
// Both together (a forwarder's certificate and its address) is the
// strictest setting. Addresses alone are only as good as the network that
// carries them: prefer the certificate.
//
// # What the middleware does
//
//   - From anyone else, it deletes every identity header under every
//     spelling (StripHeaders) and leaves the context as it is: a
//     connection identity stored by an earlier middleware is the client's.
//   - From a trusted forwarder with no identity header, the client had no
//     certificate: it removes any identity from the context, because the
//     connection identity is the forwarder's, not the client's.
//   - From a trusted forwarder with a valid header, it stores the forwarded
//     identity (Forwarded set) with mtls.ContextWithIdentity; it
//     replaces the forwarder's connection identity.
//   - From a trusted forwarder with a malformed header, or with RFC 9440
//     and XFCC headers that name different certificates, it refuses the
//     request with 400 and reason forwarded-identity-invalid (see
//     ReasonInvalid) rather than serve it as anonymous.
//
// Headers of the enabled formats from a trusted forwarder stay on the
// request (a handler may want the chain); every other spelling and format
// is deleted. Run Handler after mtls.Server.Handler (or any middleware that
// stores the connection identity), so that its decision is the last word:
//
//	handler := srv.Handler(fwd.Handler(app))
//
// Its methods are safe for concurrent use; do not change the fields after
// the first request.
//
// A forwarded certificate is not verified again: the forwarder did that.
// Configure the forwarder to verify client certificates against the CA
// this service would trust, and to delete client-sent copies of these
// headers (forgeproof serve does both), or verify the chain yourself
// (mtls.Server.VerifyChain), as forgeproof serve does for its own
// trusted forwarders unless told they verified.
type Trust struct {
	// TrustForwarder, if not nil, must accept the identity of the verified
	// certificate the peer presented on this connection. Use an authorizer
	// that names the forwarder exactly (its SPIFFE ID, DNS name or SPKI),
	// not one that accepts any verified certificate: every client of a
	// shared CA has one.
	TrustForwarder mtls.Authorizer

	// TrustedPeers, if not empty, must contain the peer's address. Build it
	// with ParseTrustedPeers, which refuses prefixes with host bits set and
	// /0. IPv4-mapped IPv6 addresses and prefixes are compared as IPv4. A
	// prefix built some other way that would contain every peer
	// (0.0.0.0/0, ::/0, ::ffff:0.0.0.0/96) or is invalid (the zero
	// netip.Prefix) contains none (fail closed): it would have believed
	// any client's header.
	TrustedPeers []netip.Prefix

	// Formats selects the header formats to read; zero means both
	// (Both).
	Formats Format

	// OnInvalid, if not nil, is called with the *Error of each request
	// refused for a malformed header from a trusted forwarder, for logs and
	// metrics. The response does not contain the error's details.
	OnInvalid func(r *http.Request, err error)
}

func (f *Trust) formats() Format { return f.Formats }

// Trusted reports whether r comes from a trusted forwarder.
func (f *Trust) Trusted(r *http.Request) bool {
	if f.TrustForwarder == nil && len(f.TrustedPeers) == 0 {
		return false
	}
	if f.TrustForwarder != nil {
		fid, ok := connectionIdentity(r)
		if !ok || f.TrustForwarder(fid) != nil {
			return false
		}
	}
	if len(f.TrustedPeers) > 0 {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return false // not a TCP peer (a Unix socket, a test): not trusted
		}
		addr := ap.Addr().Unmap().WithZone("")
		if !slices.ContainsFunc(f.TrustedPeers, func(p netip.Prefix) bool {
			p = normalisePrefix(p)
			return p.Bits() > 0 && p.Contains(addr) // /0 trusts no one
		}) {
			return false
		}
	}
	return true
}

// connectionIdentity is the identity of the certificate the peer presented
// on r's connection, verified: the one mtls.Server.Handler stored in the
// context (not Forwarded; a forwarded one is the client's,
// not the peer's), else one crypto/tls verified itself.
func connectionIdentity(r *http.Request) (mtls.Identity, bool) {
	if id, ok := mtls.IdentityFromContext(r.Context()); ok {
		return id, !id.Forwarded
	}
	return mtls.IdentityFromTLS(r.TLS)
}

// Identity returns the identity forwarded on r and true when r comes from a
// trusted forwarder and carries an identity header of an enabled format.
// It returns false and no error when the forwarder is not trusted (the
// headers are then ignored, whatever they hold) or sent no identity, and a
// *Error when a trusted forwarder sent a malformed header. It does
// not modify r.
//
// When both formats are enabled and present, they must name the same
// certificate: the XFCC element must carry a Hash or Cert that matches
// Client-Cert. The identity then comes from Client-Cert.
func (f *Trust) Identity(r *http.Request) (mtls.Identity, bool, error) {
	if !f.Trusted(r) {
		return mtls.Identity{}, false, nil
	}
	return forwardedIdentity(r.Header, f.formats())
}

func forwardedIdentity(h http.Header, formats Format) (mtls.Identity, bool, error) {
	var rfc, xfcc *mtls.Identity
	if formats.rfc9440() {
		certs, chain := h.Values(HeaderClientCert), h.Values(HeaderClientCertChain)
		if len(certs) == 0 && len(chain) > 0 {
			return mtls.Identity{}, false, &Error{Reason: ReasonInvalid, Header: HeaderClientCertChain, Detail: "present without Client-Cert"}
		}
		if len(certs) > 0 {
			cert, err := ParseClientCert(certs)
			if err != nil {
				return mtls.Identity{}, false, err
			}
			// The chain is checked for syntax only: a handler that wants it
			// parses it again from the header, which stays on the request.
			if _, err := ParseClientCertChain(chain); err != nil {
				return mtls.Identity{}, false, err
			}
			id := mtls.NewIdentity(cert)
			id.Forwarded = true
			rfc = &id
		}
	}
	if formats.xfcc() {
		if v := h.Values(HeaderXFCC); len(v) > 0 {
			elems, err := ParseXFCC(v)
			if err != nil {
				return mtls.Identity{}, false, err
			}
			// The last element is the one the nearest proxy (the trusted
			// forwarder) added about its own client; earlier ones were
			// passed along and are only as good as that proxy's checks.
			id := elems[len(elems)-1].Identity()
			xfcc = &id
		}
	}
	switch {
	case rfc != nil && xfcc != nil:
		if xfcc.CertSHA256 != rfc.CertSHA256 {
			reason := "names a different certificate than Client-Cert"
			if xfcc.CertSHA256 == ([32]byte{}) {
				reason = "has no Hash or Cert to match Client-Cert, which is also present"
			}
			return mtls.Identity{}, false, &Error{Reason: ReasonInvalid, Header: HeaderXFCC, Detail: reason}
		}
		return *rfc, true, nil
	case rfc != nil:
		return *rfc, true, nil
	case xfcc != nil:
		return *xfcc, true, nil
	}
	return mtls.Identity{}, false, nil
}

// Handler returns middleware that applies the rules in the type's
// documentation and calls next with the forwarded identity in the request
// context (mtls.IdentityFromContext).
func (f *Trust) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.Trusted(r) {
			StripHeaders(r.Header)
			next.ServeHTTP(w, r)
			return
		}
		formats := f.formats()
		id, ok, err := forwardedIdentity(r.Header, formats)
		if err != nil {
			if f.OnInvalid != nil {
				f.OnInvalid(r, err)
			}
			detail := "a trusted forwarder sent a malformed client identity header"
			if he, isHE := err.(*Error); isHE {
				// The header's name only: its value is not echoed back.
				detail = fmt.Sprintf("a trusted forwarder sent a malformed %s header", he.Header)
			}
			problem.Write(w, r, problem.Details{
				Status: http.StatusBadRequest,
				Reason: string(ReasonInvalid),
				Title:  "invalid forwarded client identity",
				Detail: detail,
			})
			return
		}
		keepEnabledHeaders(r.Header, formats)
		ctx := r.Context()
		if ok {
			ctx = mtls.ContextWithIdentity(ctx, id)
		} else {
			// The connection identity is the forwarder's, not the
			// client's: hide it.
			ctx = mtls.ContextWithIdentity(ctx, mtls.Identity{})
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// keepEnabledHeaders deletes every identity header except the canonical
// ones of the enabled formats.
func keepEnabledHeaders(h http.Header, formats Format) {
	var keep []string
	if formats.rfc9440() {
		keep = append(keep, HeaderClientCert, HeaderClientCertChain)
	}
	if formats.xfcc() {
		keep = append(keep, HeaderXFCC)
	}
	saved := make(map[string][]string, len(keep))
	for _, k := range keep {
		if v, ok := h[k]; ok {
			saved[k] = v
		}
	}
	StripHeaders(h)
	for k, v := range saved {
		h[k] = v
	}
}

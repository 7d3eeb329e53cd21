package gateway

import (
	"net/http"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// forwarder turns a Forwarder into the mtls rule that decides when
// a request's identity header may be believed.
func (p *compiler) forwarder(key string, f Forwarder) *forwarded.Trust {
	fw := &forwarded.Trust{}
	if len(f.Addresses) == 0 && len(f.SPIFFEIDs) == 0 {
		p.add(key, "names no forwarder: set addresses, spiffe-ids or both")
	}
	if len(f.Addresses) > 0 {
		peers, err := forwarded.ParseTrustedPeers(f.Addresses...)
		if err != nil {
			p.add(key+".addresses", "%v", err)
		}
		fw.TrustedPeers = peers
	}
	if len(f.SPIFFEIDs) > 0 {
		az, err := mtls.AuthorizeSPIFFEID(f.SPIFFEIDs...)
		if err != nil {
			p.add(key+".spiffe-ids", "%v", err)
		}
		fw.TrustForwarder = az
	}
	if f.Header == nil {
		p.add(key+".header", "is required: rfc9440, xfcc or both")
	} else {
		if _, err := f.Header.MarshalText(); err != nil {
			p.add(key+".header", "%s", withoutPackage(err))
		}
		fw.Formats = *f.Header
	}
	return fw
}

// forwardedIdentity returns the identity a trusted forwarder vouches for,
// whether the request came from one, and the refusal reason when the
// forwarder sent a malformed header (fail closed: a trusted forwarder that
// sends garbage is misconfigured or compromised).
func (c *compiled) forwardedIdentity(r *http.Request, connID *mtls.Identity) (id mtls.Identity, ok, trusted bool, reason Reason) {
	if len(c.forwarders) == 0 {
		return mtls.Identity{}, false, false, ""
	}
	if connID != nil {
		// forwarded.Trust finds the forwarder's verified identity in the
		// context, where mtls.Server.Handler would have put it.
		r = r.WithContext(mtls.ContextWithIdentity(r.Context(), *connID))
	}
	for _, fw := range c.forwarders {
		if !fw.Trusted(r) {
			continue
		}
		id, ok, err := fw.Identity(r)
		if err != nil {
			return mtls.Identity{}, false, true, Reason(forwarded.ReasonInvalid)
		}
		return id, ok, true, ""
	}
	return mtls.Identity{}, false, false, ""
}

package gateway

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"net/http"
	"time"

	"github.com/forgeproof/forgeproof/internal/boundedmap"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// trustedForwarder is a compiled Forwarder.
type trustedForwarder struct {
	*forwarded.Trust
	// verify: Forwarder.VerifiedByProxy is false.
	verify bool
}

// forwarder turns a Forwarder into the mtls rule that decides when
// a request's identity header may be believed.
func (p *compiler) forwarder(key string, f Forwarder) *trustedForwarder {
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
			p.add(key+".spiffe-ids", "%s", withoutPackage(err))
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
	return &trustedForwarder{Trust: fw, verify: !f.VerifiedByProxy}
}

// forwardedIdentity returns the identity a trusted forwarder vouches for,
// whether the request came from one, and the refusal reason when the
// forwarder sent a malformed header (fail closed: a trusted forwarder that
// sends garbage is misconfigured or compromised), or a certificate that
// the listener's verification refuses (unless the forwarder is
// VerifiedByProxy): then status is 403 and cause the mtls error.
func (c *compiled) forwardedIdentity(r *http.Request, listener int, connID *mtls.Identity) (id mtls.Identity, ok, trusted bool, status int, reason Reason) {
	if len(c.forwarders) == 0 {
		return mtls.Identity{}, false, false, 0, ""
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
			return mtls.Identity{}, false, true, http.StatusBadRequest, Reason(forwarded.ReasonInvalid)
		}
		if ok && fw.verify {
			vid, status, reason := c.verifyForwarded(r, listener, fw.Formats, id)
			if reason != "" {
				return mtls.Identity{}, false, true, status, reason
			}
			id = vid
		}
		return id, ok, true, 0, ""
	}
	return mtls.Identity{}, false, false, 0, ""
}

// verifiedForwards remembers the forwarded chains a listener's
// verification accepted, by the SHA-256 of the listener's index and their
// DER certificates, so that a forwarder's keep-alive connection carrying
// many requests of one client does not verify its chain for each. A
// compiled configuration has its own (a reload, new CRLs included, starts
// afresh); an entry is used only before its leaf's NotAfter.
const maxVerifiedForwards = 4096

type verifiedForward struct {
	id       mtls.Identity
	notAfter time.Time
}

func newVerifiedForwards() *boundedmap.Map[[32]byte, verifiedForward] {
	return boundedmap.New[[32]byte, verifiedForward](maxVerifiedForwards)
}

// verifyForwarded verifies the certificate id was read from, with the
// chain the request's headers carry, as listener's handshakes are
// verified (mtls.Server.VerifyChain).
func (c *compiled) verifyForwarded(r *http.Request, listener int, formats forwarded.Format, id mtls.Identity) (mtls.Identity, int, Reason) {
	srv := c.listenerServer(listener)
	if srv == nil || id.Certificate == nil {
		// Fail closed: nothing to verify against (the embedded handler
		// has no listener), or nothing to verify (an XFCC element with
		// a Hash but no Cert).
		return mtls.Identity{}, http.StatusBadRequest, Reason(forwarded.ReasonInvalid)
	}
	chain := forwardedChain(r.Header, formats, id.Certificate)
	// Keyed by the listener too: listeners may have other client CAs,
	// CRLs or trust domain bindings, and a chain one accepts must not
	// be taken as verified by another.
	h := sha256.New()
	var l [8]byte
	binary.BigEndian.PutUint64(l[:], uint64(listener))
	h.Write(l[:])
	for _, cert := range chain {
		h.Write(cert.Raw)
	}
	var key [32]byte
	h.Sum(key[:0])
	if v, ok := c.verifiedForwards.Get(key); ok && time.Now().Before(v.notAfter) {
		return v.id, 0, ""
	}
	vid, err := srv.VerifyChain(chain)
	if err != nil {
		return mtls.Identity{}, http.StatusForbidden, Reason(mtls.ReasonOf(err))
	}
	vid.Forwarded = true
	c.verifiedForwards.Put(key, verifiedForward{id: vid, notAfter: chain[0].NotAfter})
	return vid, 0, ""
}

// forwardedChain is leaf followed by the intermediates the request's
// headers carry: RFC 9440's Client-Cert-Chain (which leaves the leaf
// out), else the last XFCC element's Chain (which starts with it). The
// headers were parsed once already (forwarded.Trust.Identity), so errors
// cannot happen here; a chain that fails to parse is left out, and the
// verification then fails without it.
func forwardedChain(h http.Header, formats forwarded.Format, leaf *x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	if formats != forwarded.XFCC {
		if v := h.Values(forwarded.HeaderClientCertChain); len(v) > 0 {
			if cs, err := forwarded.ParseClientCertChain(v); err == nil {
				return append(chain, cs...)
			}
		}
		if len(h.Values(forwarded.HeaderClientCert)) > 0 {
			return chain
		}
	}
	if v := h.Values(forwarded.HeaderXFCC); len(v) > 0 {
		if elems, err := forwarded.ParseXFCC(v); err == nil {
			for _, c := range elems[len(elems)-1].Chain {
				if !c.Equal(leaf) {
					chain = append(chain, c)
				}
			}
		}
	}
	return chain
}

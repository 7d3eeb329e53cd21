package gateway

import (
	"fmt"

	"github.com/forgeproof/forgeproof/mtls"
)

// Reason codes of the gateway's own refusals. Authorization denials carry
// the mtls reason codes (identity-missing, identity-denied,
// spiffe-id-denied, …) and CSRF refusals the csrf ones (cross-site,
// origin-mismatch, token-missing, …).
const (
	// ReasonBrowserNotAllowed: the route does not serve browsers and the
	// request carries browser-only Fetch Metadata headers (403).
	ReasonBrowserNotAllowed = "browser-not-allowed"
	// ReasonNoRoute: no route matches the request's host and path (404).
	ReasonNoRoute = "no-route"
	// ReasonPathInvalid: the path has dot segments ("/a/../b"), which
	// could make the gateway and the upstream disagree on the route (400).
	ReasonPathInvalid = "path-invalid"
	// ReasonUpstreamUnavailable: the upstream could not be reached or
	// failed mid-response (502).
	ReasonUpstreamUnavailable = "upstream-unavailable"
	// ReasonUpstreamTimeout: the upstream did not answer in time (504).
	ReasonUpstreamTimeout = "upstream-timeout"
	// ReasonBodyTooLarge: the request body exceeds limits.max-body-bytes
	// (413).
	ReasonBodyTooLarge = "body-too-large"
)

// allow compiles an Allow list into an mtls.Authorizer that allows an
// identity matched by any entry. Deny by default: an empty list allows
// nobody.
func (p *problems) allow(key string, a Allow) mtls.Authorizer {
	var any []mtls.Authorizer
	if a.AnyVerified {
		any = append(any, mtls.AuthorizeAnyVerified())
	}
	each := func(sub string, list []string, build func(...string) (mtls.Authorizer, error)) {
		for i, s := range list {
			az, err := build(s)
			if err != nil {
				p.add(fmt.Sprintf("%s.%s[%d]", key, sub, i), "%v", err)
				continue
			}
			any = append(any, az)
		}
	}
	each("spiffe-ids", a.SPIFFEIDs, mtls.AuthorizeSPIFFEID)
	each("trust-domains", a.TrustDomains, mtls.AuthorizeTrustDomain)
	each("dns-names", a.DNSNames, mtls.AuthorizeDNSName)
	each("spki-pins", a.SPKIPins, mtls.AuthorizeSPKI)
	if len(a.CommonNames) > 0 {
		any = append(any, mtls.AuthorizeCommonName(a.CommonNames...))
	}
	if len(a.OrganizationalUnits) > 0 {
		any = append(any, mtls.AuthorizeOrganizationalUnit(a.OrganizationalUnits...))
	}
	listed := len(a.SPIFFEIDs) + len(a.TrustDomains) + len(a.DNSNames) + len(a.SPKIPins) + len(a.CommonNames) + len(a.OrganizationalUnits)
	if listed == 0 && !a.AnyVerified && !a.Unauthenticated {
		p.add(key, "allows nobody: list who may call the route (any-verified, spiffe-ids, trust-domains, dns-names, common-names, organizational-units, spki-pins) or set unauthenticated")
	}
	return mtls.AuthorizeAnyOf(any...)
}

package gateway

import (
	"fmt"
	"strings"

	"github.com/forgeproof/forgeproof/mtls"
)

// allow compiles an Allow list into an mtls.Authorizer that allows an
// identity matched by any entry. Deny by default: an empty list allows
// nobody.
func (p *compiler) allow(key string, a Allow) mtls.Authorizer {
	var any []mtls.Authorizer
	if a.AnyVerified {
		any = append(any, mtls.AuthorizeAnyVerified())
	}
	each := func(sub string, list []string, build func(...string) (mtls.Authorizer, error)) {
		for i, s := range list {
			az, err := build(s)
			if err != nil {
				p.add(fmt.Sprintf("%s.%s[%d]", key, sub, i), "%s", withoutPackage(err))
				continue
			}
			any = append(any, az)
		}
	}
	each("spiffe-ids", a.SPIFFEIDs, mtls.AuthorizeSPIFFEID)
	each("trust-domains", a.TrustDomains, mtls.AuthorizeTrustDomain)
	each("dns-names", a.DNSNames, mtls.AuthorizeDNSName)
	each("spki-pins", a.SPKIPins, mtls.AuthorizeSPKI)
	// An empty name matches no certificate (mtls skips empty subject
	// fields) but would count as an entry, hiding "allows nobody".
	for _, names := range []struct {
		sub  string
		list []string
	}{{"common-names", a.CommonNames}, {"organizational-units", a.OrganizationalUnits}} {
		for i, s := range names.list {
			if strings.TrimSpace(s) == "" {
				p.add(fmt.Sprintf("%s.%s[%d]", key, names.sub, i), "empty entry %q matches no certificate: write the name or remove the entry", s)
			}
		}
	}
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

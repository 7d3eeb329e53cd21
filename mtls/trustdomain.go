package mtls

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// parseTrustDomain reads a trust domain written "prod.example" or
// "spiffe://prod.example" and returns its name; instead says what to do
// with a SPIFFE ID written by mistake.
func parseTrustDomain(d, instead string) (string, error) {
	td, err := spiffeid.TrustDomainFromString(d)
	if err != nil {
		return "", fmt.Errorf("invalid trust domain %q: %v", d, err)
	}
	// TrustDomainFromString takes a whole SPIFFE ID too and keeps its
	// trust domain: an ID written here by mistake (for AuthorizeSPIFFEID)
	// would stand for every workload of the domain.
	if strings.Contains(d, ":/") && d != "spiffe://"+td.Name() {
		return "", fmt.Errorf("invalid trust domain %q: want %q or %q (a SPIFFE ID with a path names workloads: %s)", d, td.Name(), "spiffe://"+td.Name(), instead)
	}
	return td.Name(), nil
}

// trustDomainCAs binds client CAs to SPIFFE trust domains
// (Source.TrustDomain), as go-spiffe's bundle per trust domain does: a
// chain through a bound CA must end in an X509-SVID of one of its trust
// domains, and a certificate naming a bound trust domain in a spiffe URI
// must chain through one of that trust domain's CAs.
type trustDomainCAs struct {
	// byKey maps a bound CA's DER SubjectPublicKeyInfo to its trust
	// domains (a CA may serve several). Keyed by the key, not the
	// certificate: what a CA issues is signed by its key, whichever of
	// its certificates (renewed, cross-signed, sent by the client as an
	// intermediate) is in the chain.
	byKey map[string][]string
	// names are the bound trust domains, reserved to their CAs.
	names map[string]bool
}

// newTrustDomainCAs binds the CAs of each source in ClientCAs that has a
// TrustDomain (cas[i] are those of ClientCAs[i]); nil when none has. A
// CA in a bound and an unbound source at once is an error: it would be
// both limited and not.
func newTrustDomainCAs(srcs []Source, cas [][]*x509.Certificate) (*trustDomainCAs, []error) {
	var errs []error
	b := &trustDomainCAs{byKey: map[string][]string{}, names: map[string]bool{}}
	unbound := map[string]int{} // key → the first unbound source holding it
	for i, src := range srcs {
		if src.TrustDomain == "" {
			for _, ca := range cas[i] {
				if _, seen := unbound[string(ca.RawSubjectPublicKeyInfo)]; !seen {
					unbound[string(ca.RawSubjectPublicKeyInfo)] = i
				}
			}
			continue
		}
		td, err := parseTrustDomain(src.TrustDomain, "write the trust domain alone")
		if err != nil {
			errs = append(errs, configErrorf(fmt.Sprintf("ClientCAs[%d].TrustDomain", i), "%w", err))
			continue
		}
		b.names[td] = true
		for _, ca := range cas[i] {
			k := string(ca.RawSubjectPublicKeyInfo)
			if !slices.Contains(b.byKey[k], td) {
				b.byKey[k] = append(b.byKey[k], td)
			}
		}
	}
	if len(b.names) == 0 {
		return nil, errs
	}
	for i, src := range srcs {
		if src.TrustDomain == "" {
			continue
		}
		for _, ca := range cas[i] {
			if j, ok := unbound[string(ca.RawSubjectPublicKeyInfo)]; ok {
				errs = append(errs, configErrorf(fmt.Sprintf("ClientCAs[%d]", i), "%s: client CA %q is bound to trust domain %q here, and its key is also in ClientCAs[%d], which binds it to none: a CA is either limited to its trust domains or not; list it once",
					src.what(), ca.Subject.String(), src.TrustDomain, j))
			}
		}
	}
	return b, errs
}

// check refuses chain (leaf first) when it breaks a binding: a bound CA
// in it whose trust domains do not hold the leaf's SPIFFE ID, a spiffe
// URI SAN that is no valid SPIFFE ID (while any trust domain is bound),
// or one naming a bound trust domain none of whose CAs is in it. A nil b
// binds nothing.
func (b *trustDomainCAs) check(chain []*x509.Certificate) *Error {
	if b == nil {
		return nil
	}
	leaf := chain[0]
	id := leafSPIFFEID(leaf)
	var through []string // the trust domains of the bound CAs in chain
	for _, c := range chain[1:] {
		tds, ok := b.byKey[string(c.RawSubjectPublicKeyInfo)]
		if !ok {
			continue
		}
		through = append(through, tds...)
		switch {
		case id.IsZero():
			return &Error{Reason: ReasonUnknownAuthority, Err: fmt.Errorf("client certificate %q has no SPIFFE ID, and it is issued through client CA %q, which issues only X509-SVIDs of trust domain %s",
				leaf.Subject.String(), c.Subject.String(), strings.Join(tds, ", "))}
		case !slices.Contains(tds, id.TrustDomain().Name()):
			return &Error{Reason: ReasonUnknownAuthority, Err: fmt.Errorf("client certificate's SPIFFE ID %q is in trust domain %q, and it is issued through client CA %q, which issues only trust domain %s",
				id.String(), id.TrustDomain().Name(), c.Subject.String(), strings.Join(tds, ", "))}
		}
	}
	// Every spiffe URI, not only the leaf's SPIFFE ID (a second URI SAN,
	// which leaves it none, is forwarded too). Which trust domain
	// spiffe://Example.ORG/admin, spiffe:example.org/admin or
	// spiffe://x:y@example.org/admin names depends on who reads it: with
	// trust domains reserved, a spiffe URI must be a valid SPIFFE ID.
	for _, u := range leaf.URIs {
		if !strings.EqualFold(u.Scheme, "spiffe") {
			continue
		}
		uid, err := spiffeid.FromURI(u)
		if err != nil {
			return &Error{Reason: ReasonUnknownAuthority, Err: fmt.Errorf("client certificate's URI SAN %q is a spiffe URI but no valid SPIFFE ID (%v): the trust domain it names depends on who reads it, and trust domains are bound to client CAs",
				u.String(), err)}
		}
		if td := uid.TrustDomain().Name(); b.names[td] && !slices.Contains(through, td) {
			return &Error{Reason: ReasonUnknownAuthority, Err: fmt.Errorf("client certificate names trust domain %q in URI SAN %q, and none of that trust domain's client CAs issued it",
				td, u.String())}
		}
	}
	return nil
}

// bound reports whether chain (leaf first) passes through a CA bound to
// a trust domain: the leaf's identity is then its SPIFFE ID alone
// (spiffeOnly). A nil b binds nothing.
func (b *trustDomainCAs) bound(chain []*x509.Certificate) bool {
	if b == nil {
		return false
	}
	for _, c := range chain[1:] {
		if _, ok := b.byKey[string(c.RawSubjectPublicKeyInfo)]; ok {
			return true
		}
	}
	return false
}

// spiffeOnly is id without the names a CA bound to a trust domain does
// not vouch for (Identity.SPIFFEOnly).
func spiffeOnly(id Identity) Identity {
	id.SPIFFEOnly = true
	id.DNSNames, id.EmailAddresses = nil, nil
	id.CommonName, id.Organization, id.OrganizationalUnit = "", nil, nil
	return id
}

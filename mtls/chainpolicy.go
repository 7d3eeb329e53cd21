package mtls

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/forgeproof/forgeproof/internal/ascii"

	"github.com/forgeproof/forgeproof/internal/pemutil"
)

// minRSABits is the smallest RSA key a chain may hold: OpenSSL's default
// security level (2, 112-bit security) refuses smaller ones, so nginx
// and HAProxy do ("EE certificate key too small"), and NIST disallowed
// 1024-bit RSA signatures after 2013. Go's crypto/tls still accepts 1024.
const minRSABits = 2048

// checkChainPolicy makes the checks on a chain x509.Verify built that
// x509 does not make and OpenSSL (nginx, HAProxy) does, so that a chain
// those refuse is refused here too. chain is leaf first, anchor last.
//
//   - A key usage extension with no bit set (RFC 5280 §4.2.1.3 forbids
//     it; x509 reads it as no extension).
//   - An extended key usage extension without clientAuth on the leaf or
//     an intermediate the client sent: x509 lets anyExtendedKeyUsage
//     stand for clientAuth, OpenSSL does not ("unsuitable certificate
//     purpose"). The anchor is configuration, and OpenSSL does not check
//     its usages either.
//   - An RSA key shorter than minRSABits.
//   - A subject name that the chain's name constraints exclude but x509
//     does not check (see checkSubjectNameConstraints).
//   - A URI SAN whose host a URI name constraint without a leading '.'
//     does not name exactly, or a name constraint of a form x509 does not
//     check, such as directoryName (see checkNameConstraintsRFC).
//   - A DNS SAN on the leaf that is no host name: x509 takes any ASCII
//     ("a,By=x;URI=spiffe://td/admin"), and an upstream that splits the
//     forwarded X-Forwarded-Client-Cert on ',' and ';' without reading
//     its quotes would see a name the CA never meant to grant.
func checkChainPolicy(chain []*x509.Certificate) *Error {
	for _, n := range chain[0].DNSNames {
		if !isDNSName(n) {
			return &Error{Reason: ReasonBadCertificate, Err: fmt.Errorf("client certificate: DNS SAN %q is not a host name (letters, digits, '-', '_', '.', a leading \"*.\")", n)}
		}
	}
	for i, c := range chain {
		what := certRole(chain, i)
		if pemutil.EmptyKeyUsage(c) {
			err := errEmptyKeyUsage
			if i > 0 {
				err = fmt.Errorf("%s %q: %w", what, c.Subject.String(), errEmptyKeyUsage)
			}
			return &Error{Reason: ReasonWrongKeyUsage, Err: err}
		}
		if (i == 0 || i < len(chain)-1) && len(c.ExtKeyUsage)+len(c.UnknownExtKeyUsage) > 0 && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
			return &Error{Reason: ReasonWrongKeyUsage, Err: fmt.Errorf("%s %q: its extended key usage does not include clientAuth (anyExtendedKeyUsage does not count)", what, c.Subject.String())}
		}
		if k, ok := c.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
			return &Error{Reason: ReasonBadCertificate, Err: fmt.Errorf("%s %q: its RSA key has %d bits, fewer than %d", what, c.Subject.String(), k.N.BitLen(), minRSABits)}
		}
	}
	if err := checkSubjectNameConstraints(chain); err != nil {
		return &Error{Reason: ReasonBadCertificate, Err: err}
	}
	if err := checkNameConstraintsRFC(chain); err != nil {
		return &Error{Reason: ReasonBadCertificate, Err: err}
	}
	return nil
}

// oidNameConstraints is the name constraints extension (RFC 5280 §4.2.1.10).
var oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}

// checkNameConstraintsRFC makes two name constraint checks that x509
// makes more loosely than RFC 5280 and OpenSSL:
//
//   - A permitted URI constraint without a leading '.' "specifies a
//     host": "prod.example" allows spiffe://prod.example/…, not
//     spiffe://evil.prod.example/… (x509 reads it as a DNS constraint,
//     subdomains included). Excluded constraints x509 reads more widely,
//     which only refuses more.
//   - A constraint of a form x509 does not check (directoryName,
//     otherName, …): x509 refuses a chain whose critical name
//     constraints hold one and ignores it in a non-critical extension,
//     which would let a CA limited to O=Acme, OU=Partner issue
//     OU=Admins. Refused whatever its criticality.
func checkNameConstraintsRFC(chain []*x509.Certificate) error {
	leaf := chain[0]
	for i, ca := range chain[1:] {
		if form := uncheckedNameConstraint(ca); form != "" {
			return fmt.Errorf("%s %q: its name constraints hold a %s constraint, which forgeproof cannot check: the chain is refused rather than trusted beyond its constraints", certRole(chain, i+1), ca.Subject.String(), form)
		}
		if len(ca.PermittedURIDomains) == 0 {
			continue
		}
		for _, u := range leaf.URIs {
			host := u.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if !slices.ContainsFunc(ca.PermittedURIDomains, func(c string) bool {
				return strings.HasPrefix(c, ".") && matchDomain(host, c) || ascii.Lower(host) == ascii.Lower(c)
			}) {
				return fmt.Errorf("client certificate: URI SAN %q is not permitted by the URI name constraints of %q (a constraint without a leading '.' names one host, RFC 5280 §4.2.1.10)", u.String(), ca.Subject.String())
			}
		}
	}
	return nil
}

// uncheckedNameConstraint names the first name constraint of c whose
// form x509 does not check (all but rfc822Name, dNSName, URI and
// iPAddress), "" when there is none.
func uncheckedNameConstraint(c *x509.Certificate) string {
	forms := [...]string{0: "otherName", 3: "x400Address", 4: "directoryName", 5: "ediPartyName", 8: "registeredID"}
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidNameConstraints) {
			continue
		}
		var nc asn1.RawValue
		if _, err := asn1.Unmarshal(e.Value, &nc); err != nil {
			return "malformed" // x509 parsed it: cannot happen
		}
		for trees := nc.Bytes; len(trees) > 0; {
			var subtrees asn1.RawValue
			var err error
			if trees, err = asn1.Unmarshal(trees, &subtrees); err != nil {
				return "malformed"
			}
			for st := subtrees.Bytes; len(st) > 0; {
				var subtree, base asn1.RawValue
				if st, err = asn1.Unmarshal(st, &subtree); err != nil {
					return "malformed"
				}
				if _, err := asn1.Unmarshal(subtree.Bytes, &base); err != nil {
					return "malformed"
				}
				switch {
				case base.Class != asn1.ClassContextSpecific || base.Tag >= len(forms):
					return fmt.Sprintf("GeneralName class %d tag %d", base.Class, base.Tag)
				case forms[base.Tag] != "":
					return forms[base.Tag]
				}
			}
		}
	}
	return ""
}

// certRole names chain[i] in messages.
func certRole(chain []*x509.Certificate, i int) string {
	switch i {
	case 0:
		return "client certificate"
	case len(chain) - 1:
		return "client CA"
	}
	return "intermediate"
}

// oidEmailAddress is the PKCS #9 emailAddress attribute of a subject.
var oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// checkSubjectNameConstraints applies the DNS and email name constraints
// of the chain's CAs to the leaf's subject, as OpenSSL does and x509 does
// not (x509 checks SANs only): each common name that reads as a host
// name, when the leaf has no DNS SAN (OpenSSL's rule), and each
// emailAddress attribute. Otherwise a CA limited to example.com could
// issue CN=admin.evil.org, which AuthorizeCommonName and an upstream
// reading the forwarded certificate would believe.
func checkSubjectNameConstraints(chain []*x509.Certificate) error {
	leaf := chain[0]
	var hosts, emails []string
	for _, a := range leaf.Subject.Names {
		s, ok := a.Value.(string)
		switch {
		case a.Type.Equal(oidCommonName) && ok && len(leaf.DNSNames) == 0 && isHostName(s):
			hosts = append(hosts, s)
		case a.Type.Equal(oidEmailAddress):
			if !ok {
				return fmt.Errorf("client certificate: subject emailAddress is not a string")
			}
			emails = append(emails, s)
		}
	}
	for _, ca := range chain[1:] {
		for _, h := range hosts {
			if !nameAllowed(h, ca.PermittedDNSDomains, ca.ExcludedDNSDomains, matchDomain) {
				return fmt.Errorf("client certificate: subject common name %q is not allowed by the DNS name constraints of %q", h, ca.Subject.String())
			}
		}
		for _, e := range emails {
			if !nameAllowed(e, ca.PermittedEmailAddresses, ca.ExcludedEmailAddresses, matchEmail) {
				return fmt.Errorf("client certificate: subject emailAddress %q is not allowed by the email name constraints of %q", e, ca.Subject.String())
			}
		}
	}
	return nil
}

// nameAllowed reports whether name matches one of permitted (or permitted
// is empty) and none of excluded.
func nameAllowed(name string, permitted, excluded []string, match func(name, constraint string) bool) bool {
	if slices.ContainsFunc(excluded, func(c string) bool { return match(name, c) }) {
		return false
	}
	return len(permitted) == 0 || slices.ContainsFunc(permitted, func(c string) bool { return match(name, c) })
}

// matchDomain is RFC 5280's and x509's DNS constraint: "example.com"
// matches it and its subdomains, ".example.com" its subdomains only.
func matchDomain(host, constraint string) bool {
	host, constraint = ascii.Lower(host), ascii.Lower(constraint)
	if constraint == "" {
		return true
	}
	if strings.HasPrefix(constraint, ".") {
		return strings.HasSuffix(host, constraint)
	}
	return host == constraint || strings.HasSuffix(host, "."+constraint)
}

// matchEmail is x509's email constraint: a mailbox ("a@example.com")
// matches exactly, a domain as matchDomain does. An address without
// "@" matches nothing.
func matchEmail(addr, constraint string) bool {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return false
	}
	if c := strings.LastIndexByte(constraint, '@'); c >= 0 {
		return addr[:at] == constraint[:c] && ascii.Lower(addr[at+1:]) == ascii.Lower(constraint[c+1:])
	}
	return matchDomain(addr[at+1:], constraint)
}

// isDNSName reports whether a DNS SAN is made of host name characters:
// letters, digits, '-', '_' (internal names), '.', and '*' as a whole
// first label.
func isDNSName(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// isHostName reports whether a common name reads as a host name, as
// OpenSSL decides whether to check it against DNS constraints: labels of
// letters, digits, '-' and '_', at least two of them.
func isHostName(s string) bool {
	labels := strings.Split(strings.TrimSuffix(s, "."), ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

package mtls

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/forgeproof/forgeproof/internal/pemutil"
)

// crl is one loaded revocation list, already checked against its issuer.
type crl struct {
	source  string // file name or "CRLs[i]"
	field   string // "CRLs[i]"
	list    *x509.RevocationList
	revoked map[string]bool // serial numbers, by serialKey
}

// serialKey keys a serial number by its sign and magnitude: big.Int.Bytes
// drops the sign, and a CRL entry for -5 (RFC 5280 §4.1.2.2 wants
// positive serials, but x509 parses negative ones, on CRLs and
// certificates alike) must not revoke the certificate with serial 5.
func serialKey(n *big.Int) string {
	if n.Sign() < 0 {
		return "-" + string(n.Bytes())
	}
	return "+" + string(n.Bytes())
}

// parseCRLs parses DER or PEM data (PEM may hold several X509 CRL
// blocks), in full (pemutil.ParseCRLs).
func parseCRLs(data []byte, source string) ([]*x509.RevocationList, error) {
	lists, err := pemutil.ParseCRLs(data)
	if err != nil {
		return nil, fmt.Errorf("crl %s: %w", source, err)
	}
	return lists, nil
}

// crlKey names the CA a CRL belongs to: its subject and public key, not
// its certificate, so that a renewed CA certificate (same name and key)
// finds the CRL whichever of the two a chain was built through.
func crlKey(ca *x509.Certificate) string {
	return string(ca.RawSubject) + string(ca.RawSubjectPublicKeyInfo) // both DER: self-delimiting
}

// crlClockSkew is how far in the future a CRL's ThisUpdate may be when
// it is loaded. A CRL whose ThisUpdate is later than that is refused, as
// OpenSSL refuses it (X509_V_ERR_CRL_NOT_YET_VALID): this host's clock or
// the CA's is wrong, or the CRL was signed ahead of its time and misses
// the revocations made until then. Issuers set ThisUpdate to the moment
// they sign, and a CRL is fetched seconds later: a few minutes absorb
// the drift of clocks that are synchronised but not perfectly, so that a
// fresh CRL (with new revocations) is not refused, and the previous one
// kept, over a clock a few seconds behind the CA's.
const crlClockSkew = 5 * time.Minute

// loadCRLs checks each list's signature against the client CAs and its
// ThisUpdate against now, and keys the newest list of each CA by crlKey.
// prev (may be nil) is the current state: a CA's newest list older than
// the one in use is refused, so an attacker who can swap files cannot
// roll revocations back.
func loadCRLs(lists []*x509.RevocationList, sources, fields []string, cas []*x509.Certificate, prev map[string]*crl, now time.Time) (map[string]*crl, []error) {
	out := map[string]*crl{}
	var keys []string // of out, in the order of lists
	var errs []error
	for i, l := range lists {
		src, field := sources[i], fields[i]
		var issuer *x509.Certificate
		for _, ca := range cas {
			if string(ca.RawSubject) == string(l.RawIssuer) && l.CheckSignatureFrom(ca) == nil {
				issuer = ca
				break
			}
		}
		if issuer == nil {
			errs = append(errs, configErrorf(field, "crl %s: %s", src, whyNoCRLIssuer(l, cas)))
			continue
		}
		if l.Number == nil {
			errs = append(errs, configErrorf(field, "crl %s: no CRL number", src))
			continue
		}
		if err := checkCRLScope(l); err != nil {
			errs = append(errs, configErrorf(field, "crl %s: %w", src, err))
			continue
		}
		if l.ThisUpdate.After(now.Add(crlClockSkew)) {
			errs = append(errs, configErrorf(field, "crl %s is not yet valid: its this update %s is after now (%s) by more than %s (check this host's clock and the CA's)", src, l.ThisUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), crlClockSkew))
			continue
		}
		c := &crl{source: src, field: field, list: l, revoked: make(map[string]bool, len(l.RevokedCertificateEntries))}
		for _, e := range l.RevokedCertificateEntries {
			c.revoked[serialKey(e.SerialNumber)] = true
		}
		key := crlKey(issuer)
		if have := out[key]; have == nil {
			keys = append(keys, key)
			out[key] = c
		} else if l.Number.Cmp(have.list.Number) > 0 {
			out[key] = c
		}
	}
	// Only the newest list of each CA is compared with the one in use: a
	// file that keeps a CA's earlier CRLs next to its current one rolls
	// nothing back, and must reload as it loaded.
	for _, key := range keys {
		c := out[key]
		if old := prev[key]; old != nil && c.list.Number.Cmp(old.list.Number) < 0 {
			errs = append(errs, configErrorf(c.field, "crl %s: CRL number %s is older than the one in use (%s)", c.source, c.list.Number, old.list.Number))
			delete(out, key)
		}
	}
	return out, errs
}

// whyNoCRLIssuer says why no client CA may have issued l: none signed
// it, or one whose key signed it may not sign CRLs (RFC 5280 §4.2.1.3
// cRLSign, §4.2.1.9 cA), as OpenSSL refuses ("key usage does not include
// CRL signing").
func whyNoCRLIssuer(l *x509.RevocationList, cas []*x509.Certificate) string {
	for _, ca := range cas {
		if string(ca.RawSubject) != string(l.RawIssuer) || ca.CheckSignature(l.SignatureAlgorithm, l.RawTBSRevocationList, l.Signature) != nil {
			continue
		}
		switch {
		case ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCRLSign == 0:
			return fmt.Sprintf("signed by the key of client CA %q, whose key usage does not include cRLSign: reissue the CA certificate with cRLSign, or sign the CRL with a key that may", ca.Subject.String())
		case !ca.IsCA:
			return fmt.Sprintf("signed by the key of client CA %q, which is not a CA certificate (basic constraints without cA): it may not sign CRLs", ca.Subject.String())
		}
	}
	return "not signed by any client CA (the CRL of an intermediate needs that intermediate among the client CAs)"
}

// OIDs of the CRL extensions checkCRLScope knows (RFC 5280 §5.2, §5.3).
var (
	oidAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCRLNumber        = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidDeltaCRL         = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistPoint = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidReasonCode       = asn1.ObjectIdentifier{2, 5, 29, 21}
)

// checkCRLScope refuses a CRL that is not a complete list of its issuer's
// revocations. x509.ParseRevocationList accepts any extension, but RFC 5280
// says a CRL with a critical extension the verifier cannot process must not
// be used: a delta CRL lists only the revocations since its base CRL, and
// an issuing distribution point limits a CRL to one partition (or to CA
// certificates only). Read as complete, either would un-revoke everything
// it does not list, and, with a higher CRL number, replace the real list.
func checkCRLScope(l *x509.RevocationList) error {
	for _, e := range l.Extensions {
		switch {
		case e.Id.Equal(oidDeltaCRL):
			return errors.New("is a delta CRL (Delta CRL Indicator): use the complete CRL")
		case e.Id.Equal(oidIssuingDistPoint):
			return errors.New("has an issuing distribution point (a partial CRL): use a complete CRL without one")
		case e.Critical && !e.Id.Equal(oidAuthorityKeyID) && !e.Id.Equal(oidCRLNumber):
			return fmt.Errorf("has unsupported critical extension %s", e.Id)
		}
	}
	for _, entry := range l.RevokedCertificateEntries {
		for _, e := range entry.Extensions {
			// A critical entry extension, such as the Certificate Issuer
			// of an indirect CRL, changes what the entries mean.
			if e.Critical && !e.Id.Equal(oidReasonCode) {
				return fmt.Errorf("entry for serial %s has unsupported critical extension %s", entry.SerialNumber.Text(16), e.Id)
			}
		}
	}
	return nil
}

// stale reports whether c may no longer be relied on at now.
func (c *crl) stale(now time.Time, grace time.Duration) bool {
	// A CRL without NextUpdate never says until when it is good: treat it
	// as stale (fail closed); InsecureAllowStaleCRL accepts it.
	return c.list.NextUpdate.IsZero() || now.After(c.list.NextUpdate.Add(grace))
}

// checkRevocation checks every certificate of a verified chain against
// its issuer's CRL, which must be there when any CRL is configured (as
// OpenSSL's CRL_CHECK_ALL, nginx's ssl_crl, refuse "unable to get
// certificate CRL"): an intermediate whose revocation cannot be checked
// is refused like a leaf. The chain ends at a client CA, which may
// itself be an intermediate issued by another client CA (bundles often
// list both): it is checked against that CA's CRL too. Only a self-issued
// anchor, or one whose issuer is not a client CA, goes unchecked.
func (st *state) checkRevocation(chain []*x509.Certificate, now time.Time) *Error {
	if len(st.crls) == 0 {
		return nil
	}
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		c := st.crls[crlKey(issuer)]
		if c == nil {
			return &Error{Reason: ReasonCRLMissing, Err: fmt.Errorf("no CRL for issuer %q of %s %q", issuer.Subject.String(), certRole(chain, i), cert.Subject.String())}
		}
		if herr := st.checkOne(c, cert, now); herr != nil {
			return herr
		}
	}
	anchor := chain[len(chain)-1]
	for _, c := range st.anchorCRLs[string(anchor.Raw)] {
		if c == nil {
			return &Error{Reason: ReasonCRLMissing, Err: fmt.Errorf("no CRL for the client CA that issued client CA %q", anchor.Subject.String())}
		}
		if herr := st.checkOne(c, anchor, now); herr != nil {
			return herr
		}
	}
	return nil
}

// checkOne checks cert against c, the CRL of its issuer.
func (st *state) checkOne(c *crl, cert *x509.Certificate, now time.Time) *Error {
	if !st.allowStale && c.stale(now, st.crlGrace) {
		return &Error{Reason: ReasonCRLStale, Err: fmt.Errorf("CRL %s of %q passed its next update %s", c.source, c.list.Issuer.String(), c.list.NextUpdate.Format(time.RFC3339))}
	}
	if c.revoked[serialKey(cert.SerialNumber)] {
		return &Error{Reason: ReasonRevoked, Err: fmt.Errorf("certificate serial %s is revoked by CRL %s (number %s)", cert.SerialNumber.Text(16), c.source, c.list.Number)}
	}
	return nil
}

// anchorCRLs maps each client CA certificate (by its DER) issued by
// another client CA to that issuer's CRL, nil when it has none. Chains
// end at the first client CA they reach, so without this a CRL revoking
// an intermediate listed in the bundle would never be consulted. Issuers
// with one key share a CRL (crlKey); where issuedBy cannot tell which of
// two keys of one name signed (an unknown algorithm, no key identifiers),
// the client CA is checked against the CRL of each, and one without a CRL
// fails closed.
func anchorCRLs(cas []*x509.Certificate, crls map[string]*crl) map[string][]*crl {
	out := map[string][]*crl{}
	for _, ca := range cas {
		if string(ca.RawIssuer) == string(ca.RawSubject) {
			continue // self-issued: a root
		}
		var keys []string
		for _, issuer := range cas {
			if k := crlKey(issuer); issuedBy(ca, issuer) && !slices.Contains(keys, k) {
				keys = append(keys, k)
				out[string(ca.Raw)] = append(out[string(ca.Raw)], crls[k])
			}
		}
	}
	return out
}

// issuedBy reports whether issuer's key signed ca, a client CA, to pick
// the CRL that covers ca. It is no path check (ca is a trust anchor, whose
// own signature crypto/x509 never checks) and errs on the side of
// consulting a CRL: Certificate.CheckSignatureFrom would refuse a SHA-1
// signature, or an issuer without the certificate-signing key usage, and
// so leave a revoked intermediate unchecked, as if its issuer were not a
// client CA. A signature that cannot be checked at all (MD5, an unknown
// algorithm) counts unless the authority key identifier names another key,
// so two issuers of one name may both count (anchorCRLs then consults
// both CRLs).
func issuedBy(ca, issuer *x509.Certificate) bool {
	if string(issuer.RawSubject) != string(ca.RawIssuer) {
		return false
	}
	err := issuer.CheckSignature(ca.SignatureAlgorithm, ca.RawTBSCertificate, ca.Signature)
	if err == nil {
		return true
	}
	var insecure x509.InsecureAlgorithmError
	if errors.As(err, &insecure) || errors.Is(err, x509.ErrUnsupportedAlgorithm) {
		return len(ca.AuthorityKeyId) == 0 || len(issuer.SubjectKeyId) == 0 || bytes.Equal(ca.AuthorityKeyId, issuer.SubjectKeyId)
	}
	return false
}

var errNoCRLs = errors.New("no CRL in file")

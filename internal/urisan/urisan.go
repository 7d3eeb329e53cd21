// Package urisan compares a certificate's URI SANs as crypto/x509 reads
// them with how the certificate spells them. x509 parses each with
// url.Parse, which may write it back otherwise (it drops an empty
// fragment: spiffe://td/x# reads as spiffe://td/x), so a reader of the
// parsed URL and a reader of the certificate's bytes can see two names.
package urisan

import (
	"crypto/x509"
	"encoding/asn1"
	"net/url"
	"strings"
)

// oidSubjectAltName is the subject alternative name extension.
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// Respelled returns the first URI SAN of cert that cert.URIs writes
// otherwise than the certificate's bytes spell it, the scheme's case
// aside (RFC 3986 §3.1: case-insensitive), with its parsed form; found
// is false when there is none, or cert has no subject alternative name
// extension that parses (a Certificate built from fields).
func Respelled(cert *x509.Certificate) (raw, parsed string, found bool) {
	if len(cert.URIs) == 0 {
		// Nothing to compare, and no SAN walk (asn1.Unmarshal
		// allocates): most client certificates, on every handshake.
		return "", "", false
	}
	i := 0
	for _, e := range cert.Extensions {
		if !e.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(e.Value, &names); err != nil || len(rest) > 0 {
			return "", "", false // x509 parsed it: cannot happen
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != 6 {
				continue
			}
			if i < len(cert.URIs) && !SameSpelling(string(n.Bytes), cert.URIs[i]) {
				return string(n.Bytes), cert.URIs[i].String(), true
			}
			i++
		}
	}
	return "", "", false
}

// SameSpelling reports whether raw is u as u.String() writes it, the
// scheme's case aside.
func SameSpelling(raw string, u *url.URL) bool {
	s := u.String()
	n := len(u.Scheme)
	return len(raw) == len(s) && strings.EqualFold(raw[:n], s[:n]) && raw[n:] == s[n:]
}

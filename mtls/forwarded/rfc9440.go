package forwarded

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
)

// The header names of RFC 9440 ("Client-Cert HTTP Header Field").
const (
	// HeaderClientCert carries the client's end-entity certificate as a
	// Structured Fields byte sequence of its DER encoding: ":base64:".
	HeaderClientCert = "Client-Cert"
	// HeaderClientCertChain carries the rest of the chain the client sent,
	// leaf excluded, in TLS order: a Structured Fields list of byte
	// sequences. It never appears without Client-Cert.
	HeaderClientCertChain = "Client-Cert-Chain"
)

// maxChainCerts bounds how many certificates a forwarded chain may hold.
// Real chains have two to four; the bound keeps a hostile header from
// making us parse hundreds of certificates.
const maxChainCerts = 16

// FormatClientCert returns the RFC 9440 Client-Cert field value of cert:
// its DER encoding in base64 between colons.
func FormatClientCert(cert *x509.Certificate) string {
	return formatSFBinary(cert.Raw)
}

// FormatClientCertChain returns the RFC 9440 Client-Cert-Chain field value
// of chain, which must not include the leaf (it goes in Client-Cert).
// It returns "" for an empty chain: send no Client-Cert-Chain then.
func FormatClientCertChain(chain []*x509.Certificate) string {
	var b strings.Builder
	for i, c := range chain {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(formatSFBinary(c.Raw))
	}
	return b.String()
}

func formatSFBinary(der []byte) string {
	return ":" + base64.StdEncoding.EncodeToString(der) + ":"
}

// ParseClientCert parses the values of the RFC 9440 Client-Cert header
// (all its lines, as http.Header.Values returns them) and returns the
// certificate. The field is a singleton: more than one line is an error,
// and so is anything around the byte sequence, Structured Fields
// parameters included (RFC 9440 defines none). It does not verify the
// certificate: that is the forwarder's job, and why a Client-Cert must be
// accepted only from a trusted forwarder.
func ParseClientCert(values []string) (*x509.Certificate, error) {
	fail := func(format string, args ...any) error {
		return &Error{Reason: ReasonInvalid, Header: HeaderClientCert, Detail: fmt.Sprintf(format, args...)}
	}
	switch len(values) {
	case 0:
		return nil, fail("header is missing")
	case 1:
	default:
		return nil, fail("header appears %d times, want once", len(values))
	}
	p := sfParser{s: values[0]}
	p.skipSP()
	der, err := p.binary()
	if err != nil {
		return nil, fail("%s", err)
	}
	p.skipSP()
	if !p.done() {
		return nil, fail("unexpected %q after the byte sequence", p.rest())
	}
	cert, err := parseDER(der)
	if err != nil {
		return nil, fail("%s", err)
	}
	return cert, nil
}

// ParseClientCertChain parses the values of the RFC 9440 Client-Cert-Chain
// header (all its lines, in order: the list may be split across lines) and
// returns the certificates in the order sent. No values, or only empty
// ones, is an empty chain. Every member must be a byte sequence holding
// one DER certificate, without parameters; at most 16 members.
func ParseClientCertChain(values []string) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	member := 0
	for _, v := range values {
		p := sfParser{s: v}
		p.skipSP()
		for !p.done() {
			member++
			fail := func(format string, args ...any) error {
				return &Error{Reason: ReasonInvalid, Header: HeaderClientCertChain, Element: member, Detail: fmt.Sprintf(format, args...)}
			}
			if member > maxChainCerts {
				return nil, fail("more than %d certificates", maxChainCerts)
			}
			if p.peek() == ',' {
				return nil, fail("empty member")
			}
			der, err := p.binary()
			if err != nil {
				return nil, fail("%s", err)
			}
			cert, err := parseDER(der)
			if err != nil {
				return nil, fail("%s", err)
			}
			chain = append(chain, cert)
			p.skipOWS()
			if p.done() {
				break
			}
			if c := p.peek(); c != ',' {
				return nil, fail("unexpected %q after the byte sequence, want ','", p.rest())
			}
			p.i++
			p.skipOWS()
			if p.done() {
				return nil, fail("trailing ','")
			}
		}
	}
	return chain, nil
}

func parseDER(der []byte) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("not a DER certificate: %v", err)
	}
	return cert, nil
}

// sfParser reads the small part of RFC 9651 (Structured Field Values) that
// RFC 9440 uses: byte sequences, and lists of them.
type sfParser struct {
	s string
	i int
}

func (p *sfParser) done() bool   { return p.i >= len(p.s) }
func (p *sfParser) peek() byte   { return p.s[p.i] }
func (p *sfParser) rest() string { return truncate(p.s[p.i:]) }

func (p *sfParser) skipSP() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// binary reads ":base64:" and, strictly, refuses what may follow it in a
// Structured Field but has no meaning here (parameters).
func (p *sfParser) binary() ([]byte, error) {
	if p.done() {
		return nil, fmt.Errorf("missing byte sequence")
	}
	switch c := p.peek(); {
	case c == ':':
	case c == '(':
		return nil, fmt.Errorf("inner list, want a byte sequence")
	default:
		return nil, fmt.Errorf("%q is not a byte sequence (want \":base64:\")", p.rest())
	}
	start := p.i + 1
	end := strings.IndexByte(p.s[start:], ':')
	if end < 0 {
		return nil, fmt.Errorf("byte sequence has no closing ':'")
	}
	b64 := p.s[start : start+end]
	p.i = start + end + 1
	if b64 == "" {
		return nil, fmt.Errorf("empty byte sequence")
	}
	for j := 0; j < len(b64); j++ {
		c := b64[j]
		if !(isAlnum(c) || c == '+' || c == '/' || c == '=') {
			return nil, fmt.Errorf("byte sequence: invalid base64 character %q at offset %d", c, j)
		}
	}
	// RFC 9651 §4.2.7: parsers should not fail on missing padding (nor on
	// non-zero pad bits, which Go's non-strict decoder ignores); padding
	// that is present must be correct.
	enc := base64.StdEncoding
	if !strings.Contains(b64, "=") {
		enc = base64.RawStdEncoding
	}
	der, err := enc.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("byte sequence: invalid base64: %v", err)
	}
	if !p.done() && p.peek() == ';' {
		return nil, fmt.Errorf("parameters are not allowed")
	}
	return der, nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// truncate shortens attacker-controlled text quoted in an error.
func truncate(s string) string {
	const max = 40
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

package forwarded

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/forgeproof/forgeproof/internal/pemutil"
	"github.com/forgeproof/forgeproof/internal/urisan"
	"github.com/forgeproof/forgeproof/mtls"
)

// HeaderXFCC is Envoy's x-forwarded-client-cert header, in Go's canonical
// form.
const HeaderXFCC = "X-Forwarded-Client-Cert"

// maxXFCCElements bounds how many elements (proxies) an XFCC header may
// list. A request crosses a handful of proxies, not hundreds.
const maxXFCCElements = 32

// An XFCCElement is one element of an x-forwarded-client-cert header: what
// one proxy says about the client certificate it verified. Every field is
// optional; the proxy's configuration decides which it sends.
type XFCCElement struct {
	// By lists the URI SANs of the proxy's own certificate.
	By []string
	// Hash is the SHA-256 of the client's DER certificate; zero when absent.
	Hash [32]byte
	// Cert is the client's certificate (sent URL-encoded PEM); nil when
	// absent.
	Cert *x509.Certificate
	// Chain is the client's chain, leaf first (sent URL-encoded PEM).
	Chain []*x509.Certificate
	// Subject is the certificate's subject as the proxy printed it.
	Subject string
	// URI and DNS are the certificate's URI and DNS SANs.
	URI []*url.URL
	DNS []string
}

// ParseXFCC parses the values of an x-forwarded-client-cert header (all
// its lines, as http.Header.Values returns them) as Envoy documents it:
// elements separated by ',', each a list of key=value pairs separated by
// ';'. Keys are By, Hash, Cert, Chain, Subject, URI and DNS, in any case;
// By, URI and DNS may repeat, the others may not. A value that holds ',',
// ';', '=' or '"' is double-quoted, with '"' written as \" and every other
// backslash kept as is (Envoy's only escape: it writes OpenSSL's RFC 2253
// subject inside the quotes unchanged, "\," and "\\" included). Cert and
// Chain are URL-encoded PEM.
//
// Readers disagree on a backslash before \": one reading left to right
// takes `"a\\";` as a\ and an escaped quote, one reading backslash
// pairs as a\ and the end of the value, so the rest of the element
// shifts between keys. Such a value, and one that ends with a
// backslash, is refused (see SetHeaders for the writing side).
//
// The parser is strict: an unknown key, an empty element, an unterminated
// quote, a backslash before an escaped quote or at the end of a value, a
// Hash that is not 64 hexadecimal digits, a URI that is not an absolute
// URI or does not parse back to itself (spiffe://td/x#), a Cert or Chain
// that is not PEM certificates, a Hash that does not match Cert, or a
// Chain whose first certificate is not Cert is a *Error naming the
// element, the key and the cause.
//
// It does not verify any certificate: accept an XFCC header only from a
// trusted forwarder (see Trust). When several proxies appended
// their element, the last one is from the proxy nearest to this server.
func ParseXFCC(values []string) ([]XFCCElement, error) {
	var elems []XFCCElement
	for _, v := range values {
		p := xfccParser{s: v, element: len(elems) + 1}
		got, err := p.parse()
		if err != nil {
			return nil, err
		}
		elems = append(elems, got...)
		if len(elems) > maxXFCCElements {
			return nil, &Error{Reason: ReasonInvalid, Header: HeaderXFCC, Detail: fmt.Sprintf("more than %d elements", maxXFCCElements)}
		}
	}
	if len(elems) == 0 {
		return nil, &Error{Reason: ReasonInvalid, Header: HeaderXFCC, Detail: "header is missing"}
	}
	return elems, nil
}

type xfccParser struct {
	s       string
	i       int
	element int // 1-based number of the element being parsed
	key     string
}

func (p *xfccParser) fail(format string, args ...any) error {
	return &Error{Reason: ReasonInvalid, Header: HeaderXFCC, Element: p.element, Key: p.key, Detail: fmt.Sprintf(format, args...)}
}

func (p *xfccParser) done() bool { return p.i >= len(p.s) }

func (p *xfccParser) skipOWS() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *xfccParser) parse() ([]XFCCElement, error) {
	var elems []XFCCElement
	for {
		p.skipOWS()
		if p.done() || p.s[p.i] == ',' {
			return nil, p.fail("empty element")
		}
		var e XFCCElement
		var seen uint8 // bit i: xfccKeys[i] was set
		for {
			p.key = ""
			p.skipOWS()
			if p.done() || p.s[p.i] == ';' || p.s[p.i] == ',' {
				return nil, p.fail("empty key=value pair")
			}
			key, err := p.readKey()
			if err != nil {
				return nil, err
			}
			p.key = key
			val, err := p.readValue()
			if err != nil {
				return nil, err
			}
			k := slices.IndexFunc(xfccKeys[:], func(name string) bool { return strings.EqualFold(name, key) })
			if k < 0 {
				return nil, p.fail("unknown key (want By, Hash, Cert, Chain, Subject, URI or DNS)")
			}
			if seen&(1<<k) != 0 && !xfccRepeatable(k) {
				return nil, p.fail("key appears more than once in the element")
			}
			seen |= 1 << k
			if err := p.set(&e, xfccKeys[k], val); err != nil {
				return nil, err
			}
			if p.done() || p.s[p.i] == ',' {
				break
			}
			p.i++ // ';'
		}
		p.key = ""
		if err := p.check(&e); err != nil {
			return nil, err
		}
		elems = append(elems, e)
		if p.done() {
			return elems, nil
		}
		p.i++ // ','
		p.element++
		if p.element > maxXFCCElements {
			return nil, &Error{Reason: ReasonInvalid, Header: HeaderXFCC, Detail: fmt.Sprintf("more than %d elements", maxXFCCElements)}
		}
	}
}

// readKey reads a key up to '=' and leaves p.i after the '='.
func (p *xfccParser) readKey() (string, error) {
	start := p.i
	for !p.done() && isAlnum(p.s[p.i]) {
		p.i++
	}
	key := p.s[start:p.i]
	if p.done() || p.s[p.i] != '=' {
		end := p.i
		for end < len(p.s) && p.s[end] != ';' && p.s[end] != ',' && p.s[end] != '=' {
			end++
		}
		return "", p.fail("%q is not key=value", truncate(p.s[start:end]))
	}
	if key == "" {
		return "", p.fail("empty key")
	}
	p.i++
	return key, nil
}

// readValue reads a quoted or bare value and leaves p.i on the ';' or ','
// that follows it, or at the end.
func (p *xfccParser) readValue() (string, error) {
	if !p.done() && p.s[p.i] == '"' {
		p.i++
		// Fast path: no backslash before the closing quote, so the value
		// is a substring (a URL-encoded Cert is kilobytes of this).
		for j := p.i; j < len(p.s) && p.s[j] != '\\'; j++ {
			if c := p.s[j]; c == '"' {
				v := p.s[p.i:j]
				p.i = j + 1
				return v, p.afterQuoted()
			} else if isCTL(c) {
				p.i = j
				return "", p.fail("control character %q in value", c)
			}
		}
		var b strings.Builder
		for {
			if p.done() {
				return "", p.fail("unterminated quoted value")
			}
			c := p.s[p.i]
			switch {
			case c == '"':
				p.i++
				return b.String(), p.afterQuoted()
			case c == '\\' && p.i+1 < len(p.s) && p.s[p.i+1] == '"':
				if p.s[p.i-1] == '\\' {
					return "", p.fail(`backslash before an escaped quote: readers disagree on where the value ends`)
				}
				b.WriteByte('"')
				p.i += 2
			case isCTL(c):
				return "", p.fail("control character %q in value", c)
			default:
				b.WriteByte(c)
				p.i++
			}
		}
	}
	start := p.i
	for !p.done() && p.s[p.i] != ';' && p.s[p.i] != ',' {
		c := p.s[p.i]
		if c == '"' {
			return "", p.fail("'\"' inside an unquoted value")
		}
		if isCTL(c) {
			return "", p.fail("control character %q in value", c)
		}
		p.i++
	}
	v := strings.TrimRight(p.s[start:p.i], " \t")
	if strings.HasSuffix(v, `\`) {
		// Quoted again by FormatXFCC, it would escape the closing quote.
		return "", p.fail("value ends with a backslash")
	}
	return v, nil
}

// afterQuoted checks that only whitespace separates a closing quote from
// the next ';' or ','.
func (p *xfccParser) afterQuoted() error {
	p.skipOWS()
	if !p.done() && p.s[p.i] != ';' && p.s[p.i] != ',' {
		return p.fail("unexpected %q after the quoted value", truncate(p.s[p.i:]))
	}
	return nil
}

func isCTL(c byte) bool { return (c < 0x20 && c != '\t') || c == 0x7f }

// xfccKeys are the keys Envoy documents, in the order it writes them.
var xfccKeys = [...]string{"By", "Hash", "Cert", "Chain", "Subject", "URI", "DNS"}

// xfccRepeatable reports whether xfccKeys[k] may appear more than once in
// an element (one per SAN).
func xfccRepeatable(k int) bool {
	switch xfccKeys[k] {
	case "By", "URI", "DNS":
		return true
	}
	return false
}

// set stores val under name, one of xfccKeys.
func (p *xfccParser) set(e *XFCCElement, name, val string) error {
	switch name {
	case "By":
		if val == "" {
			return p.fail("empty value")
		}
		e.By = append(e.By, val)
	case "Hash":
		if len(val) != 2*sha256.Size {
			return p.fail("%q is not 64 hexadecimal digits", truncate(val))
		}
		if _, err := hex.Decode(e.Hash[:], []byte(val)); err != nil {
			return p.fail("%q is not 64 hexadecimal digits", truncate(val))
		}
	case "Cert":
		certs, err := p.pemCerts(val)
		if err != nil {
			return err
		}
		if len(certs) != 1 {
			return p.fail("holds %d certificates, want 1", len(certs))
		}
		e.Cert = certs[0]
	case "Chain":
		certs, err := p.pemCerts(val)
		if err != nil {
			return err
		}
		e.Chain = certs
	case "Subject":
		e.Subject = val
	case "URI":
		u, err := url.Parse(val)
		if err != nil || u.Scheme == "" || val == "" {
			return p.fail("%q is not an absolute URI", truncate(val))
		}
		if !urisan.SameSpelling(val, u) {
			// url.Parse drops an empty fragment (spiffe://td/x# reads
			// as spiffe://td/x): the ID read would not be the one sent.
			return p.fail("%q reads as %q once parsed: send the URI as the certificate spells it, in a form that parses back to itself", truncate(val), truncate(u.String()))
		}
		e.URI = append(e.URI, u)
	case "DNS":
		if val == "" || strings.ContainsAny(val, " \t") {
			return p.fail("%q is not a DNS name", truncate(val))
		}
		e.DNS = append(e.DNS, val)
	}
	return nil
}

// pemCerts decodes URL-encoded PEM holding only CERTIFICATE blocks.
func (p *xfccParser) pemCerts(val string) ([]*x509.Certificate, error) {
	// PathUnescape, not QueryUnescape: a '+' left unencoded is base64, not
	// a space.
	raw, err := url.PathUnescape(val)
	if err != nil {
		return nil, p.fail("invalid URL encoding: %v", err)
	}
	rest := []byte(raw)
	var certs []*x509.Certificate
	for {
		// pemutil.Next, not pem.Decode, which skips a damaged block: a
		// damaged leaf would leave its issuer to be read as the client.
		block, next, err := pemutil.Next(rest)
		if err != nil {
			return nil, p.fail("certificate %d %v", len(certs)+1, err)
		}
		if block == nil {
			break
		}
		rest = next
		if block.Type != "CERTIFICATE" {
			return nil, p.fail("PEM block %q, want CERTIFICATE", truncate(block.Type))
		}
		if len(certs) == maxChainCerts {
			return nil, p.fail("more than %d certificates", maxChainCerts)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, p.fail("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, p.fail("not PEM certificates (unexpected %q)", truncate(string(bytes.TrimSpace(rest))))
	}
	if len(certs) == 0 {
		return nil, p.fail("no PEM certificate")
	}
	return certs, nil
}

// check refuses an element whose fields contradict each other.
func (p *xfccParser) check(e *XFCCElement) error {
	if e.Cert == nil {
		return nil
	}
	if e.Hash != ([32]byte{}) && e.Hash != sha256.Sum256(e.Cert.Raw) {
		p.key = "Hash"
		return p.fail("does not match the SHA-256 of Cert")
	}
	if len(e.Chain) > 0 && !e.Chain[0].Equal(e.Cert) {
		p.key = "Chain"
		return p.fail("first certificate is not Cert")
	}
	return nil
}

// Identity returns what the element says about the client, with Forwarded
// set. With a Cert it is mtls.NewIdentity of that certificate;
// otherwise it holds only what the proxy sent: Hash as CertSHA256, Subject,
// URI (and the SPIFFE ID when there is exactly one URI and it is one) and
// DNS. CommonName, Organization, OrganizationalUnit, Issuer, SerialNumber,
// validity and SPKISHA256 are then unknown (zero): authorizers that need
// them refuse such an identity, so forward Cert when they are used.
//
// Without Cert, nothing tells whether the certificate was a CA: the
// SPIFFE ID is read from URI alone, and the X509-SVID rule that a CA
// certificate has none (see mtls.NewIdentity) rests on the forwarder.
// OpenSSL and nginx accept a CA certificate (an intermediate, with its
// key) as a client certificate, so a forwarder should forward Cert
// (Envoy: set_current_client_cert_details with cert: true), as
// forgeproof's gateway does.
func (e XFCCElement) Identity() mtls.Identity {
	if e.Cert != nil {
		id := mtls.NewIdentity(e.Cert)
		id.Forwarded = true
		return id
	}
	// The SPIFFE ID as NewIdentity reads it from the URI SANs.
	uris := mtls.NewIdentity(&x509.Certificate{URIs: e.URI})
	return mtls.Identity{
		SPIFFEID:   uris.SPIFFEID,
		URIs:       e.URI,
		DNSNames:   e.DNS,
		Subject:    e.Subject,
		CertSHA256: e.Hash,
		Forwarded:  true,
	}
}

// FormatXFCC returns the x-forwarded-client-cert value of elems, in the
// order given, with each element's keys in Envoy's order (By, Hash, Cert,
// Chain, Subject, URI, DNS). Subject, Cert and Chain are always quoted, as
// Envoy does; other values only when they need it, with '"' written as
// \" and backslashes as they are (see ParseXFCC). Subject is taken to be
// an RFC 4514 string: its escapes \\ and \" are written as \5C and \22,
// which RFC 4514 readers decode the same, so that no reader of the
// header sees a backslash it could take for an escape of the header's
// own. An element with no field set is written as Subject="". Values
// must not contain control characters, nor a backslash before '"' or
// another backslash or at the end (other than those of Subject's escapes),
// which the format cannot carry so that every reader agrees
// (SetHeaders checks).
func FormatXFCC(elems []XFCCElement) string {
	var b strings.Builder
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		n := 0
		pair := func(key, val string, quote bool) {
			if n > 0 {
				b.WriteByte(';')
			}
			n++
			b.WriteString(key)
			b.WriteByte('=')
			if quote || needsQuote(val) {
				writeQuoted(&b, val)
			} else {
				b.WriteString(val)
			}
		}
		for _, by := range e.By {
			pair("By", by, false)
		}
		if e.Hash != ([32]byte{}) {
			pair("Hash", hex.EncodeToString(e.Hash[:]), false)
		}
		if e.Cert != nil {
			pair("Cert", urlEncodePEM(e.Cert), true)
		}
		if len(e.Chain) > 0 {
			pair("Chain", urlEncodePEM(e.Chain...), true)
		}
		if e.Subject != "" {
			pair("Subject", hexEscapeDN(e.Subject), true)
		}
		for _, u := range e.URI {
			pair("URI", u.String(), false)
		}
		for _, d := range e.DNS {
			pair("DNS", d, false)
		}
		if n == 0 {
			// An element cannot be empty; Envoy writes an empty subject
			// this way too.
			pair("Subject", "", true)
		}
	}
	return b.String()
}

func needsQuote(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ',', ';', '=', '"', ' ', '\t':
			return true
		}
	}
	return false
}

func writeQuoted(b *strings.Builder, v string) {
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

// hexEscapeDN rewrites the RFC 4514 escapes \\ and \" of dn as \5C and
// \22 (RFC 4514 §2.4 allows either form), leaving the others alone.
func hexEscapeDN(dn string) string {
	if !strings.Contains(dn, `\`) {
		return dn
	}
	var b strings.Builder
	for i := 0; i < len(dn); i++ {
		if dn[i] == '\\' && i+1 < len(dn) {
			switch dn[i+1] {
			case '\\':
				b.WriteString(`\5C`)
				i++
				continue
			case '"':
				b.WriteString(`\22`)
				i++
				continue
			}
			b.WriteByte(dn[i])
			i++
		}
		b.WriteByte(dn[i])
	}
	return b.String()
}

// ambiguousBackslash reports whether v holds a backslash that XFCC
// readers disagree on once v is written (see ParseXFCC): one before '"'
// or another backslash, or at the end.
func ambiguousBackslash(v string) bool {
	return strings.Contains(v, `\\`) || strings.Contains(v, `\"`) || strings.HasSuffix(v, `\`)
}

// urlEncodePEM percent-encodes the PEM of certs, leaving only RFC 3986
// unreserved characters bare, so any URL decoder reads it back.
func urlEncodePEM(certs ...*x509.Certificate) string {
	var p []byte
	for _, c := range certs {
		p = append(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	const hexDigits = "0123456789ABCDEF"
	out := make([]byte, 0, len(p)*3/2)
	for _, c := range p {
		if isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' {
			out = append(out, c)
			continue
		}
		out = append(out, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(out)
}

package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
)

// ForwardedFormat selects forwarded-identity header formats.
type ForwardedFormat int

const (
	// ForwardedRFC9440 is RFC 9440: Client-Cert and Client-Cert-Chain.
	ForwardedRFC9440 ForwardedFormat = 1 << iota
	// ForwardedXFCC is Envoy's x-forwarded-client-cert.
	ForwardedXFCC
	// ForwardedBoth is both formats.
	ForwardedBoth = ForwardedRFC9440 | ForwardedXFCC
)

func (f ForwardedFormat) String() string {
	switch f {
	case ForwardedRFC9440:
		return "rfc9440"
	case ForwardedXFCC:
		return "xfcc"
	case ForwardedBoth:
		return "both"
	}
	return fmt.Sprintf("ForwardedFormat(%d)", int(f))
}

// ForwardOptions configures SetForwardedHeaders.
type ForwardOptions struct {
	// Format selects the headers to set; zero means ForwardedRFC9440.
	Format ForwardedFormat
	// Chain holds the certificates the client sent after its leaf
	// (r.TLS.PeerCertificates[1:]); may be empty.
	Chain []*x509.Certificate
	// By lists the forwarder's own URI SANs, sent as XFCC By keys.
	By []string
}

// SetForwardedHeaders deletes every client identity header from h
// (StripForwardedHeaders) and sets the headers that forward id, a verified
// identity, in the formats opts asks for:
//
//   - RFC 9440: Client-Cert from id.Certificate, and Client-Cert-Chain
//     from opts.Chain when it is not empty;
//   - XFCC: one element with By, Hash (id.CertSHA256, or the hash of
//     id.Certificate when that is zero), Cert, Chain (leaf first) when the
//     certificate is known, Subject, URI and DNS.
//
// A gateway calls it on the outgoing request of a client that presented a
// verified certificate, and StripForwardedHeaders alone for one that did
// not. It returns an error, after stripping, when RFC 9440 is asked for and
// id has no certificate, or when id holds nothing to forward.
func SetForwardedHeaders(h http.Header, id Identity, opts ForwardOptions) error {
	StripForwardedHeaders(h)
	format := opts.Format
	if format == 0 {
		format = ForwardedRFC9440
	}
	if format&^ForwardedBoth != 0 {
		return fmt.Errorf("mtls: cannot forward identity: unknown format %v", format)
	}
	if format&ForwardedRFC9440 != 0 {
		if id.Certificate == nil {
			return fmt.Errorf("mtls: cannot forward identity %q as RFC 9440: it has no certificate", id.String())
		}
		h.Set(HeaderClientCert, FormatClientCert(id.Certificate))
		if len(opts.Chain) > 0 {
			h.Set(HeaderClientCertChain, FormatClientCertChain(opts.Chain))
		}
	}
	if format&ForwardedXFCC != 0 {
		e := XFCCElement{
			By:      opts.By,
			Hash:    id.CertSHA256,
			Cert:    id.Certificate,
			Subject: id.Subject,
			URI:     id.URIs,
			DNS:     id.DNSNames,
		}
		if id.Certificate != nil {
			if e.Hash == ([32]byte{}) {
				// NewIdentity and IdentityFromTLS always set it; an
				// Identity built by hand may not.
				e.Hash = sha256.Sum256(id.Certificate.Raw)
			}
			if len(opts.Chain) > 0 {
				e.Chain = append([]*x509.Certificate{id.Certificate}, opts.Chain...)
			}
		}
		if e.Hash == ([32]byte{}) && e.Subject == "" && len(e.URI) == 0 && len(e.DNS) == 0 {
			return fmt.Errorf("mtls: cannot forward identity as XFCC: it is empty")
		}
		v := FormatXFCC([]XFCCElement{e})
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x80 && isCTL(byte(r)) }) {
			return fmt.Errorf("mtls: cannot forward identity %q as XFCC: it contains control characters", id.String())
		}
		h.Set(HeaderXFCC, v)
	}
	return nil
}

// ParseForwardedFormat parses "rfc9440", "xfcc" or "both", the names
// ForwardedFormat.String returns, for configuration files and flags.
func ParseForwardedFormat(s string) (ForwardedFormat, error) {
	for _, f := range []ForwardedFormat{ForwardedRFC9440, ForwardedXFCC, ForwardedBoth} {
		if s == f.String() {
			return f, nil
		}
	}
	return 0, fmt.Errorf("mtls: invalid forwarded identity format %q: want rfc9440, xfcc or both", s)
}

package forwarded

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"

	"github.com/forgeproof/forgeproof/internal/urisan"
	"github.com/forgeproof/forgeproof/mtls"
)

// Format selects forwarded-identity header formats. Its zero value,
// Both, means both formats wherever a Format is used: Trust reads
// both, SetHeaders writes both.
type Format int

const (
	// Both is RFC 9440 and Envoy's x-forwarded-client-cert.
	Both Format = iota
	// RFC9440 is RFC 9440: Client-Cert and Client-Cert-Chain.
	RFC9440
	// XFCC is Envoy's x-forwarded-client-cert.
	XFCC
)

func (f Format) rfc9440() bool { return f == Both || f == RFC9440 }
func (f Format) xfcc() bool    { return f == Both || f == XFCC }

// String returns the name UnmarshalText accepts.
func (f Format) String() string {
	switch f {
	case RFC9440:
		return "rfc9440"
	case XFCC:
		return "xfcc"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Options configures SetHeaders.
type Options struct {
	// Format selects the headers to set; zero means both (Both).
	Format Format
	// Chain holds the certificates the client sent after its leaf
	// (r.TLS.PeerCertificates[1:]); may be empty.
	Chain []*x509.Certificate
	// By lists the forwarder's own URI SANs, sent as XFCC By keys.
	By []string
}

// SetHeaders deletes every client identity header from h
// (StripHeaders) and sets the headers that forward id, a verified
// identity, in the formats opts asks for:
//
//   - RFC 9440: Client-Cert from id.Certificate, and Client-Cert-Chain
//     from opts.Chain when it is not empty;
//   - XFCC: one element with By, Hash (id.CertSHA256, or the hash of
//     id.Certificate when that is zero), Cert, Chain (leaf first) when the
//     certificate is known, Subject, URI and DNS.
//
// A gateway calls it on the outgoing request of a client that presented a
// verified certificate, and StripHeaders alone for one that did
// not. It returns an error, after stripping, when RFC 9440 is asked for and
// id has no certificate, when id holds nothing to forward, or when XFCC
// is asked for and a value cannot be written so that every reader splits
// it the same (control characters; a backslash before '"', another
// backslash or the end, see FormatXFCC) or the certificate spells a URI
// SAN otherwise than it parses (spiffe://td/x#, which URI would carry as
// spiffe://td/x): a caller then forwards no identity rather than one an
// upstream may read as another.
func SetHeaders(h http.Header, id mtls.Identity, opts Options) error {
	StripHeaders(h)
	format := opts.Format
	if format != Both && format != RFC9440 && format != XFCC {
		return fmt.Errorf("forwarded: cannot forward identity: unknown format %v", format)
	}
	if format.rfc9440() {
		if id.Certificate == nil {
			return fmt.Errorf("forwarded: cannot forward identity %q as RFC 9440: it has no certificate", id.String())
		}
		h.Set(HeaderClientCert, FormatClientCert(id.Certificate))
		if len(opts.Chain) > 0 {
			h.Set(HeaderClientCertChain, FormatClientCertChain(opts.Chain))
		}
	}
	if format.xfcc() {
		e := XFCCElement{
			By:      opts.By,
			Hash:    id.CertSHA256,
			Cert:    id.Certificate,
			Subject: id.Subject,
			URI:     id.URIs,
			DNS:     id.DNSNames,
		}
		if id.Certificate != nil {
			if raw, parsed, found := urisan.Respelled(id.Certificate); found {
				return fmt.Errorf("forwarded: cannot forward identity %q as XFCC: its certificate's URI SAN %q reads as %q once parsed, so a reader of URI and a reader of Cert would see two names", id.String(), raw, parsed)
			}
			if e.Hash == ([32]byte{}) {
				// mtls.NewIdentity and mtls.IdentityFromTLS always set it; an
				// mtls.Identity built by hand may not.
				e.Hash = sha256.Sum256(id.Certificate.Raw)
			}
			if len(opts.Chain) > 0 {
				e.Chain = append([]*x509.Certificate{id.Certificate}, opts.Chain...)
			}
		}
		if e.Hash == ([32]byte{}) && e.Subject == "" && len(e.URI) == 0 && len(e.DNS) == 0 {
			return fmt.Errorf("forwarded: cannot forward identity as XFCC: it is empty")
		}
		v := FormatXFCC([]XFCCElement{e})
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x80 && isCTL(byte(r)) }) {
			return fmt.Errorf("forwarded: cannot forward identity %q as XFCC: it contains control characters", id.String())
		}
		if key, ok := xfccAmbiguous(e); !ok {
			return fmt.Errorf("forwarded: cannot forward identity %q as XFCC: its %s has a backslash before '\"', another backslash or the end, which XFCC readers split differently", id.String(), key)
		}
		h.Set(HeaderXFCC, v)
	}
	return nil
}

// xfccAmbiguous returns the first key of e whose value XFCC readers
// could read differently (ambiguousBackslash), and false; true when there
// is none. Cert and Chain are percent-encoded and hold no backslash.
func xfccAmbiguous(e XFCCElement) (string, bool) {
	for _, by := range e.By {
		if ambiguousBackslash(by) {
			return "By", false
		}
	}
	if ambiguousBackslash(hexEscapeDN(e.Subject)) {
		return "Subject", false
	}
	for _, u := range e.URI {
		if ambiguousBackslash(u.String()) {
			return "URI", false
		}
	}
	for _, d := range e.DNS {
		if ambiguousBackslash(d) {
			return "DNS", false
		}
	}
	return "", true
}

// MarshalText returns the name of f, as String does; it fails for a
// Format that is not one of the constants.
func (f Format) MarshalText() ([]byte, error) {
	switch f {
	case RFC9440, XFCC, Both:
		return []byte(f.String()), nil
	}
	return nil, fmt.Errorf("forwarded: invalid format %d", int(f))
}

// UnmarshalText sets f from its name, "rfc9440", "xfcc" or "both" (as
// String prints it), for configuration files and flags.
func (f *Format) UnmarshalText(text []byte) error {
	for _, v := range []Format{RFC9440, XFCC, Both} {
		if string(text) == v.String() {
			*f = v
			return nil
		}
	}
	return fmt.Errorf("forwarded: unknown format %q: want rfc9440, xfcc or both", text)
}

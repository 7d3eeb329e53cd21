package authz

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/forgeproof/forgeproof/internal/pemutil"
)

// Bounds of a certificate header: a client certificate chain is a few
// KiB; nginx's default header buffers end at 8 KiB a line.
const (
	maxCertHeaderBytes = 64 << 10
	maxChainLength     = 8
)

// ParseCertificates reads the client certificate chain a proxy passes in
// a header, leaf first: URL-escaped PEM (nginx $ssl_client_escaped_cert,
// Envoy), PEM, or base64 DER certificates separated by commas (Caddy's
// certificate_der_base64, Traefik's passTLSClientCert, URL-escaped or
// not). An empty value is no certificate (nil, nil). Anything else that
// is not one to eight whole certificates is an error: a proxy that sends
// garbage is misconfigured, and fails closed.
func ParseCertificates(v string) ([]*x509.Certificate, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if len(v) > maxCertHeaderBytes {
		return nil, fmt.Errorf("certificate header longer than %d bytes", maxCertHeaderBytes)
	}
	if strings.Contains(v, "%") {
		// PathUnescape, not QueryUnescape: '+' is a base64 digit.
		u, err := url.PathUnescape(v)
		if err != nil {
			return nil, errors.New("certificate header: invalid URL escape")
		}
		v = u
	}
	var ders [][]byte
	if strings.Contains(v, "-----BEGIN") {
		// Escaped as a query (url.QueryEscape) the spaces of the PEM
		// lines are '+', which PathUnescape keeps: base64 has no spaces,
		// so only those lines can have them.
		v = strings.ReplaceAll(v, "-----BEGIN+CERTIFICATE-----", "-----BEGIN CERTIFICATE-----")
		v = strings.ReplaceAll(v, "-----END+CERTIFICATE-----", "-----END CERTIFICATE-----")
		rest := []byte(v)
		for {
			// pemutil.Next, not pem.Decode, which skips a damaged block:
			// a damaged leaf would leave its issuer to be read as the
			// client.
			b, next, err := pemutil.Next(rest)
			if err != nil {
				return nil, fmt.Errorf("certificate header: certificate %d %v", len(ders)+1, err)
			}
			if b == nil {
				break
			}
			rest = next
			if b.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("certificate header: a PEM %q block, want CERTIFICATE", b.Type)
			}
			ders = append(ders, b.Bytes)
			if len(ders) > maxChainLength {
				return nil, fmt.Errorf("certificate header: more than %d certificates", maxChainLength)
			}
		}
		if strings.TrimSpace(string(rest)) != "" {
			return nil, errors.New("certificate header: bytes that are not PEM")
		}
	} else {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			der, err := base64.StdEncoding.DecodeString(part)
			if err != nil {
				return nil, errors.New("certificate header: neither PEM nor base64 DER")
			}
			ders = append(ders, der)
			if len(ders) > maxChainLength {
				return nil, fmt.Errorf("certificate header: more than %d certificates", maxChainLength)
			}
		}
	}
	if len(ders) == 0 {
		return nil, errors.New("certificate header: no certificate")
	}
	chain := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate header: certificate %d does not parse", i+1)
		}
		chain = append(chain, c)
	}
	return chain, nil
}

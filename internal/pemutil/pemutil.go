// Package pemutil parses the PEM files that mtls, the gateway and the
// dev PKI read: certificate bundles that must hold certificates only, so
// that a key pasted into a certificate file is noticed, and client CA
// bundles that must hold CAs only (CheckCA).
package pemutil

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// CertificateBlock is the PEM type of a certificate.
const CertificateBlock = "CERTIFICATE"

// ParseCerts parses every CERTIFICATE block in data. Another block type,
// a certificate that does not parse, or no block at all is an error that
// says which block (1-based) and why, without a package prefix.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for i := 1; ; i++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			// Not its type either: error messages never name key material.
			return nil, fmt.Errorf("PEM block %d is a private key, want a certificate: keep keys out of certificate files", i)
		}
		if b.Type != CertificateBlock {
			return nil, fmt.Errorf("PEM block %d is %q, want %q", i, b.Type, CertificateBlock)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", i, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return certs, nil
}

// CheckCA reports why c cannot verify client certificates: it must be a
// CA (basic constraints) and, when it has a key usage extension, allow
// certificate signing. A client certificate pasted into a CA file
// verifies nothing.
func CheckCA(c *x509.Certificate) error {
	if !c.BasicConstraintsValid || !c.IsCA {
		return fmt.Errorf("%q is not a CA certificate (no CA basic constraint): put the certificate of the CA that issued the client certificates here", c.Subject.String())
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%q is a CA whose key usage does not allow signing certificates", c.Subject.String())
	}
	return nil
}

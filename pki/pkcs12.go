package pki

import (
	"crypto/x509"
	"fmt"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// PKCS12 encodes the certificate, its key and its issuer as a PKCS#12
// file for importing into a browser or an OS key store.
//
// It uses the legacy encoding (3DES and SHA-1 MAC, OpenSSL's -descert) that
// every importer reads, NSS's pk12util included (that is how Chromium on
// Linux gets client certificates). That encryption is weak: the file is as
// secret as the key file, whatever the password. An empty password is
// what the demo and the e2e tests use (pk12util -W "").
func (c *Cert) PKCS12(password string) ([]byte, error) {
	var chain []*x509.Certificate
	if c.Issuer != nil {
		chain = append(chain, c.Issuer)
	}
	pfx, err := pkcs12.LegacyDES.Encode(c.Key, c.Cert, chain, password)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding PKCS#12: %w", err)
	}
	return pfx, nil
}

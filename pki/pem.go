package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/forgeproof/forgeproof/internal/pemutil"
)

// PEM block types.
const (
	certificateBlock = pemutil.CertificateBlock
	privateKeyBlock  = "PRIVATE KEY"
	crlBlock         = "X509 CRL"
)

// EncodeCertsPEM encodes certificates as concatenated PEM CERTIFICATE blocks.
func EncodeCertsPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: certificateBlock, Bytes: c.Raw})...)
	}
	return out
}

// EncodeKeyPEM encodes a private key as an unencrypted PKCS#8 PEM block.
// The result is a secret: write it with WriteSecretFile.
func EncodeKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: privateKeyBlock, Bytes: der}), nil
}

// EncodeCRLPEM encodes a DER CRL as a PEM X509 CRL block.
func EncodeCRLPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: crlBlock, Bytes: der})
}

// ParseCertsPEM parses every CERTIFICATE block in data. Other block types
// are an error, so a key pasted into a certificate file is noticed.
func ParseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	certs, err := pemutil.ParseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	return certs, nil
}

// ParseCertPEM parses a PEM file that holds exactly one certificate.
func ParseCertPEM(data []byte) (*x509.Certificate, error) {
	certs, err := ParseCertsPEM(data)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("pki: found %d certificates, want 1", len(certs))
	}
	return certs[0], nil
}

// ParseKeyPEM parses the first private key in data: PKCS#8 ("PRIVATE
// KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY").
func ParseKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("pki: no PEM private key block found")
		}
		var key any
		var err error
		var form string // named in errors instead of the block type: messages never name key material
		switch b.Type {
		case privateKeyBlock:
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
			form = "PKCS #8"
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
			form = "SEC 1 (EC)"
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
			form = "PKCS #1 (RSA)"
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("pki: encrypted private keys are not supported")
		default:
			continue // e.g. "EC PARAMETERS" before the key
		}
		if err != nil {
			// Not wrapped: a parser error is no help, and must never quote key bytes.
			return nil, fmt.Errorf("pki: the %s private key does not parse (damaged, or not a key of that form)", form)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("pki: %T is not a signing key", key)
		}
		return s, nil
	}
}

// ParseCRL parses a CRL in DER or PEM (X509 CRL) form. It does not check
// the signature: use (*x509.RevocationList).CheckSignatureFrom.
func ParseCRL(data []byte) (*x509.RevocationList, error) {
	if b, _ := pem.Decode(data); b != nil {
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return nil, fmt.Errorf("pki: the PEM block is a private key, want %q", crlBlock)
		}
		if b.Type != crlBlock {
			return nil, fmt.Errorf("pki: PEM block is %q, want %q", b.Type, crlBlock)
		}
		data = b.Bytes
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, fmt.Errorf("pki: parsing CRL: %w", err)
	}
	return crl, nil
}

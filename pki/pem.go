package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

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
// KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"). Other
// blocks before it (a certificate, "EC PARAMETERS") are skipped; a block
// that does not parse as PEM before it is an error that names the block
// (pem.Decode would skip it, and the key in it, in silence).
func ParseKeyPEM(data []byte) (crypto.Signer, error) {
	for i := 1; ; i++ {
		b, rest, err := pemutil.Next(data)
		if err != nil {
			return nil, fmt.Errorf("pki: PEM block %d %w", i, err)
		}
		if b == nil {
			return nil, errors.New("pki: no PEM private key block found")
		}
		data = rest
		var key any
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

// ParseCRL parses a CRL in DER or PEM form: one X509 CRL block. A
// second block, or one that does not parse as PEM, is an error that names
// it, as the gateway's CRL loader names it: reading the first block only
// would drop what the others hold in silence. It does not check the
// signature: use (*x509.RevocationList).CheckSignatureFrom.
func ParseCRL(data []byte) (*x509.RevocationList, error) {
	lists, err := pemutil.ParseCRLs(data)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	if len(lists) > 1 {
		// Every block is a CRL, or ParseCRLs would have said.
		return nil, errors.New("pki: PEM block 2 is a second CRL, want one per file")
	}
	return lists[0], nil
}

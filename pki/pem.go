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
	if b, _ := pem.Decode(data); b == nil {
		crl, err := x509.ParseRevocationList(data)
		if err == nil && len(crl.Raw) != len(data) {
			// x509 ignores what follows the CRL: a second one, say.
			return nil, fmt.Errorf("pki: %d bytes after the DER CRL, want one CRL per file", len(data)-len(crl.Raw))
		}
		if err == nil {
			return crl, nil
		}
		if _, _, perr := pemutil.Next(data); perr != nil {
			return nil, fmt.Errorf("pki: PEM block 1 %w", perr) // a truncated crl.pem, say
		}
		return nil, fmt.Errorf("pki: no PEM %q block, and not a DER CRL: %w", crlBlock, err)
	}
	var crl *x509.RevocationList
	for i := 1; ; i++ {
		// pemutil.Next, not pem.Decode, which skips a damaged block.
		b, rest, err := pemutil.Next(data)
		if err != nil {
			return nil, fmt.Errorf("pki: PEM block %d %w", i, err)
		}
		if b == nil {
			return crl, nil
		}
		data = rest
		switch {
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			// Not its type either: messages never name key material.
			return nil, fmt.Errorf("pki: PEM block %d is a private key, want %q", i, crlBlock)
		case b.Type != crlBlock:
			return nil, fmt.Errorf("pki: PEM block %d is %q, want %q", i, b.Type, crlBlock)
		case crl != nil:
			return nil, fmt.Errorf("pki: PEM block %d is a second CRL, want one per file", i)
		}
		if crl, err = x509.ParseRevocationList(b.Bytes); err != nil {
			return nil, fmt.Errorf("pki: PEM block %d: parsing CRL: %w", i, err)
		}
		if len(crl.Raw) != len(b.Bytes) {
			return nil, fmt.Errorf("pki: PEM block %d: %d bytes after the CRL", i, len(b.Bytes)-len(crl.Raw))
		}
	}
}

// Package pemutil parses the PEM files that mtls, the gateway and the
// dev PKI read: certificate bundles that must hold certificates only, so
// that a key pasted into a certificate file is noticed, client CA
// bundles that must hold CAs only (ParseCAs, CheckCA), CRL files
// (ParseCRLs), and certificate and key pairs (LoadKeyPair); PathErr shortens the error of a file that cannot
// be read, for the messages of every reader of these files.
package pemutil

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/forgeproof/forgeproof/internal/regfile"
)

// ParseCRLs parses DER data (one CRL) or PEM data (one or more "X509
// CRL" blocks) in full. A damaged block, another block type, and bytes
// after a CRL (which x509.ParseRevocationList ignores: a second DER CRL,
// say) are errors that say which block (1-based) and why, without a
// package prefix. It does not check signatures.
func ParseCRLs(data []byte) ([]*x509.RevocationList, error) {
	if b, _ := pem.Decode(data); b == nil {
		l, err := x509.ParseRevocationList(data)
		if err != nil {
			if _, _, perr := Next(data); perr != nil {
				return nil, fmt.Errorf("PEM block 1 %w", perr) // a truncated PEM file
			}
			// Neither PEM nor DER: say both were tried, not only
			// "x509: malformed crl", which reads as a damaged CRL.
			return nil, fmt.Errorf("no PEM \"X509 CRL\" block, and not a DER CRL: %w", err)
		}
		if len(l.Raw) != len(data) {
			return nil, fmt.Errorf("%d bytes after the DER CRL: a DER file holds one CRL", len(data)-len(l.Raw))
		}
		return []*x509.RevocationList{l}, nil
	}
	var lists []*x509.RevocationList
	for i := 1; ; i++ {
		b, rest, err := Next(data)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d %w", i, err)
		}
		if b == nil {
			return lists, nil
		}
		data = rest
		switch {
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			// Not even its type: messages never name key material.
			return nil, fmt.Errorf("PEM block %d is a private key, want \"X509 CRL\"", i)
		case b.Type != "X509 CRL":
			return nil, fmt.Errorf("PEM block %d is %q, want \"X509 CRL\"", i, b.Type)
		}
		l, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", i, err)
		}
		if len(l.Raw) != len(b.Bytes) {
			return nil, fmt.Errorf("PEM block %d: %d bytes after the CRL", i, len(b.Bytes)-len(l.Raw))
		}
		lists = append(lists, l)
	}
}

// CertificateBlock is the PEM type of a certificate.
const CertificateBlock = "CERTIFICATE"

// ParseCerts parses every CERTIFICATE block in data. Another block type,
// a certificate that does not parse, or no block at all is an error that
// says which block (1-based) and why, without a package prefix.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for i := 1; ; i++ {
		b, rest, err := Next(data)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d %w", i, err)
		}
		if b == nil {
			break
		}
		data = rest
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
		if _, err := x509.ParseCertificates(data); err == nil && len(data) > 0 {
			return nil, errors.New("no PEM CERTIFICATE block found: the file is DER, want PEM (openssl x509 -inform der -in FILE -out FILE.pem)")
		}
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return certs, nil
}

// errDamaged is Next's error: the caller prefixes the block's number.
var errDamaged = errors.New("does not parse as PEM: damaged, or its END line is missing")

// Next is pem.Decode for files people edit: it returns the next block in
// data and the rest, or a nil block when no "-----BEGIN " is left, and an
// error when one does not start a block that decodes, which pem.Decode
// skips in silence (a bundle with a truncated certificate would lose it).
func Next(data []byte) (b *pem.Block, rest []byte, err error) {
	b, rest = pem.Decode(data)
	consumed := data
	if b != nil {
		consumed = data[:len(data)-len(rest)]
	}
	if n := bytes.Count(consumed, pemBegin); n > 1 || b == nil && n > 0 {
		return nil, nil, errDamaged
	}
	return b, rest, nil
}

var pemBegin = []byte("-----BEGIN ")

// CheckCA reports why c cannot verify client certificates: it must be a
// CA (basic constraints) and, when it has a key usage extension, allow
// certificate signing (an extension with no bit set allows nothing). A client certificate pasted into a CA file
// verifies nothing.
func CheckCA(c *x509.Certificate) error {
	if !c.BasicConstraintsValid || !c.IsCA {
		return fmt.Errorf("%q is not a CA certificate (no CA basic constraint): put the certificate of the CA that issued the client certificates here", c.Subject.String())
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%q is a CA whose key usage does not allow signing certificates", c.Subject.String())
	}
	if EmptyKeyUsage(c) {
		return fmt.Errorf("%q is a CA whose key usage extension has no bit set, which RFC 5280 §4.2.1.3 forbids (OpenSSL refuses it)", c.Subject.String())
	}
	return nil
}

// oidKeyUsage is the key usage extension (RFC 5280 §4.2.1.3).
var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// EmptyKeyUsage reports whether c has a key usage extension with no bit
// set, which RFC 5280 §4.2.1.3 forbids and OpenSSL refuses. x509 reads it
// as no extension at all: KeyUsage is 0 for both.
func EmptyKeyUsage(c *x509.Certificate) bool {
	return c.KeyUsage == 0 && slices.ContainsFunc(c.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(oidKeyUsage) })
}

// ParseCAs parses a client CA bundle as mtls loads it: ParseCerts, then
// CheckCA on every certificate. errs holds ParseCerts' error alone (and
// cas is nil), or one error per certificate that is not a CA: all of
// them, so that a config check names every problem at once.
func ParseCAs(data []byte) (cas []*x509.Certificate, errs []error) {
	cas, err := ParseCerts(data)
	if err != nil {
		return nil, []error{err}
	}
	for _, ca := range cas {
		if err := CheckCA(ca); err != nil {
			errs = append(errs, err)
		}
	}
	return cas, errs
}

// KeyPairError is a problem of one file of a certificate and key pair
// (LoadKeyPair): the key file's when KeyFile is true, else the
// certificate file's. Its text names neither the field nor the package:
// callers prefix their own key.
type KeyPairError struct {
	KeyFile bool
	Err     error
}

func (e *KeyPairError) Error() string { return e.Err.Error() }

func (e *KeyPairError) Unwrap() error { return e.Err }

// LoadKeyPair reads a certificate chain (PEM, CERTIFICATE blocks only, as
// ParseCerts reads them) and its private key from files, and checks that
// the key is the certificate's; the result's Leaf is set. It returns every
// problem it finds, each a *KeyPairError: a file name that is empty ("is
// required") or a file that cannot be read (both files are read either
// way), then certificates that do not parse, then a key that is missing,
// does not parse or is not the certificate's. read, when not nil, is
// called with each named file and its contents as read (nil when it could
// not be read).
func LoadKeyPair(certFile, keyFile string, read func(file string, data []byte)) (*tls.Certificate, []error) {
	var errs []error
	fail := func(key bool, format string, args ...any) {
		errs = append(errs, &KeyPairError{KeyFile: key, Err: fmt.Errorf(format, args...)})
	}
	var data [2][]byte
	for i, file := range []string{certFile, keyFile} {
		if file == "" {
			fail(i == 1, "is required")
			continue
		}
		d, err := regfile.ReadFile(file, 0)
		if read != nil {
			read(file, d)
		}
		if err != nil {
			fail(i == 1, "cannot read %q: %w", file, PathErr(err))
			continue
		}
		data[i] = d
	}
	if errs != nil {
		return nil, errs
	}
	if _, err := ParseCerts(data[0]); err != nil {
		fail(false, "%q: %w", certFile, err)
		return nil, errs
	}
	c, err := tls.X509KeyPair(data[0], data[1])
	if err != nil {
		// The certificates parsed: what is wrong is the key (none,
		// unparsable, or not the certificate's).
		why := strings.TrimPrefix(err.Error(), "tls: ")
		if hint := keyHint(data[1]); hint != "" {
			why = hint
		}
		fail(true, "cannot use %q as the key of %q: %s", keyFile, certFile, why)
		return nil, errs
	}
	if c.Leaf == nil { // x509keypairleaf=0
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			fail(false, "%q: %w", certFile, err)
			return nil, errs
		}
	}
	return &c, nil
}

// keyHint says why a key file that crypto/tls could not use is not a
// key it can read, when the reason is one an operator can fix and
// crypto/tls's own message ("failed to parse private key", "failed to
// find any PEM data") does not say: a passphrase, or DER instead of PEM.
// It is "" otherwise.
func keyHint(data []byte) string {
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || strings.HasSuffix(b.Type, "PRIVATE KEY") && strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
			return "the private key is encrypted with a passphrase, which forgeproof cannot ask for: write it unencrypted, readable by the service only (openssl pkey -in KEY -out KEY.plain)"
		}
	}
	_, err8 := x509.ParsePKCS8PrivateKey(data)
	_, errEC := x509.ParseECPrivateKey(data)
	_, err1 := x509.ParsePKCS1PrivateKey(data)
	if err8 == nil || errEC == nil || err1 == nil {
		return "the key is DER, want PEM (openssl pkey -inform der -in KEY -out KEY.pem)"
	}
	return ""
}

// PathErr drops the path from an *os.PathError, for messages that name
// the file already ("cannot read %q: %w"); other errors are returned as
// they are.
func PathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

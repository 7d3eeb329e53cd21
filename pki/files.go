package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/forgeproof/forgeproof/internal/atomicfile"
)

// File names in a PKI folder, as "forgeproof pki" and "forgeproof demo"
// write them (docs/cli.md).
const (
	CAFile        = "ca.pem"
	CAKeyFile     = "ca-key.pem"
	ServerFile    = "server.pem"
	ServerKeyFile = "server-key.pem"
	ClientFile    = "client.pem"
	ClientKeyFile = "client-key.pem"
	ClientP12File = "client.p12"
	CRLFile       = "crl.pem"
)

// WriteSecretFile writes data to path with permissions 0600, replacing any
// file there atomically (a temporary file in the same folder, renamed).
// An existing file's wider permissions are not inherited, and a symbolic
// or hard link there is replaced, not written through.
func WriteSecretFile(path string, data []byte) error {
	return writeFilesAtomic(atomicfile.File{Path: path, Data: data, Perm: 0o600})
}

// WritePublicFile writes data to path with permissions 0644, atomically.
func WritePublicFile(path string, data []byte) error {
	return writeFilesAtomic(atomicfile.File{Path: path, Data: data, Perm: 0o644})
}

// writeFilesAtomic writes files with atomicfile.Write: all renamed into
// place or none. Only a crash between the renames can leave some
// replaced, which the next load reports (a key that does not match its
// certificate).
func writeFilesAtomic(files ...atomicfile.File) error {
	if err := atomicfile.Write(files...); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

// Save writes the CA to dir as ca.pem (0644) and ca-key.pem (0600),
// creating dir (0700) if needed.
func (ca *CA) Save(dir string) error {
	if err := ca.check(); err != nil {
		return err
	}
	return (&Cert{Cert: ca.Cert, Key: ca.Key}).Save(dir, CAFile, CAKeyFile)
}

// LoadCA reads ca.pem and ca-key.pem from dir and checks that they belong
// together.
func LoadCA(dir string) (*CA, error) {
	certPath := filepath.Join(dir, CAFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("pki: reading CA: %w", err)
	}
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	keyPath := filepath.Join(dir, CAKeyFile)
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: reading CA key: %w", err)
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	ca := &CA{Cert: cert, Key: key}
	if err := ca.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return ca, nil
}

// Save writes the certificate to dir/certFile (0644) and its key to
// dir/keyFile (0600), for example ServerFile and ServerKeyFile. Neither
// file is replaced unless both could be written.
func (c *Cert) Save(dir, certFile, keyFile string) error {
	if c == nil || c.Cert == nil || c.Key == nil {
		return errors.New("pki: certificate or key missing")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	key, err := EncodeKeyPEM(c.Key)
	if err != nil {
		return err
	}
	// Both written before either replaces a file: a failure leaves the
	// old pair, which still matches.
	return writeFilesAtomic(
		atomicfile.File{Path: filepath.Join(dir, keyFile), Data: key, Perm: 0o600},
		atomicfile.File{Path: filepath.Join(dir, certFile), Data: EncodeCertsPEM(c.Cert), Perm: 0o644},
	)
}

// SaveCRL writes a DER CRL to dir/crl.pem as PEM (0644).
func SaveCRL(dir string, der []byte) error {
	return WritePublicFile(filepath.Join(dir, CRLFile), EncodeCRLPEM(der))
}

// LoadCRL reads dir/crl.pem; it returns nil and no error when there is
// none yet.
func LoadCRL(dir string) (*x509.RevocationList, error) {
	data, err := os.ReadFile(filepath.Join(dir, CRLFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pki: reading CRL: %w", err)
	}
	return ParseCRL(data)
}

// LoadCert reads a certificate and its key from PEM files.
func LoadCert(certPath, keyPath string) (*Cert, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("pki: key %s does not match certificate %s", keyPath, certPath)
	}
	return &Cert{Cert: cert, Key: key}, nil
}

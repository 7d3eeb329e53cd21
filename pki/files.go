package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// File names in a PKI folder (see DESIGN.md, forgeproof demo and pki).
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
	return writeFilesAtomic(stagedFile{path, data, 0o600})
}

// WritePublicFile writes data to path with permissions 0644, atomically.
func WritePublicFile(path string, data []byte) error {
	return writeFilesAtomic(stagedFile{path, data, 0o644})
}

// stagedFile is a file writeFilesAtomic writes.
type stagedFile struct {
	path string
	data []byte
	perm os.FileMode
}

// writeFilesAtomic writes every file to a temporary file beside it first
// and renames them into place only when all are written and synced: a
// full disk or a bad path leaves the old files as they were (a certificate
// and the key that matches it, an old CA key not yet replaced). Only a
// crash between the renames can leave some replaced, which the next load
// reports (a key that does not match its certificate).
func writeFilesAtomic(files ...stagedFile) (err error) {
	tmps := make([]string, 0, len(files))
	defer func() {
		if err != nil {
			for _, t := range tmps {
				os.Remove(t)
			}
		}
	}()
	for _, f := range files {
		tmp, err := stage(f)
		if err != nil {
			return fmt.Errorf("pki: writing %s: %w", f.path, err)
		}
		tmps = append(tmps, tmp)
	}
	for i, f := range files {
		// rename replaces a link at f.path itself, never its target.
		if err = os.Rename(tmps[i], f.path); err != nil {
			return fmt.Errorf("pki: writing %s: %w", f.path, err)
		}
	}
	for _, f := range files {
		// The renames are durable once their folders are synced; else a
		// power cut may bring back the old crl.pem, and with it a
		// certificate revoked since.
		if err = syncDir(filepath.Dir(f.path)); err != nil {
			return fmt.Errorf("pki: writing %s: %w", f.path, err)
		}
	}
	return nil
}

// stage writes f to a new temporary file in its folder, synced, and
// returns its name.
func stage(f stagedFile) (name string, err error) {
	// CreateTemp creates the file (O_EXCL) 0600 whatever the umask, so a
	// secret is never readable by others, not even for a moment.
	t, err := os.CreateTemp(filepath.Dir(f.path), "."+filepath.Base(f.path)+".tmp*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			t.Close()
			os.Remove(t.Name())
		}
	}()
	if _, err = t.Write(f.data); err != nil {
		return "", err
	}
	// Chmod, unlike the mode given at creation, ignores the umask.
	if err = t.Chmod(f.perm); err != nil {
		return "", err
	}
	if err = t.Sync(); err != nil {
		return "", err
	}
	if err = t.Close(); err != nil {
		return "", err
	}
	return t.Name(), nil
}

// syncDir syncs a folder, so that a rename in it survives a crash. Windows
// cannot sync a folder (and needs not: its renames are journalled).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
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
		stagedFile{filepath.Join(dir, keyFile), key, 0o600},
		stagedFile{filepath.Join(dir, certFile), EncodeCertsPEM(c.Cert), 0o644},
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

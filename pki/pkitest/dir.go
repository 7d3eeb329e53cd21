package pkitest

import (
	"crypto/x509"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
)

// A Dir is a development PKI on disk, in a folder of the test's own, under
// the file names of package pki: the CA (pki.CAFile, pki.CAKeyFile), a
// server certificate for localhost, 127.0.0.1 and ::1 (pki.ServerFile,
// pki.ServerKeyFile) and a CRL (pki.CRLFile). Its methods fail the test on
// error. It is the one PKI-on-disk fixture of the module's tests.
type Dir struct {
	tb testing.TB
	// Path is the folder.
	Path string
	// CA is the CA whose certificate is in ca.pem.
	CA *pki.CA
	// Server is the server certificate last written to server.pem.
	Server *pki.Cert
	// crl is the CRL last written, nil before the first.
	crl *x509.RevocationList
}

// NewDir writes a PKI into a new temporary folder: ca's certificate and
// key (a new CA when ca is nil), a server certificate that it issues, and
// a CRL that revokes nothing.
func NewDir(tb testing.TB, ca *pki.CA) *Dir {
	tb.Helper()
	if ca == nil {
		ca = CA(tb)
	}
	d := &Dir{tb: tb, Path: tb.TempDir(), CA: ca}
	if err := ca.Save(d.Path); err != nil {
		tb.Fatal(err)
	}
	d.SaveServer(Server(tb, ca))
	d.Revoke()
	return d
}

// File returns the path of name in the folder.
func (d *Dir) File(name string) string { return filepath.Join(d.Path, name) }

// Write replaces the file name atomically (a new file renamed over the
// old one, as careful tools and Kubernetes do), so that a watcher never
// reads it half-written, and returns its path.
func (d *Dir) Write(name string, data []byte) string {
	d.tb.Helper()
	p := d.File(name)
	if err := os.WriteFile(p+".tmp", data, 0o600); err != nil {
		d.tb.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		d.tb.Fatal(err)
	}
	return p
}

// WriteInPlace rewrites the file name in place (truncate, then write), as
// an editor or a naive script does, and returns its path.
func (d *Dir) WriteInPlace(name string, data []byte) string {
	d.tb.Helper()
	p := d.File(name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		d.tb.Fatal(err)
	}
	return p
}

// KeyPEM returns c's private key in PEM.
func (d *Dir) KeyPEM(c *pki.Cert) []byte {
	d.tb.Helper()
	k, err := pki.EncodeKeyPEM(c.Key)
	if err != nil {
		d.tb.Fatal(err)
	}
	return k
}

// SaveServer writes c to server.pem and its key to server-key.pem, each
// atomically, the certificate first, and makes it d.Server.
func (d *Dir) SaveServer(c *pki.Cert) {
	d.tb.Helper()
	d.SaveCert(c, pki.ServerFile, pki.ServerKeyFile)
	d.Server = c
}

// SaveCert writes c to certFile and its key to keyFile, each atomically,
// the certificate first.
func (d *Dir) SaveCert(c *pki.Cert, certFile, keyFile string) {
	d.tb.Helper()
	d.Write(certFile, pki.EncodeCertsPEM(c.Cert))
	d.Write(keyFile, d.KeyPEM(c))
}

// RotateServer issues a new server certificate like the first, saves it
// (SaveServer) and returns it.
func (d *Dir) RotateServer() *pki.Cert {
	d.tb.Helper()
	c := Server(d.tb, d.CA)
	d.SaveServer(c)
	return c
}

// Revoke writes crl.pem anew: the CRL before it plus the serials, with
// the next CRL number.
func (d *Dir) Revoke(serials ...*big.Int) {
	d.tb.Helper()
	der, err := d.CA.Revoke(d.crl, serials...)
	if err != nil {
		d.tb.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		d.tb.Fatal(err)
	}
	d.Write(pki.CRLFile, pki.EncodeCRLPEM(der))
	d.crl = crl
}

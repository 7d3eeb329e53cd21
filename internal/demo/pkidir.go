package demo

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/forgeproof/forgeproof/internal/dirlock"
	"github.com/forgeproof/forgeproof/internal/openfolder"
	"github.com/forgeproof/forgeproof/pki"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// ClientName is the common name of the demo's client certificate: the bank
// account it pays from.
const ClientName = "alice"

// renewBefore is how long before expiry a reused certificate or CRL is
// replaced, so a demo started now does not break mid-session.
const renewBefore = 24 * time.Hour

// Files are the paths of a demo PKI folder.
type Files struct {
	Dir string
	// CA and CAKey are the development CA (the key is 0600).
	CA, CAKey string
	// Server and ServerKey are the gateway's certificate (SANs localhost,
	// 127.0.0.1 and ::1) and key.
	Server, ServerKey string
	// Client and ClientKey are alice's client certificate and key, and
	// ClientP12 both as PKCS#12 with an empty password (import it into a
	// browser).
	Client, ClientKey, ClientP12 string
	// CRL is the CA's certificate revocation list.
	CRL string
}

// FilesIn returns the paths of a PKI folder's files.
func FilesIn(dir string) Files {
	j := func(name string) string { return filepath.Join(dir, name) }
	return Files{
		Dir: dir,
		CA:  j(pki.CAFile), CAKey: j(pki.CAKeyFile),
		Server: j(pki.ServerFile), ServerKey: j(pki.ServerKeyFile),
		Client: j(pki.ClientFile), ClientKey: j(pki.ClientKeyFile), ClientP12: j(pki.ClientP12File),
		CRL: j(pki.CRLFile),
	}
}

// devPKI is a loaded demo PKI.
type devPKI struct {
	files   Files
	ca      *pki.CA
	server  *pki.Cert
	client  *pki.Cert
	crl     *x509.RevocationList // the CRL refreshCRL found (re-signing keeps its entries); nil if none was usable
	created []string             // base names of the files written this time
	renewed []string             // those of created that replaced an unusable or expiring file
	now     time.Time
}

// ErrStalePKI is wrapped by the errors of a PKI folder that the demo
// cannot use as it is and must not repair by itself (an expired CA): a
// browser may trust the CA, so only the user may replace it, with
// ResetPKI or by deleting the folder.
var ErrStalePKI = errors.New("the demo PKI must be reset")

// resetFiles are the files Start writes into the PKI folder, in the
// order it writes them, and those ResetPKI deletes.
var resetFiles = []string{pki.CAFile, pki.CAKeyFile, pki.ServerFile, pki.ServerKeyFile,
	pki.ClientFile, pki.ClientKeyFile, pki.ClientP12File, pki.CRLFile, TokenKeyFile}

// FileNames returns the base names of the files Start may write into the
// PKI folder (and ResetPKI deletes), in the order it writes them.
func FileNames() []string { return slices.Clone(resetFiles) }

// ResetPKI deletes the demo's files in dir (and nothing else), so the
// next Start creates a new CA and new certificates. It returns the base
// names of the files it deleted. It holds the folder's lock while it
// deletes, as Start does while it writes: a reset beside another demo's
// start would leave that demo a server.pem without its key.
func ResetPKI(dir string) ([]string, error) {
	unlock, err := dirlock.Lock(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no folder, nothing to delete
	}
	if err != nil {
		return nil, fmt.Errorf("demo: reset: %w", err)
	}
	defer unlock()
	var removed []string
	for _, name := range resetFiles {
		err := os.Remove(filepath.Join(dir, name))
		switch {
		case err == nil:
			removed = append(removed, name)
		case !errors.Is(err, os.ErrNotExist):
			return removed, fmt.Errorf("demo: reset: %w", err)
		}
	}
	return removed, nil
}

// PreparePKI creates the demo's development PKI in dir, or reuses the one
// there. A CA found in dir is kept (it may already be trusted by a
// browser); the server and client certificates, the PKCS#12 file and the
// CRL are (re)issued when missing, unusable or close to expiry. It
// returns the paths and the base names of the files it wrote.
func PreparePKI(dir string) (Files, []string, error) {
	p, err := preparePKI(dir, time.Now(), false)
	if err != nil {
		return Files{}, nil, err
	}
	return p.files, p.created, nil
}

// preparePKI prepares the PKI, and the token key file too when tokenKey
// is set (Start's), all under the folder's lock.
func preparePKI(dir string, now time.Time, tokenKey bool) (*devPKI, error) {
	if dir == "" {
		return nil, errors.New("demo: no PKI folder given")
	}
	p := &devPKI{files: FilesIn(dir), now: now}
	// A folder others may write: the gateway would refuse the files
	// there, after they were written.
	if err := openfolder.Check(filepath.Join(dir, pki.CAKeyFile)); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	// As the pki commands: a "pki revoke" beside the CRL's re-signing
	// below would lose its entry.
	unlock, err := dirlock.Lock(dir)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	defer unlock()
	var existed []string
	for _, name := range resetFiles {
		if exists(filepath.Join(dir, name)) {
			existed = append(existed, name)
		}
	}
	defer func() {
		for _, name := range p.created {
			if slices.Contains(existed, name) {
				p.renewed = append(p.renewed, name)
			}
		}
	}()
	if err := p.loadOrCreateCA(); err != nil {
		return nil, err
	}
	if err := p.loadOrIssueServer(now); err != nil {
		return nil, err
	}
	if err := p.loadOrIssueClient(now); err != nil {
		return nil, err
	}
	if err := p.writeP12IfStale(); err != nil {
		return nil, err
	}
	if err := p.refreshCRL(now); err != nil {
		return nil, err
	}
	if tokenKey {
		if err := p.prepareTokenKey(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (p *devPKI) loadOrCreateCA() error {
	certOK, keyOK := exists(p.files.CA), exists(p.files.CAKey)
	switch {
	case certOK && keyOK:
		ca, err := pki.LoadCA(p.files.Dir)
		if err != nil {
			// Never replace a CA silently: a browser may trust it.
			return fmt.Errorf("demo: the CA in %q is unusable (%v): remove the folder or choose another --dir", p.files.Dir, err)
		}
		if !p.now.Add(renewBefore).Before(ca.Cert.NotAfter) {
			// Never replace a CA silently (a browser may trust it), nor
			// issue from one that has run out.
			return fmt.Errorf("demo: the CA in %q expired on %s (or expires within a day): start afresh with --reset, or delete the folder: %w",
				p.files.Dir, ca.Cert.NotAfter.UTC().Format(time.DateOnly), ErrStalePKI)
		}
		p.ca = ca
		return nil
	case certOK || keyOK:
		return fmt.Errorf("demo: %q holds only one of %s and %s: remove the folder or choose another --dir", p.files.Dir, pki.CAFile, pki.CAKeyFile)
	}
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "forgeproof demo CA"})
	if err != nil {
		return err
	}
	if err := ca.Save(p.files.Dir); err != nil {
		return err
	}
	p.ca = ca
	p.created = append(p.created, pki.CAFile, pki.CAKeyFile)
	return nil
}

// usable reports whether c was issued by ca, is valid for a while yet and
// has the extended key usage.
func (p *devPKI) usable(c *pki.Cert, usage x509.ExtKeyUsage, now time.Time) bool {
	_, err := c.Cert.Verify(x509.VerifyOptions{
		Roots:       p.ca.Pool(),
		CurrentTime: now.Add(renewBefore),
		KeyUsages:   []x509.ExtKeyUsage{usage},
	})
	return err == nil && !now.Before(c.Cert.NotBefore)
}

func (p *devPKI) loadOrIssueServer(now time.Time) error {
	if c, err := pki.LoadCert(p.files.Server, p.files.ServerKey); err == nil && p.usable(c, x509.ExtKeyUsageServerAuth, now) &&
		c.Cert.VerifyHostname("localhost") == nil && c.Cert.VerifyHostname("127.0.0.1") == nil && c.Cert.VerifyHostname("::1") == nil {
		c.Issuer = p.ca.Cert
		p.server = c
		return nil
	}
	c, err := p.ca.IssueServer(pki.ServerOptions{
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
	if err != nil {
		return err
	}
	if err := c.Save(p.files.Dir, pki.ServerFile, pki.ServerKeyFile); err != nil {
		return err
	}
	p.server = c
	p.created = append(p.created, pki.ServerFile, pki.ServerKeyFile)
	return nil
}

func (p *devPKI) loadOrIssueClient(now time.Time) error {
	if c, err := pki.LoadCert(p.files.Client, p.files.ClientKey); err == nil && p.usable(c, x509.ExtKeyUsageClientAuth, now) &&
		c.Cert.Subject.CommonName == ClientName {
		c.Issuer = p.ca.Cert
		p.client = c
		return nil
	}
	c, err := p.ca.IssueClient(pki.ClientOptions{CommonName: ClientName, Organization: []string{"forgeproof demo"}})
	if err != nil {
		return err
	}
	if err := c.Save(p.files.Dir, pki.ClientFile, pki.ClientKeyFile); err != nil {
		return err
	}
	p.client = c
	p.created = append(p.created, pki.ClientFile, pki.ClientKeyFile)
	return nil
}

// writeP12IfStale writes client.p12 unless it already holds the client
// certificate (with the empty password).
func (p *devPKI) writeP12IfStale() error {
	if data, err := os.ReadFile(p.files.ClientP12); err == nil {
		if _, cert, _, err := pkcs12.DecodeChain(data, ""); err == nil && bytes.Equal(cert.Raw, p.client.Cert.Raw) {
			return nil
		}
	}
	pfx, err := p.client.PKCS12("")
	if err != nil {
		return err
	}
	if err := pki.WriteSecretFile(p.files.ClientP12, pfx); err != nil {
		return err
	}
	p.created = append(p.created, pki.ClientP12File)
	return nil
}

// refreshCRL keeps a CRL that this CA signed and that is fresh, re-signs
// one that is close to its NextUpdate (keeping its entries), and replaces
// anything else with an empty one.
func (p *devPKI) refreshCRL(now time.Time) error {
	prev, err := pki.LoadCRL(p.files.Dir)
	if err != nil || (prev != nil && prev.CheckSignatureFrom(p.ca.Cert) != nil) {
		prev = nil
	}
	p.crl = prev // re-signing keeps its entries
	if prev != nil && prev.NextUpdate.After(now.Add(renewBefore)) {
		return nil
	}
	der, err := p.ca.Revoke(prev)
	if err != nil {
		return err
	}
	if err := pki.SaveCRL(p.files.Dir, der); err != nil {
		return err
	}
	p.created = append(p.created, pki.CRLFile)
	return nil
}

// revoked reports whether the folder's CRL lists c.
func (p *devPKI) revoked(c *pki.Cert) bool {
	if p.crl == nil {
		return false
	}
	return slices.ContainsFunc(p.crl.RevokedCertificateEntries, func(e x509.RevocationListEntry) bool {
		return e.SerialNumber.Cmp(c.Cert.SerialNumber) == 0
	})
}

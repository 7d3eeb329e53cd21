package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// Cert is an issued certificate with its private key and the certificate
// of the CA that issued it.
type Cert struct {
	Cert   *x509.Certificate // the issued certificate
	Key    crypto.Signer     // its private key
	Issuer *x509.Certificate // the issuing CA's certificate
}

// ServerOptions configures CA.IssueServer. At least one DNS name or IP
// address is required.
type ServerOptions struct {
	// DNSNames and IPAddresses are the subject alternative names the
	// certificate is valid for.
	DNSNames    []string
	IPAddresses []net.IP
	// CommonName defaults to the first DNS name (or IP address).
	CommonName string
	// KeyAlgorithm of the key; the zero value is ECDSA P-256.
	KeyAlgorithm KeyAlgorithm
	// NotBefore defaults to five minutes ago, NotAfter to NotBefore plus
	// DefaultLeafValidity, or the CA's NotAfter if that comes first.
	// Either may be in the past or the future.
	NotBefore, NotAfter time.Time
	// ExtKeyUsage defaults to serverAuth. Set it to mint a certificate with
	// the wrong usage for a test.
	ExtKeyUsage []x509.ExtKeyUsage
}

// ClientOptions configures CA.IssueClient. At least a CommonName or one
// subject alternative name is required.
type ClientOptions struct {
	// CommonName, Organization and OrganizationalUnit make the subject;
	// each is optional.
	CommonName         string
	Organization       []string
	OrganizationalUnit []string
	// SPIFFEID, if set, is validated and added as the first URI SAN. A
	// SPIFFE X509-SVID has exactly one URI SAN: adding URIs as well makes
	// a certificate that verifiers do not treat as an SVID.
	SPIFFEID string
	// URIs, DNSNames and EmailAddresses are more subject alternative
	// names.
	URIs           []*url.URL
	DNSNames       []string
	EmailAddresses []string
	// KeyAlgorithm of a new key; the zero value is ECDSA P-256.
	KeyAlgorithm KeyAlgorithm
	// NotBefore defaults to five minutes ago, NotAfter to NotBefore plus
	// DefaultLeafValidity, or the CA's NotAfter if that comes first.
	// Either may be in the past or the future.
	NotBefore, NotAfter time.Time
	// ExtKeyUsage defaults to clientAuth. Set it to mint a certificate with
	// the wrong usage for a test.
	ExtKeyUsage []x509.ExtKeyUsage
	// Key, if set, is used instead of a new key (to re-issue a certificate
	// for the same key, which keeps its SPKI hash).
	Key crypto.Signer
}

// IssueServer issues a TLS server certificate.
func (ca *CA) IssueServer(opts ServerOptions) (*Cert, error) {
	if len(opts.DNSNames) == 0 && len(opts.IPAddresses) == 0 {
		return nil, errors.New("pki: server certificate needs at least one DNS name or IP address")
	}
	cn := opts.CommonName
	if cn == "" {
		if len(opts.DNSNames) > 0 {
			cn = opts.DNSNames[0]
		} else {
			cn = opts.IPAddresses[0].String()
		}
	}
	eku := opts.ExtKeyUsage
	if eku == nil {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		DNSNames:    opts.DNSNames,
		IPAddresses: opts.IPAddresses,
		ExtKeyUsage: eku,
	}
	return ca.issue(tmpl, nil, opts.KeyAlgorithm, opts.NotBefore, opts.NotAfter)
}

// IssueClient issues a TLS client certificate.
func (ca *CA) IssueClient(opts ClientOptions) (*Cert, error) {
	var uris []*url.URL
	if opts.SPIFFEID != "" {
		id, err := spiffeid.FromString(opts.SPIFFEID)
		if err != nil {
			return nil, fmt.Errorf("pki: invalid SPIFFE ID %q: %w", opts.SPIFFEID, err)
		}
		if id.Path() == "" {
			return nil, fmt.Errorf("pki: invalid SPIFFE ID %q: a workload's SPIFFE ID needs a path (X509-SVID §3.1), as in spiffe://example.org/web", opts.SPIFFEID)
		}
		uris = append(uris, id.URL())
	}
	uris = append(uris, opts.URIs...)
	if opts.CommonName == "" && len(uris) == 0 && len(opts.DNSNames) == 0 && len(opts.EmailAddresses) == 0 {
		return nil, errors.New("pki: client certificate needs a common name or a subject alternative name")
	}
	eku := opts.ExtKeyUsage
	if eku == nil {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	tmpl := &x509.Certificate{
		Subject: pkix.Name{
			CommonName:         opts.CommonName,
			Organization:       opts.Organization,
			OrganizationalUnit: opts.OrganizationalUnit,
		},
		URIs:           uris,
		DNSNames:       opts.DNSNames,
		EmailAddresses: opts.EmailAddresses,
		ExtKeyUsage:    eku,
	}
	return ca.issue(tmpl, opts.Key, opts.KeyAlgorithm, opts.NotBefore, opts.NotAfter)
}

func (ca *CA) issue(tmpl *x509.Certificate, key crypto.Signer, alg KeyAlgorithm, notBefore, notAfter time.Time) (*Cert, error) {
	if err := ca.check(); err != nil {
		return nil, err
	}
	if key == nil {
		var err error
		if key, err = GenerateKey(alg); err != nil {
			return nil, fmt.Errorf("pki: generating key: %w", err)
		}
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = validity(notBefore, notAfter, DefaultLeafValidity)
	if notAfter.IsZero() && tmpl.NotAfter.After(ca.Cert.NotAfter) && ca.Cert.NotAfter.After(tmpl.NotBefore) {
		// The default lifetime stops at the CA's: verifiers refuse the
		// certificate once its CA expires. An explicit NotAfter is kept
		// as given (tests mint what they need).
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	if !tmpl.NotAfter.After(tmpl.NotBefore) {
		return nil, fmt.Errorf("pki: NotAfter %v is not after NotBefore %v", tmpl.NotAfter, tmpl.NotBefore)
	}
	tmpl.KeyUsage = keyUsageFor(key)
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: creating certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parsing new certificate: %w", err)
	}
	return &Cert{Cert: cert, Key: key, Issuer: ca.Cert}, nil
}

// TLSCertificate returns the certificate and key for tls.Config.Certificates
// (or a client's GetClientCertificate), with Leaf set. The chain holds the
// leaf only: peers are expected to trust the CA itself.
func (c *Cert) TLSCertificate() tls.Certificate {
	return tls.Certificate{
		Certificate: [][]byte{c.Cert.Raw},
		PrivateKey:  c.Key,
		Leaf:        c.Cert,
	}
}

// ServerTLSConfig is a convenience for tests: a server configuration that
// presents c and requires and verifies client certificates issued by
// clientCA.
func (c *Cert) ServerTLSConfig(clientCA *CA) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCA.Pool(),
		MinVersion:   tls.VersionTLS12,
	}
}

// ClientTLSConfig is a convenience for tests: a client configuration that
// presents c and trusts serverCA for the server's certificate.
func (c *Cert) ClientTLSConfig(serverCA *CA) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.TLSCertificate()},
		RootCAs:      serverCA.Pool(),
		MinVersion:   tls.VersionTLS12,
	}
}

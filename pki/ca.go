package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Default lifetimes, used when the options leave NotAfter zero.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultLeafValidity = 365 * 24 * time.Hour
	DefaultCRLValidity  = 7 * 24 * time.Hour
	// backdate is how far before now a certificate becomes valid by
	// default, so a peer whose clock is a little behind accepts it.
	backdate = 5 * time.Minute
)

// CA is a certificate authority: its certificate and private key.
type CA struct {
	Cert *x509.Certificate // the self-signed CA certificate
	Key  crypto.Signer     // its private key: keep it secret
}

// CAOptions configures NewCA. The zero value makes an ECDSA P-256 CA named
// "forgeproof development CA", valid for ten years.
type CAOptions struct {
	// CommonName of the CA; if empty, "forgeproof development CA".
	CommonName string
	// Organization of the CA subject; optional.
	Organization []string
	// KeyAlgorithm of the CA key; the zero value is ECDSA P-256.
	KeyAlgorithm KeyAlgorithm
	// NotBefore defaults to five minutes ago, NotAfter to NotBefore plus
	// DefaultCAValidity.
	NotBefore, NotAfter time.Time
}

// NewCA creates a self-signed certificate authority. It may sign leaf
// certificates and CRLs, not other CAs (path length zero).
func NewCA(opts CAOptions) (*CA, error) {
	key, err := GenerateKey(opts.KeyAlgorithm)
	if err != nil {
		return nil, fmt.Errorf("pki: generating CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	cn := opts.CommonName
	if cn == "" {
		cn = "forgeproof development CA"
	}
	notBefore, notAfter := validity(opts.NotBefore, opts.NotAfter, DefaultCAValidity)
	if !notAfter.After(notBefore) {
		return nil, fmt.Errorf("pki: CA NotAfter %v is not after NotBefore %v", notAfter, notBefore)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: opts.Organization},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parsing new CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Pool returns a new certificate pool holding only this CA, for
// tls.Config.ClientCAs or RootCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// check reports whether the CA's key matches its certificate.
func (ca *CA) check() error {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return errors.New("pki: CA certificate or key missing")
	}
	if !publicKeysEqual(ca.Cert.PublicKey, ca.Key.Public()) {
		return errors.New("pki: CA key does not match the CA certificate")
	}
	if !ca.Cert.IsCA {
		return errors.New("pki: CA certificate is not a CA (basic constraints)")
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func randomSerial() (*big.Int, error) {
	// 128 random bits, never zero (RFC 5280 wants positive serials).
	max := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(rand.Reader, max)
	if err != nil {
		return nil, fmt.Errorf("pki: generating serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func validity(notBefore, notAfter time.Time, d time.Duration) (time.Time, time.Time) {
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-backdate)
	}
	if notAfter.IsZero() {
		notAfter = notBefore.Add(d)
	}
	return notBefore.UTC().Truncate(time.Second), notAfter.UTC().Truncate(time.Second)
}

func keyUsageFor(key crypto.Signer) x509.KeyUsage {
	ku := x509.KeyUsageDigitalSignature
	if _, ok := key.Public().(*rsa.PublicKey); ok {
		// RSA key exchange in TLS 1.2 needs it.
		ku |= x509.KeyUsageKeyEncipherment
	}
	return ku
}

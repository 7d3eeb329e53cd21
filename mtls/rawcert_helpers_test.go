package mtls_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// rawCert is a certificate minted with crypto/x509 directly, with its key.
type rawCert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

var rawSerial atomic.Int64

// mint issues tmpl (filled with defaults) for a fresh P-256 key, signed
// by parent (self-signed when parent is nil).
func mint(t testing.TB, tmpl *x509.Certificate, parent *rawCert) *rawCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return mintKey(t, tmpl, parent, key)
}

// mintKey is mint for the given key.
func mintKey(t testing.TB, tmpl *x509.Certificate, parent *rawCert, key crypto.Signer) *rawCert {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(1000 + rawSerial.Add(1))
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(time.Hour)
	}
	signer, parentCert := crypto.Signer(key), tmpl
	if parent != nil {
		signer, parentCert = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &rawCert{Cert: c, Key: key}
}

func rawCA(t testing.TB, name string, parent *rawCert) *rawCert {
	return mint(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, parent)
}

func rawClient(t testing.TB, parent *rawCert, mod func(*x509.Certificate)) *rawCert {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "client"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if mod != nil {
		mod(tmpl)
	}
	return mint(t, tmpl, parent)
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// verifyOnly is a VerifyOnly server whose client CA is root.
func verifyOnly(t testing.TB, root *rawCert) *mtls.Server {
	t.Helper()
	s, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: []mtls.Source{{Data: pki.EncodeCertsPEM(root.Cert)}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

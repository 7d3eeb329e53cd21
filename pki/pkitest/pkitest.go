// Package pkitest mints certificates for tests in one line each, failing
// the test on error. Everything stays in memory.
package pkitest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki"
)

var caCount atomic.Int64

// CA returns a new ECDSA P-256 development CA with a name of its own
// ("pkitest CA 1", "pkitest CA 2", …), so that error messages tell CAs
// apart.
func CA(tb testing.TB) *pki.CA {
	tb.Helper()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: fmt.Sprintf("pkitest CA %d", caCount.Add(1))})
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}

// Server issues a server certificate for localhost, 127.0.0.1 and ::1
// from ca.
func Server(tb testing.TB, ca *pki.CA) *pki.Cert {
	tb.Helper()
	return ServerWith(tb, ca, pki.ServerOptions{
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
}

// ServerWith issues a server certificate with the given options.
func ServerWith(tb testing.TB, ca *pki.CA, opts pki.ServerOptions) *pki.Cert {
	tb.Helper()
	c, err := ca.IssueServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Client issues a client certificate with the given options.
func Client(tb testing.TB, ca *pki.CA, opts pki.ClientOptions) *pki.Cert {
	tb.Helper()
	c, err := ca.IssueClient(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// SPIFFE issues a client certificate whose only URI SAN is the SPIFFE ID.
func SPIFFE(tb testing.TB, ca *pki.CA, id string) *pki.Cert {
	tb.Helper()
	return Client(tb, ca, pki.ClientOptions{SPIFFEID: id})
}

// CommonName is the subject attribute commonName=v, for ClientWithSubject.
func CommonName(v string) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: v}
}

// ClientWithSubject issues a client certificate (ECDSA P-256, clientAuth)
// whose subject is exactly the given RDN sequence, as a CA that signs
// what a CSR asks for would. pki.ClientOptions cannot spell such subjects
// (two common names, a multi-valued RDN); tests of how they are read
// can.
func ClientWithSubject(tb testing.TB, ca *pki.CA, subject pkix.RDNSequence) *pki.Cert {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := asn1.Marshal(subject)
	if err != nil {
		tb.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		RawSubject:   raw,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &pki.Cert{Cert: cert, Key: key, Issuer: ca.Cert}
}

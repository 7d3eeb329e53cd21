package pki_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

func newCA(t *testing.T, opts pki.CAOptions) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(opts)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestNewCA(t *testing.T) {
	tests := []struct {
		name    string
		opts    pki.CAOptions
		wantRSA bool
	}{
		{name: "default ecdsa", opts: pki.CAOptions{}},
		{name: "rsa", opts: pki.CAOptions{KeyAlgorithm: pki.RSA2048, CommonName: "rsa ca"}, wantRSA: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := newCA(t, tt.opts)
			c := ca.Cert
			if !c.IsCA || !c.MaxPathLenZero || c.MaxPathLen != 0 {
				t.Errorf("got IsCA=%v MaxPathLen=%d, want a CA with path length zero", c.IsCA, c.MaxPathLen)
			}
			if c.KeyUsage&x509.KeyUsageCertSign == 0 || c.KeyUsage&x509.KeyUsageCRLSign == 0 {
				t.Errorf("got key usage %b, want certSign and cRLSign", c.KeyUsage)
			}
			_, isRSA := c.PublicKey.(*rsa.PublicKey)
			_, isEC := c.PublicKey.(*ecdsa.PublicKey)
			if isRSA != tt.wantRSA || isEC == tt.wantRSA {
				t.Errorf("got key %T, want rsa=%v", c.PublicKey, tt.wantRSA)
			}
			if err := c.CheckSignatureFrom(c); err != nil {
				t.Errorf("self-signature: %v", err)
			}
			if c.NotAfter.Sub(c.NotBefore) < 9*365*24*time.Hour {
				t.Errorf("got validity %v, want about ten years", c.NotAfter.Sub(c.NotBefore))
			}
		})
	}
}

func TestIssueVerify(t *testing.T) {
	ca := newCA(t, pki.CAOptions{})
	other := newCA(t, pki.CAOptions{})
	now := time.Now()
	tests := []struct {
		name    string
		issue   func() (*pki.Cert, error)
		roots   *pki.CA
		usage   x509.ExtKeyUsage
		dns     string
		wantErr bool
	}{
		{name: "server accepted", issue: func() (*pki.Cert, error) {
			return ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
		}, roots: ca, usage: x509.ExtKeyUsageServerAuth, dns: "localhost"},
		{name: "server wrong name", issue: func() (*pki.Cert, error) {
			return ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
		}, roots: ca, usage: x509.ExtKeyUsageServerAuth, dns: "example.com", wantErr: true},
		{name: "server ip accepted", issue: func() (*pki.Cert, error) {
			return ca.IssueServer(pki.ServerOptions{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
		}, roots: ca, usage: x509.ExtKeyUsageServerAuth, dns: "127.0.0.1"},
		{name: "server rsa accepted", issue: func() (*pki.Cert, error) {
			return ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, KeyAlgorithm: pki.RSA2048})
		}, roots: ca, usage: x509.ExtKeyUsageServerAuth, dns: "localhost"},
		{name: "server used as client refused", issue: func() (*pki.Cert, error) {
			return ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
		}, roots: ca, usage: x509.ExtKeyUsageClientAuth, wantErr: true},
		{name: "client accepted", issue: func() (*pki.Cert, error) {
			return ca.IssueClient(pki.ClientOptions{CommonName: "alice"})
		}, roots: ca, usage: x509.ExtKeyUsageClientAuth},
		{name: "client used as server refused", issue: func() (*pki.Cert, error) {
			return ca.IssueClient(pki.ClientOptions{CommonName: "alice"})
		}, roots: ca, usage: x509.ExtKeyUsageServerAuth, wantErr: true},
		{name: "client unknown authority refused", issue: func() (*pki.Cert, error) {
			return ca.IssueClient(pki.ClientOptions{CommonName: "alice"})
		}, roots: other, usage: x509.ExtKeyUsageClientAuth, wantErr: true},
		{name: "client expired refused", issue: func() (*pki.Cert, error) {
			return ca.IssueClient(pki.ClientOptions{CommonName: "alice", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
		}, roots: ca, usage: x509.ExtKeyUsageClientAuth, wantErr: true},
		{name: "client not yet valid refused", issue: func() (*pki.Cert, error) {
			return ca.IssueClient(pki.ClientOptions{CommonName: "alice", NotBefore: now.Add(time.Hour)})
		}, roots: ca, usage: x509.ExtKeyUsageClientAuth, wantErr: true},
		{name: "client custom validity accepted", issue: func() (*pki.Cert, error) {
			return ca.IssueClient(pki.ClientOptions{CommonName: "alice", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
		}, roots: ca, usage: x509.ExtKeyUsageClientAuth},
		{name: "client wrong usage refused", issue: func() (*pki.Cert, error) {
			return ca.IssueClient(pki.ClientOptions{CommonName: "alice", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		}, roots: ca, usage: x509.ExtKeyUsageClientAuth, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.issue()
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Cert.Verify(x509.VerifyOptions{
				Roots:     tt.roots.Pool(),
				DNSName:   tt.dns,
				KeyUsages: []x509.ExtKeyUsage{tt.usage},
			})
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("got error %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestIssueClientFields(t *testing.T) {
	ca := newCA(t, pki.CAOptions{})
	c, err := ca.IssueClient(pki.ClientOptions{
		CommonName:         "alice",
		Organization:       []string{"Example"},
		OrganizationalUnit: []string{"payments"},
		SPIFFEID:           "spiffe://example.org/ns/prod/sa/web",
		DNSNames:           []string{"web.example.org"},
		EmailAddresses:     []string{"alice@example.org"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Cert
	if len(got.URIs) != 1 || got.URIs[0].String() != "spiffe://example.org/ns/prod/sa/web" {
		t.Errorf("got URIs %v, want the SPIFFE ID only", got.URIs)
	}
	if got.Subject.CommonName != "alice" || got.Subject.OrganizationalUnit[0] != "payments" || got.Subject.Organization[0] != "Example" {
		t.Errorf("got subject %v, want CN=alice,OU=payments,O=Example", got.Subject)
	}
	if got.DNSNames[0] != "web.example.org" || got.EmailAddresses[0] != "alice@example.org" {
		t.Errorf("got DNS %v email %v", got.DNSNames, got.EmailAddresses)
	}
	if len(got.ExtKeyUsage) != 1 || got.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("got ext key usage %v, want clientAuth", got.ExtKeyUsage)
	}
	if c.Issuer != ca.Cert {
		t.Errorf("got issuer %v, want the CA", c.Issuer.Subject)
	}
	// Re-issuing for the same key keeps the SPKI.
	again, err := ca.IssueClient(pki.ClientOptions{CommonName: "alice", Key: c.Key})
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Cert.RawSubjectPublicKeyInfo) != string(c.Cert.RawSubjectPublicKeyInfo) {
		t.Error("got a different public key, want the one passed in Key")
	}
	if again.Cert.SerialNumber.Cmp(c.Cert.SerialNumber) == 0 {
		t.Error("got the same serial number twice")
	}
}

func TestIssueErrors(t *testing.T) {
	ca := newCA(t, pki.CAOptions{})
	now := time.Now()
	tests := []struct {
		name  string
		issue func() error
		want  string
	}{
		{name: "server without names", issue: func() error { _, err := ca.IssueServer(pki.ServerOptions{}); return err }, want: "at least one DNS name"},
		{name: "client without names", issue: func() error { _, err := ca.IssueClient(pki.ClientOptions{}); return err }, want: "common name or a subject alternative name"},
		{name: "invalid spiffe id", issue: func() error {
			_, err := ca.IssueClient(pki.ClientOptions{SPIFFEID: "https://example.org/x"})
			return err
		}, want: `invalid SPIFFE ID "https://example.org/x"`},
		{name: "spiffe id without a path", issue: func() error {
			_, err := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org"})
			return err
		}, want: `a workload's SPIFFE ID needs a path`},
		{name: "inverted validity", issue: func() error {
			_, err := ca.IssueClient(pki.ClientOptions{CommonName: "a", NotBefore: now, NotAfter: now.Add(-time.Hour)})
			return err
		}, want: "is not after NotBefore"},
		{name: "ca key mismatch", issue: func() error {
			other := newCA(t, pki.CAOptions{})
			_, err := (&pki.CA{Cert: ca.Cert, Key: other.Key}).IssueClient(pki.ClientOptions{CommonName: "a"})
			return err
		}, want: "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.issue()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestHandshake proves the certificates work for real mutual TLS.
func TestHandshake(t *testing.T) {
	ca := newCA(t, pki.CAOptions{})
	srv, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/client"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.ServerTLSConfig(ca))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			done <- err
			return
		}
		if got := tc.ConnectionState().PeerCertificates[0].URIs[0].String(); got != "spiffe://example.org/client" {
			done <- errors.New("got peer " + got)
			return
		}
		done <- nil
	}()
	conf := cli.ClientTLSConfig(ca)
	conf.ServerName = "localhost"
	c, err := tls.Dial("tcp", ln.Addr().String(), conf)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	ca := newCA(t, pki.CAOptions{KeyAlgorithm: pki.RSA2048})
	// A key file left with wide permissions must come back 0600.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pki.CAKeyFile), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	cli, err := ca.IssueClient(pki.ClientOptions{CommonName: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Save(dir, pki.ClientFile, pki.ClientKeyFile); err != nil {
		t.Fatal(err)
	}
	perms := []struct {
		name string
		want os.FileMode
	}{
		{pki.CAFile, 0o644}, {pki.CAKeyFile, 0o600}, {pki.ClientFile, 0o644}, {pki.ClientKeyFile, 0o600},
	}
	for _, p := range perms {
		fi, err := os.Stat(filepath.Join(dir, p.name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != p.want {
			t.Errorf("%s: got mode %v, want %v", p.name, got, p.want)
		}
	}
	loaded, err := pki.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Error("got a different CA certificate back")
	}
	// The loaded CA can still issue certificates that verify against the original.
	c, err := loaded.IssueClient(pki.ClientOptions{CommonName: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Error(err)
	}
	lc, err := pki.LoadCert(filepath.Join(dir, pki.ClientFile), filepath.Join(dir, pki.ClientKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if !lc.Cert.Equal(cli.Cert) {
		t.Error("got a different client certificate back")
	}
	// Mismatched pair is refused.
	if _, err := pki.LoadCert(filepath.Join(dir, pki.ClientFile), filepath.Join(dir, pki.CAKeyFile)); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("got %v, want a key mismatch error", err)
	}
	if _, err := pki.LoadCA(t.TempDir()); err == nil {
		t.Error("got no error loading a CA from an empty folder")
	}
}

func TestPEMParse(t *testing.T) {
	ca := newCA(t, pki.CAOptions{})
	ecKey := ca.Key.(*ecdsa.PrivateKey)
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaCA := newCA(t, pki.CAOptions{KeyAlgorithm: pki.RSA2048})
	pkcs8, err := pki.EncodeKeyPEM(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{name: "pkcs8", data: pkcs8},
		{name: "sec1 with parameters", data: []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + pemBlock("EC PRIVATE KEY", sec1))},
		{name: "pkcs1", data: []byte(pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaCA.Key.(*rsa.PrivateKey))))},
		{name: "certificate only", data: pki.EncodeCertsPEM(ca.Cert), wantErr: true},
		{name: "empty", data: nil, wantErr: true},
		{name: "garbage key", data: []byte(pemBlock("PRIVATE KEY", []byte("nope"))), wantErr: true},
		{name: "encrypted", data: []byte(pemBlock("ENCRYPTED PRIVATE KEY", []byte("x"))), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pki.ParseKeyPEM(tt.data)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("got error %v, want error %v", err, tt.wantErr)
			}
		})
	}
	certs, err := pki.ParseCertsPEM(append(pki.EncodeCertsPEM(ca.Cert), pki.EncodeCertsPEM(rsaCA.Cert)...))
	if err != nil || len(certs) != 2 {
		t.Errorf("got %d certificates, %v; want 2", len(certs), err)
	}
	if _, err := pki.ParseCertPEM(append(pki.EncodeCertsPEM(ca.Cert), pkcs8...)); err == nil {
		t.Error("got no error for a key in a certificate file")
	}
}

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestPKCS12(t *testing.T) {
	ca := newCA(t, pki.CAOptions{})
	cli, err := ca.IssueClient(pki.ClientOptions{CommonName: "alice", SPIFFEID: "spiffe://example.org/alice"})
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := cli.PKCS12("")
	if err != nil {
		t.Fatal(err)
	}
	key, cert, chain, err := pkcs12.DecodeChain(pfx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !cert.Equal(cli.Cert) || len(chain) != 1 || !chain[0].Equal(ca.Cert) {
		t.Errorf("got cert %v chain %d, want the client and its CA", cert.Subject, len(chain))
	}
	if !key.(*ecdsa.PrivateKey).Equal(cli.Key) {
		t.Error("got a different key back")
	}
	if _, _, _, err := pkcs12.DecodeChain(pfx, "wrong"); err == nil {
		t.Error("got no error with the wrong password")
	}
}

// TestPKCS12NSS imports the file with NSS's pk12util, the way the e2e
// tests install the client certificate for Chromium.
func TestPKCS12NSS(t *testing.T) {
	pk12util, err := exec.LookPath("pk12util")
	if err != nil {
		t.Skip("pk12util not installed")
	}
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		t.Skip("certutil not installed")
	}
	for _, alg := range []pki.KeyAlgorithm{pki.ECDSAP256, pki.RSA2048} {
		t.Run(alg.String(), func(t *testing.T) {
			ca := newCA(t, pki.CAOptions{})
			cli, err := ca.IssueClient(pki.ClientOptions{CommonName: "nss-" + alg.String(), KeyAlgorithm: alg})
			if err != nil {
				t.Fatal(err)
			}
			pfx, err := cli.PKCS12("")
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			p12 := filepath.Join(dir, pki.ClientP12File)
			if err := pki.WriteSecretFile(p12, pfx); err != nil {
				t.Fatal(err)
			}
			db := "sql:" + filepath.Join(dir, "nssdb")
			os.Mkdir(filepath.Join(dir, "nssdb"), 0o700)
			run := func(name string, args ...string) string {
				out, err := exec.Command(name, args...).CombinedOutput()
				if err != nil {
					t.Fatalf("%s %v: %v\n%s", name, args, err, out)
				}
				return string(out)
			}
			run(certutil, "-N", "-d", db, "--empty-password")
			run(pk12util, "-i", p12, "-d", db, "-W", "")
			if out := run(certutil, "-L", "-d", db); !strings.Contains(out, "nss-"+alg.String()) {
				t.Errorf("certutil -L does not list the client certificate:\n%s", out)
			}
			if out := run(certutil, "-K", "-d", db); !strings.Contains(out, "nss-"+alg.String()) {
				t.Errorf("certutil -K does not list the client key:\n%s", out)
			}
		})
	}
}

func TestCRL(t *testing.T) {
	ca := newCA(t, pki.CAOptions{})
	a, _ := ca.IssueClient(pki.ClientOptions{CommonName: "a"})
	b, _ := ca.IssueClient(pki.ClientOptions{CommonName: "b"})
	der, err := ca.Revoke(nil, a.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	crl1, err := pki.ParseCRL(pki.EncodeCRLPEM(der))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl1.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatal(err)
	}
	if crl1.Number.Cmp(big.NewInt(1)) != 0 || len(crl1.RevokedCertificateEntries) != 1 {
		t.Errorf("got number %v with %d entries, want 1 with 1", crl1.Number, len(crl1.RevokedCertificateEntries))
	}
	der2, err := ca.Revoke(crl1, b.Cert.SerialNumber, a.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	crl2, err := pki.ParseCRL(der2) // DER works as well as PEM
	if err != nil {
		t.Fatal(err)
	}
	if crl2.Number.Cmp(big.NewInt(2)) != 0 {
		t.Errorf("got CRL number %v, want 2", crl2.Number)
	}
	got := map[string]bool{}
	for _, e := range crl2.RevokedCertificateEntries {
		got[e.SerialNumber.String()] = true
	}
	if len(crl2.RevokedCertificateEntries) != 2 || !got[a.Cert.SerialNumber.String()] || !got[b.Cert.SerialNumber.String()] {
		t.Errorf("got %d entries, want a and b once each", len(crl2.RevokedCertificateEntries))
	}
	if !crl2.NextUpdate.After(time.Now().Add(6 * 24 * time.Hour)) {
		t.Errorf("got NextUpdate %v, want about a week ahead", crl2.NextUpdate)
	}
	// A CRL from another CA is refused.
	other := newCA(t, pki.CAOptions{})
	if _, err := other.Revoke(crl2, a.Cert.SerialNumber); err == nil {
		t.Error("got no error adding to another CA's CRL")
	}
	// A stale CRL on request.
	past := time.Now().Add(-48 * time.Hour)
	der3, err := ca.CreateCRL(pki.CRLOptions{ThisUpdate: past, NextUpdate: past.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	crl3, _ := pki.ParseCRL(der3)
	if !crl3.NextUpdate.Before(time.Now()) {
		t.Errorf("got NextUpdate %v, want in the past", crl3.NextUpdate)
	}
	// Saved and loaded.
	dir := t.TempDir()
	if c, err := pki.LoadCRL(dir); c != nil || err != nil {
		t.Errorf("got %v, %v for no CRL, want nil, nil", c, err)
	}
	if err := pki.SaveCRL(dir, der2); err != nil {
		t.Fatal(err)
	}
	if c, err := pki.LoadCRL(dir); err != nil || c.Number.Cmp(big.NewInt(2)) != 0 {
		t.Errorf("got %v, %v, want CRL number 2", c, err)
	}
	if _, err := pki.ParseCRL([]byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")); err == nil {
		t.Error("got no error for a certificate given as a CRL")
	}
}

func TestParseSerial(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		wantErr  bool
	}{
		{name: "decimal", in: "255", want: 255},
		{name: "hex", in: "0xff", want: 255},
		{name: "colon hex", in: "00:ff", want: 255},
		{name: "openssl -serial line", in: "serial=0100", want: 256},
		{name: "openssl -serial line, all letters", in: "serial=FF", want: 255},
		{name: "bare digits are decimal", in: "0100", want: 100},
		{name: "bare hex refused", in: "ECB9D7", wantErr: true},
		{name: "openssl -serial line, empty", in: "serial=", wantErr: true},
		{name: "zero", in: "0", wantErr: true},
		{name: "negative", in: "-5", wantErr: true},
		{name: "plus sign", in: "+5", wantErr: true},
		{name: "hex with a sign", in: "0x+5", wantErr: true},
		{name: "openssl -serial line with a sign", in: "serial=+5", wantErr: true},
		{name: "colon hex with a sign", in: "+3a:f2", wantErr: true},
		{name: "junk", in: "abc", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pki.ParseSerial(tt.in)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got.Int64() != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseKeyAlgorithm(t *testing.T) {
	for _, a := range []pki.KeyAlgorithm{pki.ECDSAP256, pki.RSA2048, pki.RSA3072} {
		got, err := pki.ParseKeyAlgorithm(a.String())
		if err != nil || got != a {
			t.Errorf("got %v, %v, want %v", got, err, a)
		}
	}
	if _, err := pki.ParseKeyAlgorithm("dsa"); err == nil {
		t.Error("got no error for dsa")
	}
}

// TestLeafWithinCA: a leaf's default lifetime stops at its CA's expiry
// (verifiers refuse it after); one whose year ends first keeps its year,
// and an explicit NotAfter is kept as given.
func TestLeafWithinCA(t *testing.T) {
	t.Parallel()
	short := newCA(t, pki.CAOptions{CommonName: "short", NotAfter: time.Now().Add(30 * 24 * time.Hour)})
	long := newCA(t, pki.CAOptions{CommonName: "long"})
	for _, tt := range []struct {
		name     string
		ca       *pki.CA
		notAfter time.Time
		want     func(c *x509.Certificate) time.Time
	}{
		{"default, CA expires first", short, time.Time{}, func(*x509.Certificate) time.Time { return short.Cert.NotAfter }},
		{"default, year ends first", long, time.Time{}, func(c *x509.Certificate) time.Time { return c.NotBefore.Add(pki.DefaultLeafValidity) }},
		{"explicit, past the CA", short, short.Cert.NotAfter.Add(time.Hour), func(*x509.Certificate) time.Time { return short.Cert.NotAfter.Add(time.Hour) }},
	} {
		srv, err := tt.ca.IssueServer(pki.ServerOptions{DNSNames: []string{"a.test"}, NotAfter: tt.notAfter})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		cli, err := tt.ca.IssueClient(pki.ClientOptions{CommonName: "alice", NotAfter: tt.notAfter})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, c := range []*x509.Certificate{srv.Cert, cli.Cert} {
			if want := tt.want(c); !c.NotAfter.Equal(want) {
				t.Errorf("%s: %s NotAfter %v, want %v", tt.name, c.Subject.CommonName, c.NotAfter, want)
			}
		}
	}
}

// TestParseCRLBlocks: a CRL file is one X509 CRL block; a second block
// or a damaged one is refused with its number, as the gateway's CRL
// loader refuses it, where reading the first block alone would drop what
// the rest holds. The first two cases are the allowed twins.
func TestParseCRLBlocks(t *testing.T) {
	ca := newCA(t, pki.CAOptions{})
	der, err := ca.Revoke(nil, big.NewInt(7))
	if err != nil {
		t.Fatal(err)
	}
	p := string(pki.EncodeCRLPEM(der))
	tests := []struct {
		name, data, wantErr string
	}{
		{name: "one block", data: p},
		{name: "one block after a comment", data: "CRL of the dev CA\n" + p},
		{name: "two CRLs", data: p + p, wantErr: "pki: PEM block 2 is a second CRL, want one per file"},
		{name: "damaged second block", data: p + p[:40], wantErr: "pki: PEM block 2 does not parse as PEM"},
		{name: "damaged first block", data: p[:40] + "\n" + p, wantErr: "pki: PEM block 1 does not parse as PEM"},
		{name: "certificate then CRL", data: string(pki.EncodeCertsPEM(ca.Cert)) + p, wantErr: `pki: PEM block 1 is "CERTIFICATE", want "X509 CRL"`},
		{name: "CRL then key", data: p + pemBlock("PRIVATE KEY", []byte("k")), wantErr: "pki: PEM block 2 is a private key"},
		{name: "damaged only block", data: p[:len(p)-20], wantErr: "pki: PEM block 1 does not parse as PEM"},
		{name: "damaged block glued to the next", data: p[:40] + p, wantErr: "pki: PEM block 1 does not parse as PEM"},
		{name: "DER", data: string(der)},
		{name: "bytes after the CRL in its block", data: pemBlock("X509 CRL", append(append([]byte{}, der...), 0)), wantErr: "pki: PEM block 1: 1 bytes after the CRL"},
		{name: "two DER CRLs", data: string(der) + string(der), wantErr: "pki: " + strconv.Itoa(len(der)) + " bytes after the DER CRL"},
		{name: "neither PEM nor DER", data: "not a CRL", wantErr: "pki: no PEM \"X509 CRL\" block, and not a DER CRL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crl, err := pki.ParseCRL([]byte(tt.data))
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(crl.Raw, der) {
					t.Fatalf("got %v, want the CRL", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestParseKeyPEMDamagedBlock: a damaged block before the key is named,
// not skipped to report "no private key"; the same key intact, and after
// an intact certificate, is read (the allowed twins).
func TestParseKeyPEMDamagedBlock(t *testing.T) {
	ca := newCA(t, pki.CAOptions{})
	key, err := pki.EncodeKeyPEM(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pki.EncodeCertsPEM(ca.Cert)
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{name: "key", data: key},
		{name: "certificate then key", data: append(append([]byte{}, cert...), key...)},
		{name: "truncated key", data: key[:len(key)-12], wantErr: "pki: PEM block 1 does not parse as PEM"},
		{name: "certificate then truncated key", data: append(append([]byte{}, cert...), key[:len(key)-12]...), wantErr: "pki: PEM block 2 does not parse as PEM"},
		{name: "damaged block before the key", data: append(append([]byte{}, cert[:40]...), key...), wantErr: "pki: PEM block 1 does not parse as PEM"},
		{name: "certificate only", data: cert, wantErr: "pki: no PEM private key block found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pki.ParseKeyPEM(tt.data)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

package pemutil_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/pemutil"
)

func selfSigned(t testing.TB) []byte {
	t.Helper()
	cert, _ := selfSignedPair(t)
	return cert
}

// selfSignedPair returns a self-signed certificate and its key, in PEM.
func selfSignedPair(t testing.TB) (cert, key []byte) {
	t.Helper()
	cert, k := selfSignedFrom(t, &x509.Certificate{Subject: pkix.Name{CommonName: "t"}})
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

// selfSignedFrom returns tmpl self-signed with a new ECDSA P-256 key, in
// PEM, and the key; it fills in the serial number and validity.
func selfSignedFrom(t testing.TB, tmpl *x509.Certificate) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = big.NewInt(1), time.Unix(0, 0), time.Unix(1<<31, 0)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), k
}

func TestParseCerts(t *testing.T) {
	t.Parallel()
	cert := selfSigned(t)
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
	tests := []struct {
		name    string
		data    []byte
		want    int
		wantErr string
	}{
		{name: "one", data: cert, want: 1},
		{name: "two", data: append(append([]byte{}, cert...), cert...), want: 2},
		{name: "key after cert", data: append(append([]byte{}, cert...), key...), wantErr: `PEM block 2 is a private key, want a certificate`},
		{name: "empty", data: nil, wantErr: "no PEM CERTIFICATE block found"},
		{name: "garbage cert", data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}}), wantErr: "PEM block 1: x509:"},
		// Found by FuzzParseCerts: pem.Decode skips a block that does not
		// decode, and a CA bundle lost a CA in silence.
		{name: "truncated second cert", data: append(append([]byte{}, cert...), cert[:len(cert)-30]...), wantErr: "PEM block 2 does not parse as PEM"},
		{name: "END line missing", data: []byte(strings.Replace(string(cert)+string(cert), "-----END CERTIFICATE-----", "", 1)), wantErr: "PEM block 1 does not parse as PEM"},
		{name: "damaged cert before a good one", data: append([]byte("-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"), cert...), wantErr: "PEM block 1 does not parse as PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pemutil.ParseCerts(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("got %d certificates, %v; want %d", len(got), err, tt.want)
			}
		})
	}
}

func TestCheckCA(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cert    x509.Certificate
		wantErr string
	}{
		{name: "CA", cert: x509.Certificate{BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign}},
		{name: "CA without key usage", cert: x509.Certificate{BasicConstraintsValid: true, IsCA: true}},
		{name: "leaf", cert: x509.Certificate{KeyUsage: x509.KeyUsageDigitalSignature}, wantErr: `"CN=t" is not a CA certificate`},
		{name: "basic constraints, not a CA", cert: x509.Certificate{BasicConstraintsValid: true}, wantErr: "is not a CA certificate"},
		{name: "CA that cannot sign certificates", cert: x509.Certificate{BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCRLSign}, wantErr: "does not allow signing certificates"},
		{name: "CA with a key usage extension with no bit set", cert: x509.Certificate{BasicConstraintsValid: true, IsCA: true, Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: []byte{3, 1, 0}}}}, wantErr: "key usage extension has no bit set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cert
			c.Subject = pkix.Name{CommonName: "t"}
			err := pemutil.CheckCA(&c)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestParseCAs: a bundle of CAs parses; each certificate that is not a
// CA is one error, and a bundle that does not parse is ParseCerts' error
// alone.
func TestParseCAs(t *testing.T) {
	t.Parallel()
	ca := caPEM(t)
	leaf := selfSigned(t)
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
	cat := func(b ...[]byte) []byte { return bytes.Join(b, nil) }
	tests := []struct {
		name     string
		data     []byte
		wantCAs  int
		wantErrs []string
	}{
		{"two CAs", cat(ca, ca), 2, nil},
		{"a leaf between CAs", cat(ca, leaf, ca), 3, []string{`"CN=t" is not a CA certificate`}},
		{"two leaves", cat(leaf, ca, leaf), 3, []string{"is not a CA", "is not a CA"}},
		{"a key", cat(ca, key), 0, []string{"PEM block 2 is a private key"}},
		{"empty", nil, 0, []string{"no PEM CERTIFICATE block found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cas, errs := pemutil.ParseCAs(tt.data)
			if len(cas) != tt.wantCAs || len(errs) != len(tt.wantErrs) {
				t.Fatalf("got %d certificates and errors %v, want %d and %q", len(cas), errs, tt.wantCAs, tt.wantErrs)
			}
			for i, err := range errs {
				if !strings.Contains(err.Error(), tt.wantErrs[i]) {
					t.Errorf("got error %v, want %q", err, tt.wantErrs[i])
				}
			}
		})
	}
}

// caPEM returns a self-signed CA certificate, in PEM.
func caPEM(t *testing.T) []byte {
	t.Helper()
	cert, _ := selfSignedFrom(t, &x509.Certificate{Subject: pkix.Name{CommonName: "ca"}, BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign})
	return cert
}

// TestLoadKeyPair: each problem names its file (KeyPairError.KeyFile) and
// says why; every problem of reading is reported at once; the sound pair
// loads, with its leaf.
func TestLoadKeyPair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := selfSignedPair(t)
	_, otherKey := selfSignedPair(t)
	files := map[string][]byte{"cert.pem": cert, "key.pem": key, "other-key.pem": otherKey}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := func(name string) string {
		if name == "" {
			return ""
		}
		return filepath.Join(dir, name)
	}
	type problem struct {
		keyFile bool
		text    string
	}
	tests := []struct {
		name          string
		certFile, key string
		want          []problem
	}{
		{name: "sound pair", certFile: "cert.pem", key: "key.pem"},
		{name: "no names", want: []problem{{false, "is required"}, {true, "is required"}}},
		{name: "both missing", certFile: "nope.pem", key: "nope-key.pem", want: []problem{
			{false, `cannot read "` + p("nope.pem") + `": no such file or directory`},
			{true, `cannot read "` + p("nope-key.pem") + `": no such file or directory`}}},
		{name: "key missing", certFile: "cert.pem", key: "nope-key.pem", want: []problem{{true, `cannot read "` + p("nope-key.pem") + `": no such file or directory`}}},
		{name: "key in the certificate file", certFile: "key.pem", key: "key.pem", want: []problem{{false, `"` + p("key.pem") + `": PEM block 1 is a private key, want a certificate: keep keys out of certificate files`}}},
		{name: "certificate in the key file", certFile: "cert.pem", key: "cert.pem", want: []problem{{true, `cannot use "` + p("cert.pem") + `" as the key of "` + p("cert.pem") + `": found a certificate rather than a key in the PEM for the private key`}}},
		{name: "key of another certificate", certFile: "cert.pem", key: "other-key.pem", want: []problem{{true, `cannot use "` + p("other-key.pem") + `" as the key of "` + p("cert.pem") + `": private key does not match public key`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var read []string
			c, errs := pemutil.LoadKeyPair(p(tt.certFile), p(tt.key), func(file string, _ []byte) { read = append(read, file) })
			var got []problem
			for _, err := range errs {
				var e *pemutil.KeyPairError
				if !errors.As(err, &e) {
					t.Fatalf("%v: not a *KeyPairError", err)
				}
				got = append(got, problem{e.KeyFile, err.Error()})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if tt.want == nil && (c == nil || c.Leaf == nil || c.Leaf.Subject.CommonName != "t") {
				t.Errorf("got certificate %v, want the pair with its leaf", c)
			}
			if tt.want != nil && c != nil {
				t.Errorf("got a certificate with problems")
			}
			var want []string
			for _, f := range []string{tt.certFile, tt.key} {
				if f != "" {
					want = append(want, p(f))
				}
			}
			if !reflect.DeepEqual(read, want) {
				t.Errorf("read: got %q, want %q", read, want)
			}
		})
	}
}

// FuzzParseCerts: a bundle parses to as many certificates as it has PEM
// blocks, each as it was encoded, or to an error; a damaged block is
// never skipped in silence (a CA bundle would lose a CA).
func FuzzParseCerts(f *testing.F) {
	cert, key := selfSignedPair(f)
	for _, s := range [][]byte{
		cert, append(append([]byte{}, cert...), cert...), append(append([]byte{}, cert...), key...),
		nil, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}}),
		[]byte("# CA\n" + string(cert) + "trailing text\n"),
		append(append([]byte{}, cert...), cert[:len(cert)-30]...),
		[]byte(strings.Replace(string(cert)+string(cert), "-----END CERTIFICATE-----", "", 1)),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := pemutil.ParseCerts(data)
		if err != nil {
			if certs != nil {
				t.Fatal("certificates with an error")
			}
			return
		}
		blocks := bytes.Count(data, []byte("-----BEGIN "))
		if len(certs) != blocks {
			t.Fatalf("%q: %d certificates from %d blocks, and no error", data, len(certs), blocks)
		}
		var again []byte
		for _, c := range certs {
			again = append(again, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		back, err := pemutil.ParseCerts(again)
		if err != nil || len(back) != len(certs) {
			t.Fatalf("re-encoded, %d certificates parse to %d, %v", len(certs), len(back), err)
		}
		for i := range back {
			if !bytes.Equal(back[i].Raw, certs[i].Raw) {
				t.Fatalf("certificate %d changed in a round trip", i+1)
			}
		}
	})
}

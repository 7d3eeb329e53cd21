package pemutil_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/pemutil"
)

func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "t"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
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

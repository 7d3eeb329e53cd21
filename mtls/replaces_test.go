package mtls_test

import (
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestNewServerReplacesRefusesCRLRollback: a Server built to replace
// another refuses a CRL older than the one the old Server uses, as Reload
// does; without Replaces (the negative control) the older CRL is taken
// and the revoked certificate connects again.
func TestNewServerReplacesRefusesCRLRollback(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	dir, cfg := pkiDir(t, ca)
	cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	writeCRL := func(t *testing.T, number int64, revoked bool) {
		t.Helper()
		opts := pki.CRLOptions{Number: big.NewInt(number)}
		if revoked {
			opts.Revoked = []x509.RevocationListEntry{{SerialNumber: cli.Cert.SerialNumber, RevocationTime: time.Now()}}
		}
		der, err := ca.CreateCRL(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.SaveCRL(dir, der); err != nil {
			t.Fatal(err)
		}
	}
	writeCRL(t, 5, true)
	inUse := newServer(t, cfg)

	tests := []struct {
		name        string
		number      int64
		revoked     bool // the CRL revokes cli
		replaces    bool
		wantErr     string
		wantRefused bool // the new Server refuses cli
	}{
		{"older CRL replacing a server is refused", 4, false, true, "older than the one in use", false},
		{"negative control: older CRL without Replaces rolls back", 4, false, false, "", false},
		{"same CRL replacing a server", 5, true, true, "", true},
		{"newer CRL replacing a server", 6, true, true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeCRL(t, tt.number, tt.revoked)
			c := cfg
			if tt.replaces {
				c.Replaces = inUse
			}
			s, err := mtls.NewServer(c)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want a server", err)
			}
			_, err = dial(t, serve(t, s.TLSConfig()), ca, cli, nil)
			if refused := err != nil; refused != tt.wantRefused {
				t.Errorf("revoked certificate refused: got %v (%v), want %v", refused, err, tt.wantRefused)
			}
		})
	}
}

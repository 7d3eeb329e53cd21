package demo_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/demo"
	"github.com/forgeproof/forgeproof/pki"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

var allFiles = []string{"ca-key.pem", "ca.pem", "client-key.pem", "client.p12", "client.pem", "crl.pem", "server-key.pem", "server.pem"}

func TestPreparePKICreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	files, created, err := demo.PreparePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(created)
	if !slices.Equal(created, allFiles) {
		t.Errorf("got created %v, want %v", created, allFiles)
	}
	for _, name := range allFiles {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		secret := strings.Contains(name, "key") || strings.HasSuffix(name, ".p12")
		if got := fi.Mode().Perm(); secret && got != 0o600 || !secret && got&0o077 != 0o044 {
			t.Errorf("%s: got mode %v, want %s", name, got, map[bool]string{true: "0600", false: "0644"}[secret])
		}
	}
	srv, err := pki.LoadCert(files.Server, files.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := srv.Cert.VerifyHostname(h); err != nil {
			t.Errorf("server certificate: %v", err)
		}
	}
	data, err := os.ReadFile(files.ClientP12)
	if err != nil {
		t.Fatal(err)
	}
	_, cert, _, err := pkcs12.DecodeChain(data, "")
	if err != nil {
		t.Fatalf("client.p12 does not open with the empty password: %v", err)
	}
	if cert.Subject.CommonName != demo.ClientName {
		t.Errorf("got client CN %q, want %q", cert.Subject.CommonName, demo.ClientName)
	}
	crl, err := pki.LoadCRL(dir)
	if err != nil || crl == nil {
		t.Fatalf("crl.pem: %v", err)
	}
}

func TestPreparePKIReuses(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := demo.PreparePKI(dir); err != nil {
		t.Fatal(err)
	}
	before := readAll(t, dir)
	_, created, err := demo.PreparePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 0 {
		t.Errorf("second run created %v, want nothing", created)
	}
	after := readAll(t, dir)
	for name, b := range before {
		if after[name] != b {
			t.Errorf("%s changed on reuse", name)
		}
	}
}

func TestPreparePKIRepairs(t *testing.T) {
	tests := []struct {
		name        string
		damage      string // file to overwrite with junk
		wantCreated []string
	}{
		{"server certificate", "server.pem", []string{"server.pem", "server-key.pem"}},
		{"client key", "client-key.pem", []string{"client.pem", "client-key.pem", "client.p12"}},
		{"pkcs12", "client.p12", []string{"client.p12"}},
		{"crl", "crl.pem", []string{"crl.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := demo.PreparePKI(dir); err != nil {
				t.Fatal(err)
			}
			caBefore := readAll(t, dir)["ca.pem"]
			if err := os.WriteFile(filepath.Join(dir, tt.damage), []byte("junk"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, created, err := demo.PreparePKI(dir)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(created)
			slices.Sort(tt.wantCreated)
			if !slices.Equal(created, tt.wantCreated) {
				t.Errorf("got created %v, want %v", created, tt.wantCreated)
			}
			if readAll(t, dir)["ca.pem"] != caBefore {
				t.Errorf("the CA was replaced")
			}
		})
	}
}

func TestPreparePKIRefusesBrokenCA(t *testing.T) {
	tests := []struct {
		name   string
		damage func(dir string) error
		want   string
	}{
		{"CA key missing", func(dir string) error { return os.Remove(filepath.Join(dir, "ca-key.pem")) }, "holds only one of ca.pem and ca-key.pem"},
		{"CA certificate junk", func(dir string) error { return os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("junk"), 0o644) }, "is unusable"},
		{"CA key from another CA", func(dir string) error {
			other := t.TempDir()
			if _, _, err := demo.PreparePKI(other); err != nil {
				return err
			}
			b, _ := os.ReadFile(filepath.Join(other, "ca-key.pem"))
			return os.WriteFile(filepath.Join(dir, "ca-key.pem"), b, 0o600)
		}, "is unusable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := demo.PreparePKI(dir); err != nil {
				t.Fatal(err)
			}
			if err := tt.damage(dir); err != nil {
				t.Fatal(err)
			}
			_, _, err := demo.PreparePKI(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func readAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, name := range allFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		m[name] = string(b)
	}
	return m
}

// An expired CA is reported with the way out, never replaced silently
// (a browser may trust it) nor used to issue certificates no one accepts;
// a fresh CA is the twin that works.
func TestPreparePKIExpiredCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "forgeproof demo CA",
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	_, _, err = demo.PreparePKI(dir)
	if !errors.Is(err, demo.ErrStalePKI) || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "--reset") {
		t.Fatalf("got %v, want an expired-CA error wrapping ErrStalePKI with the --reset hint", err)
	}
	if _, err := os.Stat(filepath.Join(dir, pki.ClientFile)); err == nil {
		t.Errorf("a client certificate was issued from the expired CA")
	}
	removed, err := demo.ResetPKI(dir)
	if err != nil || len(removed) != 2 {
		t.Fatalf("ResetPKI: removed %v, %v; want ca.pem and ca-key.pem", removed, err)
	}
	if _, _, err := demo.PreparePKI(dir); err != nil {
		t.Fatalf("after ResetPKI: %v", err)
	}
}

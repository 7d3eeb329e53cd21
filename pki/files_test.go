package pki_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
)

// TestSaveFailureReplacesNothing: when the certificate cannot be written,
// the old key stays in place, so the old pair still matches. Before, the
// new key was renamed over the old one first (with "pki init --force",
// the old CA key was gone) and the certificate's failure left a key that
// matched no certificate.
func TestSaveFailureReplacesNothing(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, pki.CAOptions{})
	old, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"old.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Save(dir, "srv.pem", "srv-key.pem"); err != nil {
		t.Fatal(err)
	}
	oldKey := readFile(t, filepath.Join(dir, "srv-key.pem"))
	next, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"new.test"}})
	if err != nil {
		t.Fatal(err)
	}
	// A certificate path in a folder that does not exist cannot be
	// written, as a full disk would not let it be.
	err = next.Save(dir, filepath.Join("missing", "srv.pem"), "srv-key.pem")
	if err == nil || !strings.Contains(err.Error(), "srv.pem") {
		t.Fatalf("got %v, want an error naming srv.pem", err)
	}
	if got := readFile(t, filepath.Join(dir, "srv-key.pem")); !bytes.Equal(got, oldKey) {
		t.Error("the old key was replaced though the certificate was not written")
	}
	if _, err := pki.LoadCert(filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv-key.pem")); err != nil {
		t.Errorf("the old pair no longer loads: %v", err)
	}
	assertNoTemp(t, dir)
	// The allowed twin: a save that can write both replaces both.
	if err := next.Save(dir, "srv.pem", "srv-key.pem"); err != nil {
		t.Fatal(err)
	}
	got, err := pki.LoadCert(filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cert.Equal(next.Cert) {
		t.Error("the new certificate was not saved")
	}
	assertNoTemp(t, dir)
}

// TestWriteSecretFileLinks: a symbolic or hard link an attacker planted
// where a key goes is replaced by a new 0600 file; the file it pointed at
// keeps its content (the key is not written through the link into a file
// others may read). The negative control writes through with
// os.WriteFile.
func TestWriteSecretFileLinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("links need privileges on Windows")
	}
	for _, link := range []struct {
		name string
		make func(target, path string) error
	}{
		{"symlink", os.Symlink},
		{"hard link", os.Link},
	} {
		t.Run(link.name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(t.TempDir(), "public")
			if err := os.WriteFile(target, []byte("public\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "k-key.pem")
			if err := link.make(target, path); err != nil {
				t.Fatal(err)
			}
			if err := pki.WriteSecretFile(path, []byte("secret\n")); err != nil {
				t.Fatal(err)
			}
			if got := string(readFile(t, target)); got != "public\n" {
				t.Errorf("the link's target now holds %q: the secret was written through the link", got)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
				t.Errorf("got mode %v, want a regular file -rw-------", fi.Mode())
			}
			// Negative control: a plain write follows the link.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := link.make(target, path); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := string(readFile(t, target)); got != "secret\n" {
				t.Errorf("negative control: the target holds %q, want the secret written through", got)
			}
		})
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNoTemp fails if a temporary file was left in dir.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("left %s in %s", e.Name(), dir)
		}
	}
}

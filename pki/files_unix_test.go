//go:build unix

package pki_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
)

// TestWriteUmask: with a umask of 000, a key is still 0600 and a folder
// Save creates 0700; with 077, the certificate is still 0644 (as
// documented). Not parallel: the umask is the process's.
func TestWriteUmask(t *testing.T) {
	ca := newCA(t, pki.CAOptions{})
	for _, tc := range []struct {
		name  string
		umask int
	}{
		{"umask 000", 0o000},
		{"umask 077", 0o077},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pki")
			old := syscall.Umask(tc.umask)
			err := ca.Save(dir)
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []struct {
				name string
				want os.FileMode
			}{{"", 0o700}, {pki.CAKeyFile, 0o600}, {pki.CAFile, 0o644}} {
				fi, err := os.Stat(filepath.Join(dir, p.name))
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != p.want {
					t.Errorf("%q: got mode %v, want %v", p.name, got, p.want)
				}
			}
		})
	}
}

//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package demo_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/forgeproof/forgeproof/internal/demo"
	"github.com/forgeproof/forgeproof/internal/dirlock"
)

// TestPreparePKILocks: the demo writes a PKI folder under its lock, as
// the pki commands do: "forgeproof demo --dir ./pki" re-signing crl.pem
// beside a "pki revoke" would drop the revocation. While another command
// holds the lock the demo is refused and writes nothing; released, it
// prepares the folder (the allowed twin).
func TestPreparePKILocks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	unlock, err := dirlock.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = demo.PreparePKI(dir)
	var busy *dirlock.BusyError
	if !errors.As(err, &busy) {
		t.Errorf("with the lock held: got %v, want a *dirlock.BusyError", err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("with the lock held: the demo wrote %v", names)
	}
	unlock()
	if _, _, err := demo.PreparePKI(dir); err != nil {
		t.Errorf("after unlock: %v", err)
	}
}

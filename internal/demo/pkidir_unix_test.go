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

// TestResetPKILocks: "forgeproof demo --reset" deletes the folder's files
// under its lock too: a reset beside another demo's start (or a pki
// command) would delete the key of a server.pem just written. While
// another command holds the lock the reset is refused and deletes
// nothing, and Start writes nothing (no token key file either); released,
// both succeed (the allowed twins).
func TestResetPKILocks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if _, _, err := demo.PreparePKI(dir); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadDir(dir)
	unlock, err := dirlock.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	removed, err := demo.ResetPKI(dir)
	var busy *dirlock.BusyError
	if !errors.As(err, &busy) || len(removed) != 0 {
		t.Errorf("reset with the lock held: got %v, %v; want nothing removed and a *dirlock.BusyError", removed, err)
	}
	_, err = demo.Start(t.Context(), demo.Options{Dir: dir, Listen: "127.0.0.1:0", AttackerAddr: "127.0.0.1:0", SiblingAddr: "127.0.0.1:0"})
	if !errors.As(err, &busy) {
		t.Errorf("start with the lock held: got %v, want a *dirlock.BusyError", err)
	}
	if after, _ := os.ReadDir(dir); len(after) != len(before) {
		t.Errorf("with the lock held: the folder went from %v to %v", before, after)
	}
	unlock()
	removed, err = demo.ResetPKI(dir)
	if err != nil || len(removed) != len(before) {
		t.Errorf("after unlock: removed %v, %v; want %v", removed, err, before)
	}
	// A folder that is not there has nothing to reset.
	if removed, err := demo.ResetPKI(filepath.Join(dir, "none")); err != nil || len(removed) != 0 {
		t.Errorf("no folder: got %v, %v; want nothing and no error", removed, err)
	}
}

//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package dirlock_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/dirlock"
)

// TestLock: a held lock refuses a second taker, in this process and in
// another; released, it is taken again (the allowed twin).
func TestLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := dirlock.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = dirlock.Lock(dir)
	var busy *dirlock.BusyError
	if !errors.As(err, &busy) || busy.Dir != dir {
		t.Fatalf("second Lock: got %v, want a *BusyError for %s", err, dir)
	}
	if want := "another forgeproof command is writing in " + dir; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to contain %q", err, want)
	}
	// Another folder is another lock.
	if u, err := dirlock.Lock(t.TempDir()); err != nil {
		t.Errorf("Lock of another folder: %v", err)
	} else {
		u()
	}
	if _, err := exec.LookPath("flock"); err == nil {
		// flock(1) exits 1 at once (-n) when the lock is taken.
		if err := exec.Command("flock", "-n", dir, "true").Run(); err == nil {
			t.Errorf("flock -n %s succeeded while the lock was held", dir)
		}
	}
	unlock()
	unlock, err = dirlock.Lock(dir)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock()
}

func TestLockMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	if _, err := dirlock.Lock(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want os.ErrNotExist", err)
	}
}

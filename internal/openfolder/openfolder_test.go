//go:build unix

package openfolder_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/forgeproof/forgeproof/internal/openfolder"
)

// TestCheck: a file in, under or linked into a folder others may write
// is refused; the twins (sticky, group-writable, owner-only) are not.
func TestCheck(t *testing.T) {
	root := t.TempDir()
	mk := func(dir string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(root, dir)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(p, "f.pem")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return f
	}
	open := mk("open", 0o777)
	sticky := mk("sticky", 0o777|os.ModeSticky)
	group := mk("group", 0o775)
	owner := mk("owner", 0o700)
	below := mk("open2/sub", 0o700)
	if err := os.Chmod(filepath.Join(root, "open2"), 0o777); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "owner", "link.pem")
	if err := os.Chmod(filepath.Join(root, "owner"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(open, link); err != nil {
		t.Fatal(err)
	}
	// A chain of links whose middle link lives in an open folder:
	// chain.pem (owner) -> open3/mid.pem -> owner/f.pem. Whoever may
	// write open3 may point mid.pem at their own file. The twin: the same
	// chain through a sticky folder.
	chain := func(name string, mode os.FileMode) string {
		t.Helper()
		mid := filepath.Join(root, name)
		if err := os.Mkdir(mid, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "owner", "f.pem"), filepath.Join(mid, "mid.pem")); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(mid, mode); err != nil {
			t.Fatal(err)
		}
		l := filepath.Join(root, "owner", name+".pem")
		if err := os.Symlink(filepath.Join(mid, "mid.pem"), l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	openChain := chain("open3", 0o777)
	stickyChain := chain("sticky3", 0o777|os.ModeSticky)
	loop := filepath.Join(root, "owner", "loop.pem")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, path, dir string
	}{
		{"link in the middle of a chain in an open folder", openChain, filepath.Join(root, "open3")},
		{"link in the middle of a chain in a sticky folder", stickyChain, ""},
		{"a link to itself", loop, ""},
		{"open", open, filepath.Join(root, "open")},
		{"below an open folder", below, filepath.Join(root, "open2")},
		{"linked into an open folder", link, filepath.Join(root, "open")},
		{"sticky", sticky, ""},
		{"group", group, ""},
		{"owner", owner, ""},
		{"missing file in an owner-only folder", filepath.Join(root, "owner", "none"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := openfolder.Check(tt.path)
			var e *openfolder.Error
			switch {
			case tt.dir == "" && err != nil:
				t.Fatalf("got %v, want nil", err)
			case tt.dir != "" && !errors.As(err, &e):
				t.Fatalf("got %v, want an *openfolder.Error", err)
			case tt.dir != "" && (e.Dir != tt.dir || e.Perm != 0o777):
				t.Fatalf("got %s (mode %04o), want %s (mode 0777)", e.Dir, e.Perm, tt.dir)
			}
		})
	}
}

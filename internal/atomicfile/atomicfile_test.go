package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestCreateNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "forgeproof.yaml")
	if err := os.WriteFile(path, []byte("theirs\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Create(File{Path: path, Data: []byte("ours\n"), Perm: 0o644})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file: err = %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "theirs\n" {
		t.Errorf("the existing file now holds %q", b)
	}
	assertOnly(t, dir, "forgeproof.yaml")

	// A dangling symbolic link is a file there too: Create must not
	// write through it.
	target := filepath.Join(dir, "elsewhere")
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Create(File{Path: link, Data: []byte("ours\n"), Perm: 0o644}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over a dangling link: err = %v, want fs.ErrExist", err)
	}
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Create wrote through the link: %v", err)
	}

	// The allowed twin: the same call where nothing is.
	fresh := filepath.Join(dir, "new.yaml")
	if err := Create(File{Path: fresh, Data: []byte("ours\n"), Perm: 0o644}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(fresh)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(fresh); string(b) != "ours\n" {
		t.Errorf("new file holds %q", b)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v, want 0644", fi.Mode().Perm())
	}
	assertOnly(t, dir, "forgeproof.yaml", "link.yaml", "new.yaml")
}

func TestCreateExclusiveNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := createExclusive(File{Path: path, Data: []byte("ours\n"), Perm: 0o644}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "ours\n" {
		t.Errorf("file holds %q", b)
	}
	if err := createExclusive(File{Path: path, Data: []byte("again\n"), Perm: 0o644}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second createExclusive: err = %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "ours\n" {
		t.Errorf("file replaced: holds %q", b)
	}
}

// assertOnly fails unless dir holds exactly names: no staging file left.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, e := range entries {
		if !want[e.Name()] {
			t.Errorf("%s left in the folder", e.Name())
		}
	}
}

// Where hard links fail (FAT, some network and FUSE file systems), Create
// falls back to an exclusive create: it still writes a new file whole,
// and still never replaces one that is there.
func TestCreateWithoutHardLinks(t *testing.T) {
	link = func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
	}
	t.Cleanup(func() { link = os.Link })
	dir := t.TempDir()
	path := filepath.Join(dir, "forgeproof.yaml")
	if err := Create(File{Path: path, Data: []byte("ours\n"), Perm: 0o644}); err != nil {
		t.Fatalf("Create without hard links: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "ours\n" {
		t.Errorf("new file holds %q", b)
	}
	if err := Create(File{Path: path, Data: []byte("again\n"), Perm: 0o644}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create over an existing file without hard links: err = %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "ours\n" {
		t.Errorf("the existing file now holds %q", b)
	}
	assertOnly(t, dir, "forgeproof.yaml")
}

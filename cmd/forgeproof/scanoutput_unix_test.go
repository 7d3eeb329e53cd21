//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scanTo runs a dry-run scan (nothing is sent) with --output out and
// returns its exit status and stderr.
func scanTo(t *testing.T, out string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"scan", "--dry-run", "--target", "https://localhost:1/",
		"--endpoint", "POST /x a=1", "--output", out}, &stdout, &stderr)
	if stdout.Len() != 0 {
		t.Errorf("stdout: got %q, want nothing (the report goes to --output)", stdout.String())
	}
	return code, stderr.String()
}

// TestScanOutputNotThroughLinks: a report may hold evidence (cookies,
// tokens). An old file others may read, or a hard link to another file,
// is replaced by a new 0600 file, not written through; a symbolic link or
// a device at --output is refused before the scan, its target untouched.
// The allowed twin: a new file in the same folder. The negative control:
// a plain write (what --output did before) goes through both links.
func TestScanOutputNotThroughLinks(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(t.TempDir(), "other")
	reset := func() {
		t.Helper()
		if err := os.WriteFile(other, []byte("other\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(other, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	untouched := func() {
		t.Helper()
		if got, _ := os.ReadFile(other); string(got) != "other\n" {
			t.Errorf("the linked file now holds %q: the report went through the link", got)
		}
	}
	isReport := func(path string) {
		t.Helper()
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: got mode %v, want a regular file -rw-------", path, fi.Mode())
		}
		if data, _ := os.ReadFile(path); !strings.Contains(string(data), "curl") {
			t.Errorf("%s: no report in %q", path, data)
		}
	}

	// Allowed twin: a new file.
	fresh := filepath.Join(dir, "new.txt")
	if code, stderr := scanTo(t, fresh); code != 0 {
		t.Fatalf("new file: exit %d\n%s", code, stderr)
	}
	isReport(fresh)

	// An old file others may read keeps neither its mode nor its inode.
	old := filepath.Join(dir, "old.txt")
	if err := os.WriteFile(old, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, stderr := scanTo(t, old); code != 0 {
		t.Fatalf("old file: exit %d\n%s", code, stderr)
	}
	isReport(old)

	// A hard link is a regular file: replaced, not written through.
	reset()
	hard := filepath.Join(dir, "hard.txt")
	if err := os.Link(other, hard); err != nil {
		t.Fatal(err)
	}
	if code, stderr := scanTo(t, hard); code != 0 {
		t.Fatalf("hard link: exit %d\n%s", code, stderr)
	}
	isReport(hard)
	untouched()

	// A symbolic link, and a device: refused with a usage error.
	sym := filepath.Join(dir, "sym.txt")
	if err := os.Symlink(other, sym); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{sym, os.DevNull} {
		code, stderr := scanTo(t, out)
		want := "forgeproof scan: error: invalid --output: \"" + out + "\" is a "
		if code != 2 || !strings.Contains(stderr, want) {
			t.Errorf("--output %s: got exit %d, stderr\n%s\nwant exit 2 and %q", out, code, stderr, want)
		}
	}
	untouched()
	if fi, err := os.Lstat(sym); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symbolic link was replaced or removed: %v %v", fi, err)
	}

	// Negative control: a plain write goes through both kinds of link.
	for _, link := range []string{sym, hard} {
		reset()
		if link == hard {
			os.Remove(hard)
			if err := os.Link(other, hard); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(link, []byte("report\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(other); string(got) != "report\n" {
			t.Errorf("negative control: a plain write to %s left %q", link, got)
		}
	}
}

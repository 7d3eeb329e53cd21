package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/demo"
	"github.com/forgeproof/forgeproof/internal/mdtest"
	"github.com/forgeproof/forgeproof/pki"
)

// TestDemoNamesCreatedFiles: the demo's "created in DIR:" line names
// every file it wrote into an empty DIR (the .gitignore has its own
// line), and its usage names each of them too. The twins: a run after
// one file is deleted names that file alone, which shows the line
// follows what was written, not a fixed list.
func TestDemoNamesCreatedFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	listing := func() []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			if e.Name() != ".gitignore" {
				names = append(names, e.Name())
			}
		}
		return names
	}
	// createdLine runs the demo into dir and returns the names on its
	// "created in" line, sorted.
	createdLine := func(t *testing.T) []string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args := []string{"demo", "--dir", dir, "--listen", "localhost:0", "--attacker", "127.0.0.1:0", "--sibling", "localhost:0", "--self-test", "--quiet"}
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("demo --self-test: exit %d\n%s", code, stderr.String())
		}
		for _, l := range strings.Split(stdout.String(), "\n") {
			if _, names, ok := strings.Cut(l, "  created in "+dir+": "); ok {
				created := strings.Fields(names)
				slices.Sort(created)
				return created
			}
		}
		t.Fatalf("no line \"created in %s: …\" in\n%s", dir, stdout.String())
		return nil
	}

	created := createdLine(t)
	files := listing()
	if !slices.Equal(created, files) {
		t.Errorf("created line names %v; the folder holds %v", created, files)
	}
	for _, name := range files {
		if !strings.Contains(demoUsage, name) {
			t.Errorf("usage does not name %s", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".gitignore")); err != nil {
		t.Errorf("the .gitignore the line leaves out: %v", err)
	}
	// docs/demo.md shows the first run's output: its "created in" line
	// names the same files (it once left csrf-keys out).
	page, err := os.ReadFile("../../docs/demo.md")
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for _, b := range mdtest.Blocks(string(page)) {
		for _, l := range b.Lines {
			if _, names, ok := strings.Cut(l, "  created in "); ok {
				_, names, _ = strings.Cut(names, ": ")
				documented := strings.Fields(names)
				slices.Sort(documented)
				if !slices.Equal(documented, files) {
					t.Errorf("docs/demo.md:%d: the sample's created line names %v; the demo creates %v", b.Line, documented, files)
				}
				shown++
			}
		}
	}
	if shown == 0 {
		t.Error("docs/demo.md: no sample \"created in\" line found: is the check still reading the page?")
	}

	// Reissued alone: the token key, and a PKI file.
	for _, name := range []string{demo.TokenKeyFile, pki.ClientP12File} {
		t.Run("again without "+name, func(t *testing.T) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			if got := createdLine(t); !slices.Equal(got, []string{name}) {
				t.Errorf("created line names %v, want %s alone", got, name)
			}
		})
	}
}

package forgeproof_test

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/forgeproof/forgeproof/"

// modulePackages maps each package of this module (bench and deploy are
// modules of their own) to the module packages its non-test files import.
func modulePackages(t *testing.T) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path == "bench" || path == "deploy" || path == "testdata" || strings.HasSuffix(path, "/testdata") || strings.HasPrefix(d.Name(), ".") && path != "." {
			return filepath.SkipDir
		}
		p, err := build.Default.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files, or only tests
		}
		name := strings.TrimSuffix(module+filepath.ToSlash(path), "/.")
		var own []string
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module) {
				own = append(own, strings.TrimPrefix(imp, module))
			}
		}
		pkgs[strings.TrimPrefix(name, module)] = own
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// deps returns every module package pkg imports, directly or not.
func deps(pkgs map[string][]string, pkg string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, d := range pkgs[p] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(pkg)
	return seen
}

// TestImportBoundaries keeps the layout of docs/development.md: library
// packages never import the dev PKI, the demo, the browser harness or the
// tests' helpers (so a library user's build never sees chromedp), csrf and
// mtls do not import each other, and the browser packages are reached
// only by the command and the tests that drive a browser.
func TestImportBoundaries(t *testing.T) {
	pkgs := modulePackages(t)
	if len(pkgs["gateway"]) == 0 || len(pkgs["cmd/forgeproof"]) == 0 {
		t.Fatalf("found %d packages, not this module's layout", len(pkgs))
	}
	// Dev-only packages and the ones under them (pki/pkitest,
	// internal/browser/browsertest). internal/accesslog reads the
	// gateway's access log back for the demo and the browser harness;
	// internal/freeport picks ports for tests' child processes.
	devOnly := []string{"pki", "internal/demo", "internal/browser", "internal/scanbrowser", "internal/mdtest", "internal/accesslog", "internal/freeport"}
	// The command and the tests and harnesses that need a PKI, the demo
	// or a browser.
	mayUseDev := []string{"cmd/forgeproof", "e2e", "cluster", "examples"}
	under := func(roots []string, pkg string) bool {
		return slices.ContainsFunc(roots, func(p string) bool { return pkg == p || strings.HasPrefix(pkg, p+"/") })
	}
	for pkg := range pkgs {
		if under(devOnly, pkg) || under(mayUseDev, pkg) {
			continue
		}
		for d := range deps(pkgs, pkg) {
			if under(devOnly, d) {
				t.Errorf("%s imports %s (directly or not): production packages never import the dev PKI, the demo, the browser harness or test helpers", pkg, d)
			}
		}
	}
	if deps(pkgs, "csrf")["mtls"] || deps(pkgs, "mtls")["csrf"] {
		t.Errorf("csrf and mtls import each other: they meet only in a binding value the caller supplies")
	}
	for pkg := range pkgs {
		if deps(pkgs, pkg)["internal/scanbrowser"] && pkg != "cmd/forgeproof" && !strings.HasPrefix(pkg, "e2e") {
			t.Errorf("%s imports internal/scanbrowser: only the command's scan --browser does (docs/development.md)", pkg)
		}
	}
}

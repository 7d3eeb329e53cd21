package forgeproof_test

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/mdtest"
)

// mdLink matches an inline Markdown link target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocLinks checks that every relative link in the docs names a file
// that exists and, with a #fragment, a heading of that file.
func TestDocLinks(t *testing.T) {
	for _, doc := range mdtest.Docs(t, ".", "BENCHMARKS.md", "bench/NOTES.md") {
		f := doc.Path
		for _, m := range mdLink.FindAllStringSubmatch(strings.Join(mdtest.Prose(doc.Text), "\n"), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			path := f
			if file != "" {
				path = filepath.Join(filepath.Dir(f), file)
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: link %q: %v", f, target, err)
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(path, ".md") {
				continue
			}
			if !hasAnchor(t, path, frag) {
				t.Errorf("%s: link %q: no heading with anchor #%s in %s", f, target, frag, path)
			}
		}
	}
}

// repoDocURL matches a link to this repository's docs on GitHub, which
// the program prints or writes (init's config): path and fragment.
var repoDocURL = regexp.MustCompile(`https://github\.com/forgeproof/forgeproof/blob/main/([\w./-]+)(?:#([\w-]+))?`)

// TestProgramDocLinks checks that every link to the docs in the
// programs' source (what they print or write for a reader who has only
// the binary) names a file that exists and, with a #fragment, a heading
// of it. The twin of TestDocLinks for what is not Markdown.
func TestProgramDocLinks(t *testing.T) {
	files, err := filepath.Glob("cmd/*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range repoDocURL.FindAllStringSubmatch(string(b), -1) {
			seen++
			path, frag := m[1], m[2]
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: link %q: %v", f, m[0], err)
				continue
			}
			if frag != "" && !hasAnchor(t, path, frag) {
				t.Errorf("%s: link %q: no heading with anchor #%s in %s", f, m[0], frag, path)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no link to the docs found in cmd/: the test shows nothing")
	}
}

// TestREADMEShort keeps the README a front door, not the manual.
func TestREADMEShort(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b); n > 15000 {
		t.Errorf("README.md has %d characters, want at most 15000: move details to docs/", n)
	}
}

// hasAnchor reports whether a Markdown file has a heading whose
// GitHub-style anchor is frag.
func hasAnchor(t *testing.T, path, frag string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range mdtest.Prose(string(b)) {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		if anchor(strings.TrimLeft(line, "# ")) == frag {
			return true
		}
	}
	return false
}

// anchor is GitHub's anchor for a heading: lowercase, spaces to dashes,
// punctuation other than - and _ dropped.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocYAMLConfigsParse decodes every YAML block of the README and
// docs/ that is a gateway or authz config (its first key is one of the
// config's top-level keys) with the gateway's strict decoder: a key the
// decoder does not know, a misspelling or an underscore fails the test,
// so the examples cannot drift from the code. Fragments (indented blocks)
// are skipped.
func TestDocYAMLConfigsParse(t *testing.T) {
	gatewayTop := map[string]bool{"listeners": true, "routes": true, "tokens": true, "authz": true, "admin": true, "identity-forwarding": true, "trusted-proxies": true, "trusted-forwarders": true, "log": true}
	checked := 0
	for _, doc := range mdtest.Docs(t, ".") {
		for _, b := range mdtest.Blocks(doc.Text) {
			if b.Lang != "yaml" {
				continue
			}
			// "{…}" stands for a mapping left out.
			block := strings.ReplaceAll(b.Text(), "{…}", "{}")
			first, _, _ := strings.Cut(block, ":")
			if !gatewayTop[first] {
				continue
			}
			checked++
			if _, err := gateway.ParseConfig(fmt.Sprintf("%s:%d", doc.Path, b.Line), []byte(block)); err != nil {
				t.Errorf("%s:%d: the YAML example does not decode: %v", doc.Path, b.Line, err)
			}
		}
	}
	if checked < 5 {
		t.Errorf("checked %d YAML configs in the docs, want at least 5: is the scan still finding them?", checked)
	}
}

// goSampleImports are the packages the Go samples of the docs may use;
// every sample gets them all.
var goSampleImports = []string{
	"context", "crypto/tls", "fmt", "html/template", "log", "net", "net/http", "os",
	"github.com/forgeproof/forgeproof/authz",
	"github.com/forgeproof/forgeproof/csrf",
	"github.com/forgeproof/forgeproof/gateway",
	"github.com/forgeproof/forgeproof/mtls",
	"github.com/forgeproof/forgeproof/mtls/forwarded",
}

// goSamplePrelude declares what the Go samples of the docs use without
// declaring: a sample is a fragment of a program that has a mux, a
// listener, the request in a handler, … Blocks are statements (wrapped in
// a function returning error) or, when they start with "func ",
// declarations.
const goSamplePrelude = `
var (
	ctx          context.Context
	mux          *http.ServeMux
	tlsConfig    *tls.Config
	ln           net.Listener
	r            *http.Request
	w            http.ResponseWriter
	app          http.Handler
	adminHandler http.Handler
	tmpl         *template.Template
	p            *csrf.Protection // the csrf.New() of an earlier sample
	srv          *mtls.Server     // the mtls.NewServer of an earlier sample
	logger       = log.Default()
)

var _, _, _, _, _, _ = fmt.Sprint, os.Exit, authz.NewServer, gateway.New, forwarded.StripHeaders, mtls.NewServer
`

// goSampleSkips names the samples that use packages outside this module,
// by a string they contain: they cannot be compiled here.
var goSampleSkips = []string{"*gin.Context"}

// TestDocGoSamplesCompile type-checks every Go block of the README and
// docs/ against the current API, so that a renamed function or field, or
// a changed signature, fails here rather than in a reader's editor. A
// line that is only "…" stands for code left out. Unused variables and
// imports (soft errors: a sample need not use everything it shows) are
// allowed.
func TestDocGoSamplesCompile(t *testing.T) {
	// Export data of the imports, from the build cache.
	out, err := exec.Command("go", append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}}={{.Export}}"}, goSampleImports...)...).Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	export := map[string]string{}
	for line := range strings.Lines(string(out)) {
		path, file, _ := strings.Cut(strings.TrimSpace(line), "=")
		export[path] = file
	}
	header := "package samples\n\nimport (\n"
	for _, imp := range goSampleImports {
		header += fmt.Sprintf("\t%q\n", imp)
	}
	header += ")\n"

	fset := token.NewFileSet()
	files := []*ast.File{parseSample(t, fset, header+goSamplePrelude)}
	checked := 0
	for _, doc := range mdtest.Docs(t, ".") {
		for _, b := range mdtest.Blocks(doc.Text) {
			if b.Lang != "go" {
				continue
			}
			if slices.ContainsFunc(goSampleSkips, func(s string) bool { return strings.Contains(b.Text(), s) }) {
				continue
			}
			var lines []string
			for _, l := range b.Lines {
				if strings.TrimSpace(l) == "…" {
					l = ""
				}
				lines = append(lines, l)
			}
			body := strings.Join(lines, "\n")
			pos := fmt.Sprintf("//line %s:%d\n", filepath.ToSlash(doc.Path), b.Line+1)
			src := header + "\n" + pos + body + "\n"
			if !strings.HasPrefix(body, "func ") {
				src = fmt.Sprintf("%s\nfunc sample%d() error {\n%s%s\nreturn nil\n}\n", header, checked, pos, body)
			}
			files = append(files, parseSample(t, fset, src))
			checked++
		}
	}
	if checked < 5 {
		t.Errorf("checked %d Go samples in the docs, want at least 5: is the scan still finding them?", checked)
	}
	conf := types.Config{
		Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
			if export[path] == "" {
				return nil, fmt.Errorf("no export data for %q", path)
			}
			return os.Open(export[path])
		}),
		Error: func(err error) {
			if te, ok := err.(types.Error); ok && te.Soft {
				return
			}
			t.Errorf("a Go sample does not compile: %v", err)
		},
	}
	conf.Check("samples", fset, files, nil)
}

func parseSample(t *testing.T, fset *token.FileSet, src string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(fset, "sample.go", src, parser.ParseComments)
	if err != nil {
		t.Errorf("a Go sample does not parse: %v", err)
	}
	return f
}

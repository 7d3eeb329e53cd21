package gateway

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/mdtest"
)

// TestReasonsDocumented: every reason code the gateway declares (an
// exported constant of type Reason in the package's files) is written in
// backquotes somewhere in docs/, so that an operator who finds one in a
// log line, a problem body or a metric label can look it up. (Issue 11
// asks every refusal for a stable, documented code.)
func TestReasonsDocumented(t *testing.T) {
	t.Parallel()
	var docs strings.Builder
	for _, doc := range mdtest.Docs(t, "..") {
		docs.WriteString(doc.Text)
	}
	codes := reasonConsts(t, ".")
	if len(codes) < 10 {
		t.Fatalf("found %d reason codes, want the package's", len(codes))
	}
	for code, name := range codes {
		if Reason(code) == ReasonAuthzNotConfigured {
			continue // a Go caller's mistake (Decide without authz): go doc only
		}
		if !strings.Contains(docs.String(), "`"+code+"`") {
			t.Errorf("%s (%q) is not in docs/", name, code)
		}
	}
}

// TestLibraryReasonsListed: every reason code that serve and authz pass
// on from the libraries (mtls's handshake and authorization codes,
// forwarded's, csrf's) and every code of forgeproof authz's own is in
// backquotes in the page that lists the refusals, so that the list an
// operator reads there is complete. Codes a correct configuration cannot
// produce (a Go caller's mistakes) are in go doc only.
func TestLibraryReasonsListed(t *testing.T) {
	t.Parallel()
	goDocOnly := map[string]bool{
		"invalid-config": true, // mtls: NewServer's configuration errors
		"no-keys":        true, // csrf: a token mode without a key ring, which the loader refuses
	}
	for _, c := range []struct{ dir, doc string }{
		{"../mtls", "../docs/gateway.md"},
		{"../mtls/forwarded", "../docs/gateway.md"},
		{"../csrf", "../docs/gateway.md"},
		{"../authz", "../docs/integrations/nginx.md"},
	} {
		b, err := os.ReadFile(c.doc)
		if err != nil {
			t.Fatal(err)
		}
		codes := reasonConsts(t, c.dir)
		if len(codes) == 0 {
			t.Fatalf("%s: found no reason codes", c.dir)
		}
		for code, name := range codes {
			if !goDocOnly[code] && !strings.Contains(string(b), "`"+code+"`") {
				t.Errorf("%s: %s (%q) is not listed in %s", c.dir, name, code, c.doc)
			}
		}
	}
}

// reasonConsts returns the reason codes declared in the package in dir,
// by value: its constants named Reason… whose value is a string literal.
func reasonConsts(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				if len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Reason") {
					continue
				}
				if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					code, _ := strconv.Unquote(lit.Value)
					codes[code] = vs.Names[0].Name
				}
			}
		}
	}
	return codes
}

package gateway

import (
	"go/ast"
	"go/parser"
	"go/token"
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
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
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
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Reason" || len(vs.Values) != 1 || !vs.Names[0].IsExported() {
					continue
				}
				lit, ok := vs.Values[0].(*ast.BasicLit)
				if !ok {
					continue
				}
				code, _ := strconv.Unquote(lit.Value)
				n++
				if Reason(code) == ReasonAuthzNotConfigured {
					continue // a Go caller's mistake (Decide without authz): go doc only
				}
				if !strings.Contains(docs.String(), "`"+code+"`") {
					t.Errorf("%s: %s (%q) is not in docs/", name, vs.Names[0].Name, code)
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("found %d reason codes, want the package's", n)
	}
}

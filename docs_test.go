package forgeproof_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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

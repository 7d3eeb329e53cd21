package scan

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/mdtest"
)

// TestEndpointsFileDocumented keeps docs/scanner.md and the endpoints
// file's keys (fileKeys, what ParseFile reads) in step: the YAML example
// there decodes, and every key of the file appears in it or in
// backquotes in the text.
func TestEndpointsFileDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/scanner.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var examples []string
	for _, b := range mdtest.Blocks(doc) {
		if b.Lang == "yaml" && len(b.Lines) > 0 && strings.HasPrefix(b.Lines[0], "endpoints:") {
			examples = append(examples, b.Text())
		}
	}
	if len(examples) == 0 {
		t.Fatal("docs/scanner.md: no endpoints file example (a yaml block starting with endpoints:)")
	}
	for _, ex := range examples {
		if _, err := ParseFile("docs/scanner.md", []byte(ex)); err != nil {
			t.Errorf("the endpoints file example does not decode: %v\n%s", err, ex)
		}
	}
	var walk func(prefix string, keys map[string]fileKey)
	walk = func(prefix string, keys map[string]fileKey) {
		for k, fk := range keys {
			shown := regexp.MustCompile(`(?m)(^|[\s{,])` + regexp.QuoteMeta(k) + `:`)
			if !anyMatches(examples, shown) && !strings.Contains(doc, "`"+k+"`") && !strings.Contains(doc, "`"+k+":") {
				t.Errorf("endpoints file key %s%s is documented neither in the example nor in backquotes in docs/scanner.md", prefix, k)
			}
			if fk.sub != nil {
				walk(prefix+k+".", fk.sub)
			}
		}
	}
	walk("", fileKeys)

	// The other way round: a mapping the prose shows in backquotes
	// ("the file's `attacker-login: {form: {…}}`") names a key the file
	// has, spelled as the file spells it (dashes, not underscores).
	all := map[string]bool{}
	var collect func(keys map[string]fileKey)
	collect = func(keys map[string]fileKey) {
		for k, fk := range keys {
			all[k] = true
			if fk.sub != nil {
				collect(fk.sub)
			}
		}
	}
	collect(fileKeys)
	shownKey := regexp.MustCompile("`([A-Za-z][A-Za-z0-9_-]*): \\{")
	for n, line := range mdtest.Prose(doc) {
		for _, m := range shownKey.FindAllStringSubmatch(line, -1) {
			if !all[m[1]] {
				t.Errorf("docs/scanner.md:%d: `%s: {…}` is no key of the endpoints file", n+1, m[1])
			}
		}
	}
}

func anyMatches(examples []string, re *regexp.Regexp) bool {
	for _, ex := range examples {
		if re.MatchString(ex) {
			return true
		}
	}
	return false
}

package gateway

import (
	"regexp"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/mdtest"
)

// TestDocKeyPathsExist checks every key path the README and docs/ write
// in backquotes ("`routes[].csrf.mode`", "`admin.address`",
// "`listeners[0].tls`") against configKeys, the keys the decoder reads:
// prose that names a key the config does not have fails (issue 12: one
// source per fact, and a test when the docs drift). TestConfigKeysDocumented
// covers the reference table; this covers the rest of the text.
func TestDocKeyPathsExist(t *testing.T) {
	t.Parallel()
	tops := map[string]bool{}
	for _, k := range configKeys {
		tops[k[:strings.IndexAny(k+".[", ".[")]] = true
	}
	path := regexp.MustCompile("`([a-z][a-z0-9-]*(?:\\[[0-9]*\\])?(?:\\.[a-z][a-z0-9-]*(?:\\[[0-9]*\\])?)+)`")
	// Last labels of host and file names that look like key paths
	// ("authz.internal", "admin.example").
	notKey := map[string]bool{"example": true, "internal": true, "local": true, "com": true, "org": true, "net": true, "pem": true, "yaml": true, "key": true, "md": true}
	checked := 0
	for _, doc := range mdtest.Docs(t, "..") {
		for i, line := range strings.Split(doc.Text, "\n") {
			for _, m := range path.FindAllStringSubmatch(line, -1) {
				k := m[1]
				top := k[:strings.IndexAny(k+".[", ".[")]
				last := k[strings.LastIndexByte(k, '.')+1:]
				if !tops[top] || notKey[last] {
					continue // not a config key path: a host name, a file
				}
				checked++
				if !isConfigKey(strings.ReplaceAll(k, "[]", "[0]")) {
					t.Errorf("%s:%d: `%s` is not a config key", doc.Path, i+1, k)
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("checked %d key paths in the docs, want at least 50: is the scan still finding them?", checked)
	}
}

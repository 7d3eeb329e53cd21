package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// configKeys is every key path of the YAML config, with "[]" for list
// items ("listeners[].tls.client-auth"), in the order of the fields, read
// from the `key` tags the decoder reads (fieldsOf). The tests check it
// against the "Config keys" table of docs/gateway.md and the keys the
// compiler's messages name.
var configKeys = keyPaths(reflect.TypeFor[Config](), "")

// keyPaths lists the key paths of the struct type t under prefix.
func keyPaths(t reflect.Type, prefix string) []string {
	var out []string
	for _, f := range reflect.VisibleFields(t) {
		name, ok := f.Tag.Lookup("key")
		if !ok {
			continue
		}
		path := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct:
			out = append(out, keyPaths(ft, path+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, keyPaths(ft.Elem(), path+"[].")...)
		default:
			out = append(out, path)
		}
	}
	return out
}

// isConfigKey reports whether key, a key path with indexes
// ("routes[2].csrf.mode") or a prefix of one ("routes[2]"), names a key
// or a mapping of the table.
func isConfigKey(key string) bool {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		if key[i] == '[' {
			j := strings.IndexByte(key[i:], ']')
			if j < 0 {
				return false
			}
			b.WriteString("[]")
			i += j
			continue
		}
		b.WriteByte(key[i])
	}
	k := b.String()
	for _, c := range configKeys {
		if c == k || strings.HasPrefix(c, k+".") || strings.HasPrefix(c, k+"[]") || c+"[]" == k {
			return true
		}
	}
	return false
}

// TestConfigKeysDocumented keeps the "Config keys" table of
// docs/gateway.md and configKeys, the keys the decoder reads, in step: a
// documented key that does not exist fails, and so does a key without a
// row. A row's first cell names keys in backquotes: the first in full,
// the others as siblings ("`listeners[].tls.cert-file`, `key-file`").
func TestConfigKeysDocumented(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	quoted := regexp.MustCompile("`([^`]+)`")
	var documented []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Config keys"
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cell := strings.Split(line, "|")[1]
		parent := ""
		for i, m := range quoted.FindAllStringSubmatch(cell, -1) {
			key := m[1]
			if i > 0 && !strings.ContainsAny(key, ".[") {
				key = parent + key
			}
			parent = key[:strings.LastIndexAny(key, ".]")+1]
			documented = append(documented, key)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(documented) == 0 {
		t.Fatal(`docs/gateway.md: no rows found under "## Config keys"`)
	}
	for _, k := range documented {
		if !slices.Contains(configKeys, k) {
			t.Errorf("docs/gateway.md documents %q, which is not a config key (configKeys)", k)
		}
	}
	for _, k := range configKeys {
		if !slices.Contains(documented, k) {
			t.Errorf("config key %q has no row in docs/gateway.md's Config keys table", k)
		}
	}
}

// TestErrorKeysAreConfigKeys: every key path the compiler's messages
// name in the source ("tokens.key-file", key+".csrf.mode",
// "%s.crl-files[%d]") is one of configKeys, or its end.
func TestErrorKeysAreConfigKeys(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	top := map[string]bool{}
	for _, k := range configKeys {
		top[k[:strings.IndexAny(k+".", ".[")]] = true
	}
	keyLike := regexp.MustCompile(`^(%s)?(\.?[a-z][a-z0-9-]*(\[(%d)?\])?)+$`)
	normal := strings.NewReplacer("[%d]", "[]", "%s", "")
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !keyLike.MatchString(s) {
				return true
			}
			// An item of a list of strings is its key with [N].
			k := strings.TrimSuffix(normal.Replace(s), "[]")
			switch {
			case strings.HasPrefix(k, "."):
				// The end of a key: key+".csrf.mode", "%s.crl-files[%d]".
				if k == "." || !slices.ContainsFunc(configKeys, func(c string) bool {
					return strings.HasSuffix(c, k) || strings.Contains(c, k+".") || strings.Contains(c, k+"[]")
				}) {
					if k != "." {
						t.Errorf("%s: %q names no config key", fset.Position(lit.Pos()), s)
					}
					return true
				}
				checked++
			case top[k[:strings.IndexAny(k+".", ".[")]] && strings.ContainsAny(k, ".["):
				if !isConfigKey(strings.ReplaceAll(k, "[]", "[0]")) {
					t.Errorf("%s: %q names no config key", fset.Position(lit.Pos()), s)
				}
				checked++
			}
			return true
		})
	}
	if checked < 50 {
		t.Errorf("checked %d key paths in the source, want at least 50: is the scan still finding them?", checked)
	}
}

// TestServerKeys: the fields mtls.NewServer's errors name
// (mtls.Error.Field) map to the config keys they came from, with the other
// certificates a message names; a field without a key of its own stays at
// the mapping's key, named.
func TestServerKeys(t *testing.T) {
	t.Parallel()
	k := serverKeys{base: "listeners[0].tls", certs: []string{"listeners[0].tls.cert-file", "listeners[0].tls.certificates[0].cert-file"}, clientCAs: "listeners[0].tls.client-ca-files", crls: "listeners[0].tls.crl-files",
		caKeys: []string{"listeners[0].tls.client-ca-files[0]", "listeners[0].tls.client-ca-files[1]", "listeners[0].tls.client-ca-files[2]", "listeners[0].tls.trust-domain-cas[0].ca-files[0]"}}
	sc := mtls.ServerConfig{ClientCAs: make([]mtls.Source, 4), CRLs: make([]mtls.Source, 2)}
	sc.ClientCAs[3].TrustDomain = "partner.example"
	tests := []struct {
		field, text string
		key, msg    string
	}{
		{"Certificates[0].CertFile", "cannot read", "listeners[0].tls.cert-file", "cannot read"},
		{"Certificates[1].KeyFile", "cannot read", "listeners[0].tls.certificates[0].key-file", "cannot read"},
		{"Certificates[1].CertFile", `"b.pem" and Certificates[0] ("a.pem") both cover`, "listeners[0].tls.certificates[0].cert-file", `"b.pem" and listeners[0].tls.cert-file ("a.pem") both cover`},
		{"Certificates", "no server certificate", "listeners[0].tls.cert-file", "no server certificate"},
		{"ClientCAs[2]", "cannot read", "listeners[0].tls.client-ca-files[2]", "cannot read"},
		{"ClientCAs", "no client CA", "listeners[0].tls.client-ca-files", "no client CA"},
		{"ClientCAs[3]", "its key is also in ClientCAs[0]", "listeners[0].tls.trust-domain-cas[0].ca-files[0]", "its key is also in listeners[0].tls.client-ca-files[0]"},
		{"ClientCAs[3].TrustDomain", "invalid trust domain", "listeners[0].tls.trust-domain-cas[0].trust-domain", "invalid trust domain"},
		{"CRLs[1]", "crl x: stale", "listeners[0].tls.crl-files[1]", "crl x: stale"},
		{"MinVersion", "0x0302", "listeners[0].tls", "MinVersion: 0x0302"},
	}
	for _, tt := range tests {
		for _, reload := range []bool{false, true} {
			var err error = &mtls.Error{Reason: mtls.ReasonInvalidConfig, Field: tt.field, Err: errors.New(tt.text)}
			if reload {
				err = fmt.Errorf("mtls: reload: %w", err)
			}
			key, msg := k.key(k.fields(sc), err)
			if key != tt.key || msg != tt.msg {
				t.Errorf("%s %q (reload %v): got %q, %q; want %q, %q", tt.field, tt.text, reload, key, msg, tt.key, tt.msg)
			}
		}
	}
	if key, msg := k.key(k.fields(sc), errors.New("mtls: something else")); key != k.base || msg != "something else" {
		t.Errorf("an error without a field: got %q, %q; want %q, %q", key, msg, k.base, "something else")
	}
}

package gateway

import (
	"reflect"
	"strings"
)

// configKeys is the one table of the YAML config's keys: every key path,
// with "[]" for list items ("listeners[].tls.client-auth"), in the
// order of the fields. It is read from the `key` tags of Config and the
// types it holds, which is also how the decoder finds a key's field and
// how an "unknown key" error lists the keys allowed where it is; the docs
// test checks it against the "Config keys" table of docs/gateway.md.
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

// fieldsOf maps the keys of the struct type t to its field indexes.
func fieldsOf(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		if name, ok := t.Field(i).Tag.Lookup("key"); ok {
			m[name] = i
		}
	}
	return m
}

// keysOf lists the keys of the struct type t, in field order.
func keysOf(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if name, ok := t.Field(i).Tag.Lookup("key"); ok {
			out = append(out, name)
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

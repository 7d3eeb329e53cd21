package scan

import (
	"reflect"
	"strings"
	"testing"
)

// TestFileKeysCoverTags: every field of the endpoints file's types has
// its key in fileKeys, so a field added to Endpoint, Login or
// Verification cannot be silently refused as an unknown key.
func TestFileKeysCoverTags(t *testing.T) {
	check := func(name string, typ reflect.Type, keys map[string]fileKey) {
		tags := map[string]bool{}
		for _, k := range keys {
			tags[k.tag] = true
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || tag == "-" || tag == "" {
				continue
			}
			if !tags[tag] {
				t.Errorf("%s.%s (json %q) has no key in the endpoints file's fileKeys", name, f.Name, tag)
			}
		}
	}
	check("File", reflect.TypeFor[File](), fileKeys)
	check("Endpoint", reflect.TypeFor[Endpoint](), fileKeys["endpoints"].sub)
	check("Login", reflect.TypeFor[Login](), loginKeys)
	check("Verification", reflect.TypeFor[Verification](), fileKeys["verify"].sub)
}

package csrf

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzOverriddenQuery: the _method reading of a raw query never panics
// and never misses an override that net/url's parser finds (with ';' as a
// separator too, as older parsers split there): the check must see at
// least every override an application can.
func FuzzOverriddenQuery(f *testing.F) {
	for _, s := range []string{"_method=DELETE", "a=1&_METHOD=put", "%5Fmethod=POST", "_method=%44ELETE", "x=1;_method=DELETE",
		"x=_method", "my_method=DELETE", "_method=GET", "_method=get,%20post", "_method", "_method=%zz", "%zz=1&_method=PUT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := overriddenInQuery(q)
		for _, kv := range strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' }) {
			vals, err := url.ParseQuery(kv)
			if err != nil {
				continue
			}
			for k, vs := range vals {
				if !strings.EqualFold(k, overrideParam) {
					continue
				}
				for _, v := range vs {
					if unsafeOverride(v) && !got {
						t.Fatalf("overriddenInQuery(%q) = false; net/url reads %s=%q", q, k, v)
					}
				}
			}
		}
	})
}

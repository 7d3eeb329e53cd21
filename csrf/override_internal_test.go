package csrf

import (
	"net/url"
	"strings"
	"testing"
)

// A reading is a parameter as one query parser reads it.
type reading struct{ parser, key, value string }

// readings models how common parsers read the parameters of a raw query
// q, from their documented or published behaviour (override.go names the
// sources):
//
//   - net/url (and most parsers): split at '&' (';' too, as Rack 2, Rails
//     and older Python do), decode name and value once, strictly;
//   - PHP: split at '&', decode leniently, drop leading spaces, end the
//     name at a NUL, read ' ' and '.' as '_', and _method[…] as an array;
//   - Rack 2: split at '&' or ';' and the spaces after it, strip brackets
//     around the name;
//   - qs (Express): the name up to its first '[' after decoding;
//   - an application that decodes names twice;
//   - one behind a proxy that decodes the whole query once first.
func readings(q string) []reading {
	var out []reading
	seps := func(r rune) bool { return r == '&' || r == ';' }
	lenient := func(s string) string { return string(unescapeInPlace([]byte(s))) }
	for _, kv := range strings.FieldsFunc(q, seps) {
		k, v, _ := strings.Cut(kv, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 == nil && err2 == nil {
			out = append(out, reading{"net/url", dk, dv})
			if ddk, err := url.QueryUnescape(dk); err == nil {
				out = append(out, reading{"twice", ddk, dv})
			}
			out = append(out, reading{"rack2", strings.TrimRight(strings.TrimLeft(strings.TrimLeft(dk, " "), "[]"), "]"), dv})
		}
		lk, lv := lenient(k), lenient(v)
		if i := strings.IndexByte(lk, '['); i > 0 {
			out = append(out, reading{"qs", lk[:i], lv})
		}
		php := strings.TrimLeft(lk, " ")
		if i := strings.IndexByte(php, 0); i >= 0 {
			php = php[:i]
		}
		if i := strings.IndexByte(php, '['); i > 0 {
			php = php[:i]
		}
		out = append(out, reading{"php", strings.NewReplacer(" ", "_", ".", "_").Replace(php), lv})
	}
	for _, kv := range strings.FieldsFunc(lenient(q), seps) {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, reading{"decoded first", k, v})
	}
	return out
}

// asciiSpace is the white space an override's elements may have around
// them (isSpace).
const asciiSpace = " \t\n\v\f\r"

// namesUnsafe is the plain reading of an override value: some
// comma-separated element, trimmed and upper-cased, is a method other
// than GET, HEAD or OPTIONS.
func namesUnsafe(v string) bool {
	for _, m := range strings.Split(v, ",") {
		switch m = strings.ToUpper(strings.Trim(m, asciiSpace)); m {
		case "", "GET", "HEAD", "OPTIONS":
		default:
			return true
		}
	}
	return false
}

// TestReadings keeps the models honest: each parser reads the spelling
// it is modelled on as _method.
func TestReadings(t *testing.T) {
	for q, parser := range map[string]string{
		"_method=DELETE": "net/url", "%255Fmethod=DELETE": "twice", "[_method]=DELETE": "rack2",
		"_method%5B%5D=DELETE": "qs", ".method%00x=DELETE": "php", "x=1%26_method%3DDELETE": "decoded first",
	} {
		found := false
		for _, r := range readings(q) {
			found = found || r.parser == parser && r.key == "_method" && r.value == "DELETE"
		}
		if !found {
			t.Errorf("%s does not read %q as _method=DELETE: %q", parser, q, readings(q))
		}
	}
}

// FuzzOverriddenQuery: the _method reading of a raw query never panics
// and never misses an override that one of the modelled parsers finds
// (readings): the check must see at least every override an application
// can.
func FuzzOverriddenQuery(f *testing.F) {
	for _, s := range []string{"_method=DELETE", "a=1&_METHOD=put", "%5Fmethod=POST", "_method=%44ELETE", "x=1;_method=DELETE",
		"x=_method", "my_method=DELETE", "_method=GET", "_method=get,%20post", "_method", "_method=%zz", "%zz=1&_method=PUT",
		"_method[]=DELETE", "_method[0]=DELETE", "%255Fmethod=DELETE", "%25255Fmethod=DELETE", ".method=DELETE", "+_method=DELETE",
		"x=1&%20_method=DELETE", "_method%00x=DELETE", "[_method]=DELETE", "_method]=DELETE", "%u005Fmethod=DELETE",
		"_method%3DDELETE", "x=1%26_method%3DDELETE", "_method=+delete", "next=%2Fa%3Fb%3D1%26c%3D2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := overriddenInQuery(q, "")
		if got {
			return
		}
		for _, r := range readings(q) {
			if strings.EqualFold(r.key, overrideParam) && namesUnsafe(r.value) {
				t.Fatalf("overriddenInQuery(%q) = false; %s reads %s=%q", q, r.parser, r.key, r.value)
			}
		}
	})
}

// FuzzUnsafeOverride: a header value (or decoded parameter value) that
// the plain reading finds unsafe is unsafe to the check too, and one the
// check finds safe names only GET, HEAD and OPTIONS in ASCII.
func FuzzUnsafeOverride(f *testing.F) {
	for _, s := range []string{"DELETE", "delete", " DELETE ", "GET, DELETE", "GET,delete", "\tput\t", "OPTIONſ", " get , HEAD ", "Options", "", ",", "GET,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if unsafeOverride(v) {
			return
		}
		if namesUnsafe(v) {
			t.Fatalf("unsafeOverride(%q) = false; it names an unsafe method", v)
		}
		for _, m := range strings.Split(v, ",") {
			if e := strings.Trim(m, asciiSpace); e != "" && (!isSafeName(e) || strings.ContainsFunc(m, func(r rune) bool { return r > 127 })) {
				t.Fatalf("unsafeOverride(%q) = false, but %q is no safe method in ASCII", v, m)
			}
		}
	})
}

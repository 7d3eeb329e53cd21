package scan

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestExtractValues(t *testing.T) {
	tests := []struct {
		name string
		body string
		want map[string]string
	}{
		{"JSON scalars and lengths", `{"count": 2, "items": [{"n": "a"}, {"n": "b"}], "a/b": {"m~n": true}}`,
			map[string]string{"/count": "2", "/items#length": "2", "/items/0/n": `"a"`, "/items/1/n": `"b"`, "/a~1b/m~0n": "true"}},
		{"JSON number kept as written", `{"balance": 1.50}`, map[string]string{"/balance": "1.50"}},
		{"HTML ids and counts", `<p id="count"> 3  groups </p><table><tr><td>a<tr><td>b</table><ul><li>x</ul>`,
			map[string]string{"#count": "3 groups", "count(tr)": "2", "count(li)": "1"}},
		{"inputs and scripts have no text value", `<input id="tok" value="x"><script id="s">var a = 1</script>`, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := extractValues([]byte(tt.body))
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s: got %q, want %q (all: %q)", k, got[k], v, got)
				}
			}
			for k := range got {
				if _, ok := tt.want[k]; !ok && !strings.HasPrefix(k, "count(") {
					t.Errorf("unexpected value %s=%q", k, got[k])
				}
			}
		})
	}
}

func TestJSONCandidates(t *testing.T) {
	base, _ := url.Parse("https://app.example/dash/")
	body := `<a href="/api/me">me</a><a href="/about">about</a><div data-src="data.json"></div>
<script>fetch("/api/groups?x=1"); const u = '/static/app.js'; fetch(` + "`/api/v2/items`" + `); axios.get('api/rel'); fetch("https://app.example/api/abs"); const s = "hello world"</script>
<script src="/api/not-a-fetch.js"></script>`
	var got []string
	for _, u := range jsonCandidates([]byte(body), base) {
		got = append(got, u.String())
	}
	want := []string{"https://app.example/api/me", "https://app.example/dash/data.json", "https://app.example/api/groups?x=1", "https://app.example/api/v2/items", "https://app.example/dash/api/rel", "https://app.example/api/abs"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDirection(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"1", "2", 1}, {"2", "1", -1}, {`"3"`, `"4"`, 1}, {"x", "y", 0}, {"1", "1", 0}} {
		if got := direction(tt.a, tt.b); got != tt.want {
			t.Errorf("direction(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzExtractValues: a service's page or JSON never panics the scanner,
// and the values kept stay within their bounds.
func FuzzExtractValues(f *testing.F) {
	for _, s := range []string{`{"count": 2, "items": [1, 2]}`, `<p id="c">3</p><tr><li>`, `<p id=a><p id=b>x</p>`, `[]`, `{"a":`, "\x00<li id=\"\xff\">"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		vals := extractValues(b)
		if len(vals) > maxValuesPerURL+len(countedTags) {
			t.Fatalf("%d values", len(vals))
		}
		for k, v := range vals {
			if len(v) > maxValueLen {
				t.Fatalf("value %q is %d bytes", k, len(v))
			}
		}
		for _, d := range []string{"1", `"x"`} {
			_ = shown(d)
		}
	})
}

// FuzzJSONCandidates: the URLs a page names are parsed as a browser
// resolves them, and always against the page.
func FuzzJSONCandidates(f *testing.F) {
	for _, s := range []string{`<script>fetch("/api/x")</script>`, `<a href="/api/me">`, `<div data-x="a.json">`, `<script>"/api/%zz"</script>`} {
		f.Add([]byte(s))
	}
	base, _ := url.Parse("https://app.example/")
	f.Fuzz(func(t *testing.T, b []byte) {
		out := jsonCandidates(b, base)
		if len(out) > 4*maxWatchJSON+8 {
			t.Fatalf("%d candidates", len(out))
		}
		for _, u := range out {
			if !u.IsAbs() {
				t.Fatalf("%q is not absolute", u)
			}
		}
	})
}

// TestShown: a value the service chose is quoted and bounded for
// evidence.
func TestShown(t *testing.T) {
	if got := shown("a\x1b[31mb"); strings.ContainsRune(got, 0x1b) {
		t.Errorf("got %q: an escape reaches the report", got)
	}
	if got := shown(strings.Repeat("x", 100)); !utf8.ValidString(got) || len(got) > 70 {
		t.Errorf("got %q: want it cut", got)
	}
}

// TestUniqueValue: every value the scanner fills is new, and fits the
// field's maxlength as a browser would enforce it.
func TestUniqueValue(t *testing.T) {
	sc := &scanner{runID: "abc123"}
	seen := map[string]bool{}
	for _, tt := range []struct {
		typ   string
		limit int
	}{{"text", 0}, {"text", 0}, {"textarea", 0}, {"email", 0}, {"url", 0}, {"text", 12}, {"text", 4}, {"email", 25}, {"", 150}} {
		v, ok := sc.uniqueValue(tt.typ, tt.limit)
		if !ok {
			t.Fatalf("%s: no value", tt.typ)
		}
		if tt.limit > 0 && len(v) > tt.limit {
			t.Errorf("%s maxlength %d: got %q", tt.typ, tt.limit, v)
		}
		if seen[v] {
			t.Errorf("%s: %q again", tt.typ, v)
		}
		seen[v] = true
		if tt.typ == "email" && !strings.HasSuffix(v, "@example.com") {
			t.Errorf("email: got %q", v)
		}
	}
	if _, ok := sc.uniqueValue("number", 0); ok {
		t.Errorf("number: want the placeholder kept")
	}
}

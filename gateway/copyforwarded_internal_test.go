package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzCopyLastForwarded: what copyLastForwarded passes on, if anything,
// is the end of the last Forwarded line, one element: no comma outside a
// quoted-string, and its quotes pair up.
func FuzzCopyLastForwarded(f *testing.F) {
	for _, s := range []string{
		`for=127.0.0.1;host="app.example";proto=https`,
		`for=6.6.6.6;host=evil.example, for=127.0.0.1;host="app.example";proto=https`,
		`for="_a, host=evil.example";proto=https, for=127.0.0.1;host="app.example"`,
		`for=1.2.3.4, for="_a, for=127.0.0.1;host="app.example"`,
		`host="a\"b", proto=https`,
		`host="a\`,
		`a=b,`,
	} {
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, first, last string) {
		src := http.Header{"Forwarded": {first, last}}
		dst := http.Header{}
		copyLastForwarded(dst, src)
		got, ok := dst["Forwarded"]
		if !ok {
			return
		}
		if len(got) != 1 || got[0] == "" || !strings.HasSuffix(strings.TrimSpace(last), got[0]) {
			t.Fatalf("from %q: got %q, want one non-empty element ending the line", last, got)
		}
		quoted := false
		for i := 0; i < len(got[0]); i++ {
			switch c := got[0][i]; {
			case quoted && c == '\\':
				i++
			case c == '"':
				quoted = !quoted
			case c == ',' && !quoted:
				t.Fatalf("from %q: got %q, which has an unquoted comma", last, got[0])
			}
		}
		if quoted {
			t.Fatalf("from %q: got %q, whose quotes do not pair up", last, got[0])
		}
	})
}

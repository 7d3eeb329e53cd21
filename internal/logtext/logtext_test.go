package logtext

import (
	"errors"
	"strings"
	"testing"
)

// TestClean: a printable ASCII value is logged as it is, without
// allocating; anything else is escaped (Go escapes, so a backslash too)
// and cut at its cap, at a character boundary.
func TestClean(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/api/v1/x?", "/api/v1/x?"},
		{`/a"b =c`, `/a"b =c`},
		{"", ""},
		{"a\nb", `a\nb`},
		{"a\r\nlevel=ERROR", `a\r\nlevel=ERROR`},
		{"\x1b[31mred", `\x1b[31mred`},
		{"del\x7f", `del\x7f`},
		{"csi\u009b31m", `csi\u009b31m`},
		{"rtl\u202eabc", `rtl\u202eabc`},
		{"ls\u2028x", `ls\u2028x`},
		{"bad\xffutf8", `bad\xffutf8`},
		{`back\slash`, `back\\slash`},
		{`q"\`, `q\"\\`},
		{"Müller", "Müller"},
		{strings.Repeat("a", 9), "aaaaaaaa…"},
		{"aaaaaaaé", "aaaaaaa…"}, // é would straddle the cap of 8
		{strings.Repeat("a", 8), strings.Repeat("a", 8)},
		// Continuation bytes with no first byte are no character: the cut
		// is at the cap, not back before "/adm".
		{"/adm" + strings.Repeat("\x80", 12), `/adm\x80\x80\x80\x80…`},
	} {
		max := 8
		if len(tt.want) > 8 && !strings.HasSuffix(tt.want, "…") {
			max = 64 // an escape, not a cut
		}
		if got := Clean(tt.in, max); got != tt.want {
			t.Errorf("Clean(%q, %d) = %q, want %q", tt.in, max, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Clean("/api/v1/accounts/42", 2048) }); n != 0 {
		t.Errorf("%v allocations for a clean value, want 0", n)
	}
}

// TestError: an error's text keeps its quotes and backslashes, and
// escapes what is not printable, as Clean does; a clean text is not
// copied.
func TestError(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`tls: client requested unsupported application protocols (["h3"])`, `tls: client requested unsupported application protocols (["h3"])`},
		{`back\slash "q"`, `back\slash "q"`},
		{"a\nb", `a\nb`},
		{"split\nlevel=ERROR msg=forged", `split\nlevel=ERROR msg=forged`},
		{"\x1b[31mred", `\x1b[31mred`},
		{"del\x7f", `del\x7f`},
		{"csi\u009b31m", `csi\u009b31m`},
		{"rtl\u202eabc", `rtl\u202eabc`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"Müller", "Müller"},
		{strings.Repeat("a", MaxError+1), strings.Repeat("a", MaxError) + "…"},
	} {
		if got := Error(errors.New(tt.in)); got != tt.want {
			t.Errorf("Error(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := Error(nil); got != "" {
		t.Errorf("Error(nil) = %q", got)
	}
	err := errors.New("x509: certificate signed by unknown authority")
	if n := testing.AllocsPerRun(100, func() { _ = Error(err) }); n != 0 {
		t.Errorf("%v allocations for a clean error, want 0", n)
	}
}

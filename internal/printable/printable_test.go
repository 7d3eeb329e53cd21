package printable_test

import (
	"strconv"
	"testing"

	"github.com/forgeproof/forgeproof/internal/printable"
)

var tests = []struct {
	name, in, want string
}{
	{name: "plain", in: "Set-Cookie sid has Domain=example.com.", want: "Set-Cookie sid has Domain=example.com."},
	{name: "utf-8", in: "café ☕", want: "café ☕"},
	{name: "quotes and backslashes stay as they are", in: `a "b" \c`, want: `a "b" \c`},
	{name: "empty", in: "", want: ""},
	{name: "CSI", in: "a\x1b[2Jb", want: `"a\x1b[2Jb"`},
	{name: "OSC 8 hyperlink", in: "\x1b]8;;https://evil/\x07x", want: `"\x1b]8;;https://evil/\ax"`},
	{name: "carriage return", in: "ok\rFAIL", want: `"ok\rFAIL"`},
	{name: "newline", in: "a\nb", want: `"a\nb"`},
	{name: "tab", in: "a\tb", want: `"a\tb"`},
	{name: "DEL", in: "a\x7f", want: `"a\x7f"`},
	{name: "C1 CSI", in: "a\u009b2J", want: `"a\u009b2J"`},
	{name: "not UTF-8", in: "a\x9b2J\xff", want: `"a\x9b2J\xff"`},
	{name: "right-to-left override", in: "x\u202egnp.exe", want: `"x\u202egnp.exe"`},
	{name: "isolate", in: "a\u2067b\u2069", want: `"a\u2067b\u2069"`},
	{name: "right-to-left mark", in: "a\u200fb", want: `"a\u200fb"`},
}

func TestQuote(t *testing.T) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := printable.Quote(tc.in)
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if got, want := printable.Is(tc.in), got == tc.in; got != want {
				t.Errorf("Is: got %v, want %v", got, want)
			}
			if !safe(got) {
				t.Errorf("Quote(%q) = %q holds a byte a terminal would act on", tc.in, got)
			}
			// Nothing is dropped: the quoted form reads back as the text.
			if got != tc.in {
				if back, err := strconv.Unquote(got); err != nil || back != tc.in {
					t.Errorf("Unquote(%v) = %q, %v; want %q", got, back, err, tc.in)
				}
			}
		})
	}
}

// safe is the terminal-escape detector of the tests: no byte below 0x20
// nor DEL, no C1 control, no bidirectional formatting character, UTF-8.
// It does not use the package, so that it can catch it out.
func safe(s string) bool {
	for i, r := range s {
		switch {
		case r == 0xfffd && s[i:i+3] != "\ufffd",
			r < 0x20, r >= 0x7f && r <= 0x9f,
			r == 0x061c, r == 0x200e, r == 0x200f,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return false
		}
	}
	return true
}

// TestSafeDetector is the negative control: the detector catches each
// hostile case as it is, and lets the plain ones through.
func TestSafeDetector(t *testing.T) {
	for _, tc := range tests {
		if got, want := safe(tc.in), tc.in == tc.want; got != want {
			t.Errorf("%s: safe(%q) = %v, want %v", tc.name, tc.in, got, want)
		}
	}
}

func FuzzQuote(f *testing.F) {
	for _, tc := range tests {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := printable.Quote(s)
		if !safe(q) {
			t.Fatalf("Quote(%q) = %q: not safe", s, q)
		}
		if q != s {
			if back, err := strconv.Unquote(q); err != nil || back != s {
				t.Fatalf("Unquote(%s) = %q, %v; want %q", q, back, err, s)
			}
		}
	})
}

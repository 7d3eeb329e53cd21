package shellquote_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/forgeproof/forgeproof/internal/shellquote"
)

var tests = []struct {
	name, in, want string
}{
	{name: "plain word", in: "plain", want: "plain"},
	{name: "path", in: "/tmp/demo-pki/client.pem", want: "/tmp/demo-pki/client.pem"},
	{name: "url", in: "https://localhost:8443/a,2+3@x", want: "https://localhost:8443/a,2+3@x"},
	{name: "url with query (? globs)", in: "https://localhost/t?a=1", want: "'https://localhost/t?a=1'"},
	{name: "empty", in: "", want: "''"},
	{name: "space", in: "with space", want: "'with space'"},
	{name: "single quote", in: "it's", want: `'it'\''s'`},
	{name: "backslash", in: `back\slash`, want: `'back\slash'`},
	{name: "ampersand", in: "a=1&b=2", want: "'a=1&b=2'"},
	{name: "leading equals (zsh expands =word)", in: "=ls", want: "'=ls'"},
	{name: "equals inside", in: "to=bob", want: "to=bob"},
	{name: "expansions", in: "$HOME `x` !", want: "'$HOME `x` !'"},
	{name: "tilde and glob", in: "~/*.pem", want: "'~/*.pem'"},
	{name: "crlf", in: "{\"to\":\"m\",\"x\":\"=\"}\r\n", want: `$'{"to":"m","x":"="}\r\n'`},
	{name: "multipart", in: "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n", want: `$'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'`},
	{name: "tab", in: "tab\there", want: `$'tab\there'`},
	{name: "other controls", in: "\x01\x7f'\\", want: `$'\001\177\'\\'`},
	// ksh93 reads \x with every hex digit that follows (\x01a is \x1a):
	// octal escapes stop at three digits in every shell.
	{name: "control before a hex digit", in: "\x01a\x1b7", want: `$'\001a\0337'`},
	{name: "utf-8", in: "café", want: "'café'"},
	// C1 controls (U+009B is CSI) and bytes that are not UTF-8 (a lone
	// 0x9b is CSI to a Latin-1 terminal) are escaped too: the command is
	// printed to a terminal, and JSON would turn a bad byte into U+FFFD.
	{name: "C1 control", in: "a\u009b2Jb", want: `$'a\302\2332Jb'`},
	{name: "not UTF-8", in: "a\x9b\xffb", want: `$'a\233\377b'`},
	// A right-to-left override in a form action would show the rest of
	// the command line reversed: what is read is not what runs.
	{name: "bidi override", in: "/t?f=\u202egnp.exe", want: `$'/t?f=\342\200\256gnp.exe'`},
	{name: "bidi isolate", in: "a\u2067b", want: `$'a\342\201\247b'`},
}

func TestQuote(t *testing.T) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := shellquote.Quote(tc.in); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestQuoteShells runs every quoted case through the shells at hand and
// checks that each gives back the original, as one word on one line.
func TestQuoteShells(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "ksh"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		for _, tc := range tests {
			t.Run(sh+"/"+tc.name, func(t *testing.T) {
				roundTrip(t, path, tc.in)
			})
		}
	}
}

func roundTrip(t *testing.T, shell, s string) {
	t.Helper()
	q := shellquote.Quote(s)
	if !utf8.ValidString(q) || strings.ContainsFunc(q, func(r rune) bool {
		return r < 0x20 || r >= 0x7f && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
	}) {
		t.Errorf("Quote(%q) = %q: want UTF-8 on one line, without control or bidi formatting characters", s, q)
	}
	// Two words: the count proves the quoted string stayed one.
	out, err := exec.Command(shell, "-c", "printf '%s|' "+q+" end").Output()
	if err != nil {
		t.Fatalf("%s -c on Quote(%q) = %s: %v", shell, s, q, err)
	}
	if got, want := string(out), s+"|end|"; got != want {
		t.Errorf("Quote(%q) = %s: got %q, want %q", s, q, got, want)
	}
}

// FuzzQuote: whatever the string (without NUL, which no argument can
// hold), every shell at hand gives it back from its quoted form.
func FuzzQuote(f *testing.F) {
	var shells []string
	for _, sh := range []string{"bash", "zsh", "ksh"} {
		if path, err := exec.LookPath(sh); err == nil {
			shells = append(shells, path)
		}
	}
	if len(shells) == 0 {
		f.Skip("no bash, zsh or ksh")
	}
	for _, tc := range tests {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			t.Skip("NUL cannot be in an argument")
		}
		for _, sh := range shells {
			roundTrip(t, sh, s)
		}
	})
}

func ExampleQuote() {
	fmt.Println("curl --cert", shellquote.Quote("my certs/client.pem"),
		"--data-binary", shellquote.Quote("to=bob&amount=1"),
		shellquote.Quote("https://localhost:8443/transfer"))
	// Output:
	// curl --cert 'my certs/client.pem' --data-binary 'to=bob&amount=1' https://localhost:8443/transfer
}

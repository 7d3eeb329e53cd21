package scan

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The curl reproductions carry what the scanned service chose (a form's
// action and fields, a cookie's name, a page's header value) into a shell
// command. These tests read the commands back two ways: with decodeCommand,
// a decoder of exactly the quoting subset curlCommand and shellquote emit
// (fast enough to fuzz), and with bash, zsh and ksh on a fixed table of
// hostile inputs, which also checks that the decoder reads as the shells
// do. TestHostileTargetText runs a whole scan's reproduction (the URL) in
// bash; these cover every field, the printf path and the other shells.

// plainWord are the bytes shellquote leaves unquoted.
const plainWord = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+"

// decodeCommand reads a command curlCommand wrote: "curl ARGS…" or
// "printf FORMAT | curl ARGS…". It returns curl's arguments and, for the
// printf form, the bytes printf writes. Anything outside the subset the
// generator emits is an error, so that text a shell would read another way
// cannot pass unnoticed.
func decodeCommand(cmd string) (args []string, stdin []byte, piped bool, err error) {
	words, err := shellWords(cmd)
	if err != nil {
		return nil, nil, false, err
	}
	if len(words) >= 3 && words[0].s == "printf" && !words[0].quoted && words[2].op {
		if words[1].op {
			return nil, nil, false, errors.New("printf without a format")
		}
		stdin, err = decodePrintf(words[1].s)
		if err != nil {
			return nil, nil, false, err
		}
		words, piped = words[3:], true
	}
	if len(words) == 0 || words[0].s != "curl" || words[0].quoted {
		return nil, nil, false, fmt.Errorf("command does not run curl: %q", cmd)
	}
	for _, w := range words[1:] {
		if w.op {
			return nil, nil, false, fmt.Errorf("operator among curl's arguments: %q", cmd)
		}
		args = append(args, w.s)
	}
	return args, stdin, piped, nil
}

type word struct {
	s      string
	quoted bool // some of it was quoted
	op     bool // the pipe
}

// shellWords splits cmd into words separated by single spaces; a word is
// plain bytes, '…' (no control character inside), \' or $'…' with the
// escapes \\ \' \r \n \t and three-digit octal.
func shellWords(cmd string) ([]word, error) {
	var words []word
	for i := 0; i < len(cmd); {
		if len(words) > 0 {
			if cmd[i] != ' ' {
				return nil, fmt.Errorf("byte %d: %q where a space should be", i, cmd[i])
			}
			i++
		}
		if strings.HasPrefix(cmd[i:], "| ") || cmd[i:] == "|" {
			words = append(words, word{s: "|", op: true})
			i++
			continue
		}
		var w word
		var b strings.Builder
		start := i
		for i < len(cmd) && cmd[i] != ' ' {
			switch c := cmd[i]; {
			case c == '\'':
				end := strings.IndexByte(cmd[i+1:], '\'')
				if end < 0 {
					return nil, errors.New("unterminated '")
				}
				s := cmd[i+1 : i+1+end]
				if strings.ContainsFunc(s, isControl) {
					return nil, fmt.Errorf("control character inside '…': %q", s)
				}
				b.WriteString(s)
				i += end + 2
				w.quoted = true
			case c == '\\' && i+1 < len(cmd) && cmd[i+1] == '\'':
				b.WriteByte('\'')
				i += 2
				w.quoted = true
			case c == '$' && i+1 < len(cmd) && cmd[i+1] == '\'':
				n, err := ansiC(cmd[i+2:], &b)
				if err != nil {
					return nil, err
				}
				i += 2 + n
				w.quoted = true
			case strings.IndexByte(plainWord, c) >= 0 && !(c == '=' && i == start):
				b.WriteByte(c)
				i++
			default:
				return nil, fmt.Errorf("byte %d: %q unquoted", i, c)
			}
		}
		if i == start {
			return nil, fmt.Errorf("byte %d: empty word", i)
		}
		w.s = b.String()
		words = append(words, w)
	}
	return words, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// ansiC decodes the inside of $'…' up to and with its closing quote and
// returns how many bytes it read.
func ansiC(s string, b *strings.Builder) (int, error) {
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\'':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(s) {
				return 0, errors.New("\\ at the end")
			}
			switch e := s[i+1]; e {
			case '\\', '\'':
				b.WriteByte(e)
			case 'r':
				b.WriteByte('\r')
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				v, ok := octal3(s[i+1:])
				if !ok {
					return 0, fmt.Errorf("escape \\%c in $'…'", e)
				}
				if v == 0 {
					return 0, errors.New("NUL in $'…' (the shells end the word there)")
				}
				b.WriteByte(v)
				i += 4
				continue
			}
			i += 2
		case isControl(rune(c)):
			return 0, fmt.Errorf("control byte %q inside $'…'", c)
		default:
			b.WriteByte(c)
			i++
		}
	}
	return 0, errors.New("unterminated $'")
}

// octal3 reads exactly three octal digits.
func octal3(s string) (byte, bool) {
	if len(s) < 3 {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[:3]) {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	return byte(v), v < 256
}

// decodePrintf returns what printf writes for format when it has no
// argument, for the subset printfFormat emits: printable ASCII, %%, \\ and
// three-digit octal escapes; a leading '-' is refused (an option).
func decodePrintf(format string) ([]byte, error) {
	if strings.HasPrefix(format, "-") {
		return nil, errors.New("format starts with -")
	}
	var out []byte
	for i := 0; i < len(format); {
		switch c := format[i]; {
		case c == '%':
			if i+1 >= len(format) || format[i+1] != '%' {
				return nil, fmt.Errorf("directive %q in the format", format[i:min(i+2, len(format))])
			}
			out = append(out, '%')
			i += 2
		case c == '\\':
			if i+1 < len(format) && format[i+1] == '\\' {
				out = append(out, '\\')
				i += 2
				continue
			}
			v, ok := octal3(format[i+1:])
			if !ok {
				return nil, fmt.Errorf("escape %q in the format", format[i:min(i+4, len(format))])
			}
			out = append(out, v)
			i += 4
		case c < 0x20 || c >= 0x7f:
			return nil, fmt.Errorf("byte %q in the format", c)
		default:
			out = append(out, c)
			i++
		}
	}
	return out, nil
}

// curlCase is a request whose text a service chose.
type curlCase struct {
	name                  string
	method                string
	path, rawQuery        string
	headerKey, headerVal  string
	cookieName            string
	body                  []byte
	anonymous, secretHead bool
}

var curlTLSArgs = []string{"--cacert", "ca dir/ca.pem", "--cert", "c.pem", "--key", "k.pem"}

func (c curlCase) request() *request {
	// As a form action parses (a [ stays in the path), else as it is.
	u, err := url.Parse("https://bank.example:8443" + c.path)
	if err != nil || u.Host != "bank.example:8443" || u.RawQuery != "" || u.Fragment != "" {
		u = &url.URL{Scheme: "https", Host: "bank.example:8443", Path: c.path}
	}
	u.RawQuery = c.rawQuery
	r := &request{
		Method:    c.method,
		URL:       u,
		Header:    http.Header{"User-Agent": {userAgent}},
		Body:      c.body,
		Anonymous: c.anonymous,
	}
	if c.headerKey != "" {
		r.Header[c.headerKey] = append(r.Header[c.headerKey], c.headerVal)
		if c.secretHead {
			r.secretHeaders = map[string]bool{c.headerKey: true}
		}
	}
	if c.cookieName != "" {
		r.Cookies = []*http.Cookie{{Name: c.cookieName, Value: "secret"}, {Name: "sid", Value: "s"}}
	}
	return r
}

// want is the arguments curl should get and the bytes it should read
// from its standard input (nil: it reads none).
func (c curlCase) want() (args []string, stdin []byte) {
	r := c.request()
	args = []string{"-sS", "-i"}
	if r.Method != "GET" || len(r.Body) > 0 {
		args = append(args, "-X", r.Method)
	}
	for i := 0; i < len(curlTLSArgs); i++ {
		if c.anonymous && (curlTLSArgs[i] == "--cert" || curlTLSArgs[i] == "--key") {
			i++
			continue
		}
		args = append(args, curlTLSArgs[i])
	}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			if r.secretHeaders[k] && v != "" {
				v = redacted
			}
			args = append(args, "-H", k+": "+v)
		}
	}
	if c.cookieName != "" {
		args = append(args, "-H", "Cookie: "+c.cookieName+"=REDACTED; sid=REDACTED")
	}
	switch {
	case bytes.IndexByte(r.Body, 0) >= 0:
		args, stdin = append(args, "--data-binary", "@-"), r.Body
	case len(r.Body) > 0:
		args = append(args, "--data-binary", string(r.Body))
	}
	u := r.URL.String()
	if strings.ContainsAny(u, "[]{}") {
		// curl reads [1-9] and {a,b} in a URL as patterns: one request
		// per match.
		args = append(args, "-g")
	}
	return append(args, u), stdin
}

// hostile are bytes a service may try to break out of a quoted word or
// a printf format with.
const hostile = "%s%n%b%%\\c\\0101\\x41$'\\n'`>pwned`$(>pwned)${IFS}>pwned;>pwned|&'\"!*?~#\u202e\u009b\xff"

var curlCases = []curlCase{
	{name: "plain", method: "POST", path: "/transfer", headerKey: "Origin", headerVal: "https://evil.example", cookieName: "sid2", body: []byte("to=bob&amount=1")},
	{name: "get", method: "GET", path: "/"},
	{name: "hostile body", method: "POST", path: "/t", body: []byte(hostile)},
	{name: "hostile body with NUL (printf)", method: "POST", path: "/t", body: []byte(hostile + "\x00" + hostile)},
	{name: "printf: directives", method: "POST", path: "/t", body: []byte("\x00%s%n%b%d%%%c%1$s%*d%")},
	{name: "printf: escapes", method: "POST", path: "/t", body: []byte("\x00\\c\\0\\0101\\x41\\u0041\\e\\")},
	{name: "printf: NUL then digits", method: "POST", path: "/t", body: []byte("\x001\x0012\x00777\x01\x7f8")},
	{name: "printf: leading dash", method: "POST", path: "/t", body: []byte("-v\x00")},
	{name: "printf: leading dashes", method: "POST", path: "/t", body: []byte("--\x00")},
	{name: "printf: newline and quotes", method: "POST", path: "/t", body: []byte("\x00'\n'$(>pwned)\n;>pwned\r\n")},
	{name: "body with leading dash", method: "POST", path: "/t", body: []byte("-K/etc/passwd")},
	{name: "body with newline", method: "POST", path: "/t", body: []byte("a\n>pwned\n'$(>pwned)'")},
	{name: "hostile header value", method: "POST", path: "/t", headerKey: "X-Token", headerVal: hostile},
	{name: "secret header", method: "POST", path: "/t", headerKey: "X-Token", headerVal: hostile, secretHead: true},
	{name: "hostile header name", method: "POST", path: "/t", headerKey: "X'$(>pwned)`>pwned`", headerVal: "v"},
	{name: "hostile cookie name", method: "POST", path: "/t", cookieName: "c'$(>pwned)`>pwned`;>pwned"},
	{name: "hostile method", method: "POST;>pwned $(>pwned)", path: "/t"},
	{name: "hostile query", method: "GET", path: "/t", rawQuery: "q='$(>pwned)'&r=`>pwned`;>pwned&s=\\'\u202e\xff"},
	{name: "hostile path", method: "GET", path: "/t'$(>pwned)`>pwned`"},
	{name: "anonymous", method: "POST", path: "/t", anonymous: true, body: []byte("a=1")},
	// A form action may hold curl's URL patterns: {a,b} sends two
	// requests, [1-100000000] a hundred million, [z fails.
	{name: "glob braces in query", method: "GET", path: "/t", rawQuery: "q={a,b}"},
	{name: "glob range in query", method: "POST", path: "/t", rawQuery: "q=[1-3]", body: []byte("a=1")},
	{name: "glob range in path", method: "GET", path: "/t[1-3]"},
	{name: "bad glob", method: "GET", path: "/t", rawQuery: "q=[z"},
}

// TestCurlCommandDecoded: every case reads back, by decodeCommand, as the
// arguments and body intended.
func TestCurlCommandDecoded(t *testing.T) {
	for _, tc := range curlCases {
		t.Run(tc.name, func(t *testing.T) {
			checkDecoded(t, tc)
		})
	}
}

func checkDecoded(t *testing.T, tc curlCase) {
	t.Helper()
	cmd := curlCommand(tc.request(), curlTLSArgs)
	args, stdin, piped, err := decodeCommand(cmd)
	if err != nil {
		t.Fatalf("%v\ncommand %s", err, cmd)
	}
	wantArgs, wantStdin := tc.want()
	if !slices.Equal(args, wantArgs) {
		t.Errorf("got args %q,\nwant %q\ncommand %s", args, wantArgs, cmd)
	}
	if piped != (wantStdin != nil) || !bytes.Equal(stdin, wantStdin) {
		t.Errorf("got stdin %q (piped %v), want %q\ncommand %s", stdin, piped, wantStdin, cmd)
	}
}

// TestCurlCommandShells: every case, run by bash, zsh and ksh with curl a
// function that saves its arguments and standard input and PATH empty,
// gives curl the arguments and body intended and creates no other file.
// The decoder reads the same: the fuzz targets rely on it.
func TestCurlCommandShells(t *testing.T) {
	ran := 0
	for _, sh := range []string{"bash", "zsh", "ksh"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		ran++
		for _, tc := range curlCases {
			t.Run(sh+"/"+tc.name, func(t *testing.T) {
				checkDecoded(t, tc)
				cmd := curlCommand(tc.request(), curlTLSArgs)
				args, stdin := runCurlStub(t, path, cmd)
				wantArgs, wantStdin := tc.want()
				if !slices.Equal(args, wantArgs) {
					t.Errorf("got args %q,\nwant %q\ncommand %s", args, wantArgs, cmd)
				}
				if !bytes.Equal(stdin, wantStdin) {
					t.Errorf("got stdin %q, want %q\ncommand %s", stdin, wantStdin, cmd)
				}
			})
		}
	}
	if ran == 0 {
		t.Skip("no bash, zsh or ksh")
	}
}

// runCurlStub runs cmd in shell with curl a function that writes its
// arguments, NUL-terminated, to args and its standard input to stdin,
// in an empty folder and with nothing on PATH. It fails t when the
// command leaves any other file.
func runCurlStub(t *testing.T, shell, cmd string) (args []string, stdin []byte) {
	t.Helper()
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Skip("no cat")
	}
	dir := t.TempDir()
	stub := `curl() { printf '%s\0' "$@" > args; ` + cat + ` > stdin; }; `
	var c *exec.Cmd
	switch filepath.Base(shell) {
	case "bash":
		c = exec.Command(shell, "--norc", "--noprofile", "-c", stub+cmd)
	case "zsh":
		c = exec.Command(shell, "-f", "-c", stub+cmd)
	default:
		c = exec.Command(shell, "-c", stub+cmd)
	}
	c.Dir, c.Env = dir, []string{"PATH=/nonexistent"}
	if out, err := c.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("%s: %v: %s\ncommand %s", shell, err, out, cmd)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"args", "stdin"}) {
		t.Errorf("the command left %q, want only args and stdin\ncommand %s", names, cmd)
	}
	b, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 {
		args = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	if stdin, err = os.ReadFile(filepath.Join(dir, "stdin")); err != nil {
		t.Fatal(err)
	}
	if len(stdin) == 0 {
		stdin = nil
	}
	return args, stdin
}

// FuzzPrintfFormat: whatever the body, its printf format is printable
// ASCII that printf turns back into the body, with no directive.
func FuzzPrintfFormat(f *testing.F) {
	for _, tc := range curlCases {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		format := printfFormat(body)
		got, err := decodePrintf(format)
		if err != nil {
			t.Fatalf("printfFormat(%q) = %q: %v", body, format, err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("printfFormat(%q) = %q, which printf writes as %q", body, format, got)
		}
	})
}

// FuzzCurlCommand: whatever text the service chose, the reproduction reads
// back as the arguments and body intended. NUL is kept to the body: no
// header, URL or cookie name carries one (net/http and url.Parse refuse
// them), and no shell argument can hold one.
func FuzzCurlCommand(f *testing.F) {
	for _, tc := range curlCases {
		f.Add(tc.method, tc.path, tc.rawQuery, tc.headerKey, tc.headerVal, tc.cookieName, tc.body, tc.anonymous)
	}
	f.Fuzz(func(t *testing.T, method, path, rawQuery, hk, hv, cookie string, body []byte, anonymous bool) {
		for _, s := range []string{method, path, rawQuery, hk, hv, cookie} {
			if strings.IndexByte(s, 0) >= 0 {
				t.Skip("NUL outside the body")
			}
		}
		if method == "" || hk == "User-Agent" {
			t.Skip()
		}
		checkDecoded(t, curlCase{method: method, path: path, rawQuery: rawQuery, headerKey: hk, headerVal: hv, cookieName: cookie, body: body, anonymous: anonymous, secretHead: len(hv)%2 == 1})
	})
}

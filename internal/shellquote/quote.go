package shellquote

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/forgeproof/forgeproof/internal/printable"
)

// plain are the bytes a word may hold unquoted: none of them is special
// to bash, zsh, ksh or dash anywhere in a word that is not the command
// name (= only after the first byte: zsh expands a leading =word).
const plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+"

// Quote returns s as one shell word: unchanged when it needs no quoting,
// in single quotes when every byte may be printed as it is, else in
// $'…' with what internal/printable would not show escaped (control
// characters, bytes that are not UTF-8, bidirectional formatting
// characters), so that the command neither spans lines, nor reaches a
// terminal as an escape sequence, nor reads in another order than it runs.
func Quote(s string) string {
	if s != "" && s[0] != '=' && strings.Trim(s, plain) == "" {
		return s
	}
	if printable.Is(s) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case !printable.Rune(r):
			for _, c := range []byte(s[i : i+n]) {
				// Octal, always three digits: ksh93 would read a
				// hex digit after \xHH as part of the escape.
				fmt.Fprintf(&b, `\%03o`, c)
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	b.WriteByte('\'')
	return b.String()
}

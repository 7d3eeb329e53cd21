package shellquote

import (
	"fmt"
	"strings"
)

// plain are the bytes a word may hold unquoted: none of them is special
// to bash, zsh, ksh or dash anywhere in a word that is not the command
// name (= only after the first byte: zsh expands a leading =word).
const plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+"

// Quote returns s as one shell word: unchanged when it needs no quoting,
// in single quotes when it has no control character, else in $'…'.
func Quote(s string) string {
	if s != "" && s[0] != '=' && strings.Trim(s, plain) == "" {
		return s
	}
	if strings.IndexFunc(s, isControl) < 0 {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	b.WriteString("$'")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			b.WriteString(`\r`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if isControl(rune(c)) {
				// Octal, always three digits: ksh93 would read a
				// hex digit after \xHH as part of the escape.
				fmt.Fprintf(&b, `\%03o`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

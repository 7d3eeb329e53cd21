// Package printable decides whether text that someone else chose (a
// scanned service's URLs, headers and form names) may be shown to a
// person as it is, and quotes it when not.
//
// Text is shown as it is when Go's %q would escape nothing in it: it is
// UTF-8 and every rune is unicode.IsPrint. That leaves out C0 and C1
// control characters and DEL (a terminal runs ESC[2J, OSC 8 hyperlinks
// and a CR that overwrites the line), bytes that are not UTF-8 (a lone
// 0x9b is CSI to a Latin-1 terminal; JSON turns it into U+FFFD without a
// word) and the bidirectional formatting characters such as U+202E,
// which make a line read in another order than its bytes (CVE-2021-42574).
package printable

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Rune reports whether r may be shown as it is.
func Rune(r rune) bool { return r != utf8.RuneError && unicode.IsPrint(r) }

// Is reports whether s may be shown as it is: UTF-8 whose every rune
// passes Rune.
func Is(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !Rune(r) }) < 0
}

// Quote returns s unchanged when Is(s), else as %q writes it, so that
// nothing is dropped and the escapes cannot be mistaken for the text.
func Quote(s string) string {
	if Is(s) {
		return s
	}
	return strconv.Quote(s)
}

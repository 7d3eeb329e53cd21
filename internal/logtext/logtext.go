// Package logtext makes client-chosen values safe to log: escaped and
// capped, so that no log line can be split, no field forged and no
// terminal escape sent by way of a path, a Host, an SNI or a certificate
// subject, in slog's text and JSON formats alike.
package logtext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Caps of the client-chosen values Clean writes to the log.
const (
	MaxPath     = 2048 // nginx's large_client_header_buffers is 8k for the whole line
	MaxName     = 256  // host names (Host, SNI: a DNS name is at most 253), methods
	MaxIdentity = 1024 // a certificate subject or SPIFFE ID
	MaxError    = 4096 // an error's text (Error)
)

// Clean makes a client-chosen value (a path, a Host, an SNI, a
// certificate subject) safe for either log format: at most max bytes
// (then cut at a character boundary and ended with "…"), and with every
// byte or character that is not printable written as a Go escape
// (strconv.Quote's, without the outer quotes: \n, \x1b, \x7f,
// \u009b, \u202e, a byte of invalid UTF-8 as \xNN), and so a
// backslash as \\ and a quote as \", so that an escape in the log
// always stands for what the client sent. slog's text handler quotes such
// values itself, but its JSON handler writes DEL, the C1 controls (U+009B
// is CSI to terminals that read 8-bit controls) and bidirectional
// overrides raw: a value read in a terminal (jq, less -R, kubectl logs)
// could recolour or rewrite what is shown. The usual value, printable
// ASCII without a backslash, is returned as it is, with no allocation.
func Clean(s string, max int) string {
	clean := len(s) <= max
	for i := 0; i < len(s) && clean; i++ {
		clean = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\'
	}
	if clean {
		return s
	}
	cut := false
	if len(s) > max {
		// Not inside a character: back to its first byte, at most
		// UTFMax-1 bytes back; else the bytes are no character (cut at
		// max), and backing over a run of them would drop what came
		// before ("/admin" and 2048 bytes 0x80 logged as "/admi…").
		n := max
		for i := 1; i < utf8.UTFMax && n > 0 && !utf8.RuneStart(s[n]); i++ {
			n--
		}
		if !utf8.RuneStart(s[n]) {
			n = max
		}
		s, cut = s[:n], true
	}
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	if cut {
		q += "…"
	}
	return q
}

// Error is err's text made safe for either log format as Clean makes a
// value, but with quotes and backslashes left as they are: an error's
// text quotes the values it names itself (%q), and escaping its quotes
// again would make it unreadable. It is for errors whose text may hold
// what a client sent (a handshake's, a PROXY header's, a request
// body's), at most MaxError bytes of it. nil is "".
func Error(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	clean := len(s) <= MaxError
	for i := 0; i < len(s) && clean; i++ {
		clean = s[i] >= 0x20 && s[i] < 0x7f
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i >= MaxError {
			b.WriteString("…")
			break
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[s[i]>>4])
			b.WriteByte("0123456789abcdef"[s[i]&15])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

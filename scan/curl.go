package scan

import (
	"fmt"
	"sort"
	"strings"
)

const redacted = "REDACTED"

// curlCommand renders r as a curl command line that sends the same
// request, with tlsArgs presenting the client certificate. Cookie values
// and r's secrets are replaced with REDACTED.
func curlCommand(r *request, tlsArgs []string) string {
	var b strings.Builder
	b.WriteString("curl -sS -i")
	if r.Method != "GET" || len(r.Body) > 0 {
		b.WriteString(" -X " + shellQuote(r.Method))
	}
	if !r.Anonymous {
		for _, a := range tlsArgs {
			b.WriteString(" " + shellQuote(a))
		}
	} else {
		for i := 0; i < len(tlsArgs); i++ {
			// Keep the trust flags; drop the client certificate.
			switch tlsArgs[i] {
			case "--cert", "--key", "--cert-type", "--pass":
				i++
			default:
				b.WriteString(" " + shellQuote(tlsArgs[i]))
			}
		}
	}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range r.Header[k] {
			b.WriteString(" -H " + shellQuote(k+": "+v))
		}
	}
	if len(r.Cookies) > 0 {
		parts := make([]string, len(r.Cookies))
		for i, c := range r.Cookies {
			parts[i] = c.Name + "=" + redacted
		}
		b.WriteString(" -H " + shellQuote("Cookie: "+strings.Join(parts, "; ")))
	}
	body, u := r.Body, r.URL
	if r.shownBody != nil {
		body = r.shownBody
	}
	if r.shownURL != nil {
		u = r.shownURL
	}
	if len(body) > 0 {
		b.WriteString(" --data-binary " + shellQuote(string(body)))
	}
	b.WriteString(" " + shellQuote(u.String()))
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs quoting. Strings
// with control characters (the CRLF of multipart and text/plain bodies)
// use ANSI-C quoting ($'…'), which bash, zsh and ksh understand, so that
// the command stays on one line.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
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
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

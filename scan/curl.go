package scan

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/forgeproof/forgeproof/internal/shellquote"
)

const redacted = "REDACTED"

// curlCommand renders r as a curl command line that sends the same
// request, with tlsArgs presenting the client certificate. Cookie values
// and r's secrets are replaced with REDACTED.
func curlCommand(r *request, tlsArgs []string) string {
	var b strings.Builder
	b.WriteString("curl -sS -i")
	if r.Method != "GET" || len(r.Body) > 0 {
		b.WriteString(" -X " + shellquote.Quote(r.Method))
	}
	if !r.Anonymous {
		for _, a := range tlsArgs {
			b.WriteString(" " + shellquote.Quote(a))
		}
	} else {
		for i := 0; i < len(tlsArgs); i++ {
			// Keep the trust flags; drop the client certificate.
			switch tlsArgs[i] {
			case "--cert", "--key", "--cert-type", "--pass":
				i++
			default:
				b.WriteString(" " + shellquote.Quote(tlsArgs[i]))
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
			if r.secretHeaders[k] && v != "" {
				v = redacted
			}
			b.WriteString(" -H " + shellquote.Quote(k+": "+v))
		}
	}
	if len(r.Cookies) > 0 {
		parts := make([]string, len(r.Cookies))
		for i, c := range r.Cookies {
			parts[i] = c.Name + "=" + redacted
		}
		b.WriteString(" -H " + shellquote.Quote("Cookie: "+strings.Join(parts, "; ")))
	}
	body, u := r.Body, r.URL
	if r.shownBody != nil {
		body = r.shownBody
	}
	if r.shownURL != nil {
		u = r.shownURL
	}
	us := u.String()
	// curl reads [1-9] and {a,b} in a URL as patterns, one request per
	// match: a form action's [1-100000000] would be a hundred million.
	glob := ""
	if strings.ContainsAny(us, "[]{}") {
		glob = " -g"
	}
	if bytes.IndexByte(body, 0) >= 0 {
		// No shell argument can hold a NUL byte (a placeholder PNG in a
		// multipart body has some): printf writes the body, curl reads
		// it from stdin.
		b.WriteString(" --data-binary @-" + glob + " " + shellquote.Quote(us))
		return "printf " + shellquote.Quote(printfFormat(body)) + " | " + b.String()
	}
	if len(body) > 0 {
		b.WriteString(" --data-binary " + shellquote.Quote(string(body)))
	}
	b.WriteString(glob + " " + shellquote.Quote(us))
	return b.String()
}

// printfFormat is a printf format that writes body as it is: printable
// ASCII as itself, '%' and '\' doubled, every other byte as a
// three-digit octal escape (POSIX printf's, in every shell's builtin),
// and a leading '-' too, which printf would take for an option.
func printfFormat(body []byte) string {
	var b strings.Builder
	for i, c := range body {
		switch {
		case c == '-' && i == 0:
			b.WriteString(`\055`)
		case c == '%':
			b.WriteString("%%")
		case c == '\\':
			b.WriteString(`\\`)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\%03o`, c)
		}
	}
	return b.String()
}

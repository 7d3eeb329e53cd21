// Package setcookie reads a Set-Cookie line's attributes as browsers do
// (RFC 6265bis, sections 5.6 and 5.7): names and values without case in
// ASCII only (ascii.EqualFold), an attribute whose value is over
// MaxAttributeValue bytes as absent, the last occurrence of an attribute
// as the one that counts. Go's net/http reads them differently (Unicode
// case folding, no length limit, an unparsable value skipped and an
// earlier one kept); the gateway, which must satisfy both readers, and the
// scanner, which judges what a browser stores, share this reading.
package setcookie

import (
	"iter"
	"strings"

	"github.com/forgeproof/forgeproof/internal/ascii"
)

// MaxAttributeValue is the longest attribute value, spaces and tabs around
// it trimmed, that browsers honour: a longer one is ignored, and the
// attribute with it (Chromium ignores "Secure=" followed by 1025 bytes).
const MaxAttributeValue = 1024

// TrimWS trims what net/http's cookie parser trims (space, tab, CR, LF);
// browsers trim space and tab, and never see CR or LF in a header.
// strings.TrimSpace would trim more (a form feed) than either does.
func TrimWS(s string) string { return strings.Trim(s, " \t\r\n") }

// Split returns the line's name=value part and its cookie name, trimmed.
func Split(line string) (nameValue, name string) {
	nameValue, _, _ = strings.Cut(line, ";")
	name, _, _ = strings.Cut(nameValue, "=")
	return nameValue, TrimWS(name)
}

// Attributes yields each attribute after the line's name=value as
// net/http splits it: the attribute trimmed, then cut at the first '=',
// the name and the value untrimmed. A browser trims both (TrimWS).
func Attributes(line string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		_, attrs, ok := strings.Cut(line, ";")
		if !ok {
			return
		}
		for a := range strings.SplitSeq(attrs, ";") {
			k, v, _ := strings.Cut(TrimWS(a), "=")
			if !yield(k, v) {
				return
			}
		}
	}
}

// Cookie is what a browser's cookie store makes of a Set-Cookie line's
// attributes.
type Cookie struct {
	Name     string
	Secure   bool
	HTTPOnly bool
	// SameSite is "strict", "lax" or "none" as the last SameSite
	// attribute says, "" when there is none or its value is none of
	// these (Chromium then applies its Lax-by-default, with cross-site
	// POSTs for two minutes; Firefox and Safari treat it as None).
	SameSite string
	// Domain is the last non-empty Domain value, its leading dot
	// removed, in ASCII lower case; "" for a host-only cookie.
	Domain string
	// Path is the last Path value when it starts with '/'; "" when the
	// cookie gets the default path (no Path, or the last one does not
	// start with '/').
	Path string
}

// Read returns what a browser makes of line's name and attributes. It
// does not judge whether the browser stores the cookie at all.
func Read(line string) Cookie {
	_, name := Split(line)
	c := Cookie{Name: name}
	for k, v := range Attributes(line) {
		k, v = TrimWS(k), TrimWS(v)
		if len(v) > MaxAttributeValue {
			continue
		}
		switch {
		case ascii.EqualFold(k, "secure"):
			c.Secure = true
		case ascii.EqualFold(k, "httponly"):
			c.HTTPOnly = true
		case ascii.EqualFold(k, "samesite"):
			c.SameSite = ""
			for _, s := range [...]string{"strict", "lax", "none"} {
				if ascii.EqualFold(v, s) {
					c.SameSite = s
				}
			}
		case ascii.EqualFold(k, "domain"):
			if v != "" {
				c.Domain = ascii.Lower(strings.TrimPrefix(v, "."))
			}
		case ascii.EqualFold(k, "path"):
			c.Path = ""
			if strings.HasPrefix(v, "/") {
				c.Path = v
			}
		}
	}
	return c
}

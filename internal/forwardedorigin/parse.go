package forwardedorigin

import (
	"errors"
	"fmt"
	"strings"
)

// The causes of a refusal (Error.Err). Their texts are stable, as is
// that of a repeated parameter: `parameter "host" repeated in one
// element`.
var (
	errEmpty        = errors.New("empty element")
	errUnterminated = errors.New("unterminated quoted-string")
	errControl      = errors.New("control character")
	errPair         = errors.New("parameter is not name=value")
	errSeparator    = errors.New("expected ';' or ',' after a value")
	errName         = errors.New("parameter name is not a token")
	errValue        = errors.New("value is neither a token nor a quoted-string")
	errProto        = errors.New("proto is neither http nor https")
	errHost         = errors.New("host is not a valid host[:port]")
	// Upstreams that parse Forwarded naively (Spring's unanchored
	// "host=" and "proto=" patterns, Rack 3.0's split at every ',' and
	// ';') read these as parameters of their own.
	errQuoted    = errors.New("quoted-string holds ',', ';', '=' or a quoted-pair, which naive parsers read as separators")
	errExtension = errors.New("extension parameter's name ends in by, for, host or proto")
)

// conflictError is the cause of a Conflict. Its text starts with the
// stable "names another origin than X-Forwarded-Proto and
// X-Forwarded-Host", then names both origins as compared (the request's
// own scheme or host filling in what a header leaves out), so that an
// operator sees which proxy's header is wrong.
type conflictError struct {
	forwarded, xForwarded string // scheme://host[:port]
}

func (e *conflictError) Error() string {
	return fmt.Sprintf("names another origin than X-Forwarded-Proto and X-Forwarded-Host: Forwarded names %q, X-Forwarded-Proto/-Host %q",
		e.forwarded, e.xForwarded)
}

// lastForwarded parses every Forwarded line (RFC 7239 §4) and returns
// the last element. Each line is parsed on its own: a quoted-string never
// spans two. Any syntax error in any element refuses the whole field,
// since it would move the boundaries between elements: which one is last
// depends on every quote before it. bad is the index of the line
// refused.
func lastForwarded(lines []string) (last element, bad int, err error) {
	for i, line := range lines {
		if last, err = parseLine(line); err != nil {
			return element{}, i, err
		}
	}
	bad = len(lines) - 1
	last.proto = webScheme(last.proto)
	if last.hasProto && last.proto != "https" && last.proto != "http" {
		return element{}, bad, errProto
	}
	if last.hasHost && !validReportedHost(last.host) {
		return element{}, bad, errHost
	}
	return last, 0, nil
}

// An element is what a Forwarded element says of the origin.
type element struct {
	proto, host       string // proto in lower case
	hasProto, hasHost bool
	raw               string // the element as sent, without blanks around it
}

// parseLine parses one line: a comma-separated list of elements, each of
// ';'-separated name=value pairs (empty pairs allowed), names for, by,
// host, proto and extensions not ending in one of them, values tokens
// or quoted-strings (without ',', ';', '=' or quoted-pairs). It returns
// the last element.
// Whitespace is allowed around ',' and ';', not around '='. A parameter
// occurs at most once per element (RFC 7239 §4): two are ambiguous, and
// a proxy may have appended to the client's.
func parseLine(s string) (last element, err error) {
	var buf [8]string
	i := 0
	for {
		el, names := element{}, buf[:0]
		start := skipOWS(s, i)
		for {
			i = skipOWS(s, i)
			if i < len(s) && s[i] != ';' && s[i] != ',' {
				n := i
				for i < len(s) && isTchar(s[i]) {
					i++
				}
				if i == n {
					return last, unexpected(s[i], errName)
				}
				name := strings.ToLower(s[n:i])
				if i == len(s) || s[i] != '=' {
					return last, errPair
				}
				if misreadExtension(name) {
					return last, errExtension
				}
				var v string
				if v, i, err = value(s, i+1); err != nil {
					return last, err
				}
				for _, seen := range names {
					if seen == name {
						return last, fmt.Errorf("parameter %q repeated in one element", name)
					}
				}
				names = append(names, name)
				switch name {
				case "proto":
					el.proto, el.hasProto = strings.ToLower(v), true
				case "host":
					el.host, el.hasHost = v, true
				}
				i = skipOWS(s, i)
			}
			if i == len(s) || s[i] == ',' {
				break
			}
			if s[i] != ';' {
				return last, unexpected(s[i], errSeparator)
			}
			i++
		}
		if len(names) == 0 {
			return last, errEmpty
		}
		el.raw = trimOWS(s[start:i])
		last = el
		if i == len(s) {
			return last, nil
		}
		i++ // ','
	}
}

// misreadExtension reports whether name (lower case) is an extension
// parameter (RFC 7239 §5.5) that a naive parser reads as one of the four:
// Spring finds "host=", "proto=" and "for=" anywhere in an element, so
// "xhost=evil" names a host to it. Other extensions go through as
// RFC 7239 allows (Apache Traffic Server sends connection=http with
// proxy.config.http.insert_forwarded's connection=compact); their
// values are tokens or quoted-strings without separators, which no
// naive parser reads a parameter in.
func misreadExtension(name string) bool {
	switch name {
	case "for", "by", "host", "proto":
		return false
	}
	for _, p := range [...]string{"for", "by", "host", "proto"} {
		if strings.HasSuffix(name, p) {
			return true
		}
	}
	return false
}

// value reads a token or quoted-string value at s[i:] and returns it
// (unquoted: a substring of s) and the index after it. A quoted-string
// holding ',', ';', '=' or a quoted-pair is refused (errQuoted): RFC
// 7239 allows them, but naive parsers upstream split on them.
func value(s string, i int) (string, int, error) {
	if i < len(s) && s[i] == '"' {
		for j := i + 1; j < len(s); j++ {
			switch c := s[j]; {
			case c == '"':
				return s[i+1 : j], j + 1, nil
			case c == ',' || c == ';' || c == '=' || c == '\\':
				return "", 0, errQuoted
			case isCTL(c):
				return "", 0, errControl
			}
		}
		return "", 0, errUnterminated
	}
	j := i
	for j < len(s) && isTchar(s[j]) {
		j++
	}
	if j == i || j < len(s) && s[j] != ';' && s[j] != ',' && s[j] != ' ' && s[j] != '\t' {
		if j < len(s) {
			return "", 0, unexpected(s[j], errValue)
		}
		return "", 0, errValue
	}
	return s[i:j], j, nil
}

// unexpected is err, or errControl when the unexpected byte c is a
// control character.
func unexpected(c byte, err error) error {
	if isCTL(c) {
		return errControl
	}
	return err
}

// isCTL reports whether c is a control character other than tab, which
// no header value may hold outside obs-fold.
func isCTL(c byte) bool { return c < 0x20 && c != '\t' || c == 0x7f }

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// trimOWS trims spaces and tabs from both ends of s.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isTchar reports whether c is a token character (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

package csrf

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// fromTrustedProxy reports whether the TCP peer is a trusted proxy. An
// unparsable RemoteAddr (a handler called outside net/http) is not trusted.
func (c *config) fromTrustedProxy(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap().WithZone("")
	for _, p := range c.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Why a trusted proxy's forwarding header is refused: the Err of a
// ReasonForwardedInvalid or ReasonForwardedConflict refusal. The texts are
// stable, as is that of a repeated parameter: `parameter "host" repeated
// in one element`.
var (
	errFwdEmpty        = errors.New("empty element")
	errFwdUnterminated = errors.New("unterminated quoted-string")
	errFwdEscape       = errors.New(`invalid quoted-pair: '\' must precede a visible character, space or tab`)
	errFwdControl      = errors.New("control character")
	errFwdPair         = errors.New("parameter is not name=value")
	errFwdSeparator    = errors.New("expected ';' or ',' after a value")
	errFwdName         = errors.New("parameter name is not a token")
	errFwdValue        = errors.New("value is neither a token nor a quoted-string")
	errFwdProto        = errors.New("proto is neither http nor https")
	errFwdHost         = errors.New("host is not a valid host[:port]")
	errFwdConflict     = errors.New("names another origin than X-Forwarded-Proto and X-Forwarded-Host")
)

// forwardedOrigin returns the scheme and host a trusted proxy reports for the
// request: from the last element of Forwarded (RFC 7239), and from the last
// X-Forwarded-Proto and X-Forwarded-Host values. The last ones are those the
// proxy we trust added; earlier ones came from further away and may be the
// client's. Values the proxy did not send are left empty. When Forwarded
// and X-Forwarded-* are both sent, what each leaves unsaid is taken from
// the connection (defScheme, defHost) and the two origins must be equal:
// an upstream may read either. A malformed value or a disagreement is
// refused (fail closed) with the header, its value and the cause.
func forwardedOrigin(h http.Header, defScheme, defHost string) (scheme, host string, e *Error) {
	xs, xh, e := xForwardedOrigin(h)
	if e != nil {
		return "", "", e
	}
	fv := h["Forwarded"]
	if len(fv) == 0 {
		return xs, xh, nil
	}
	scheme, host, bad, err := lastForwarded(fv)
	if err != nil {
		return "", "", &Error{Reason: ReasonForwardedInvalid, Header: "Forwarded", Value: fv[bad], Err: err}
	}
	_, hasXP := h["X-Forwarded-Proto"]
	if _, hasXH := h["X-Forwarded-Host"]; hasXP || hasXH {
		fs, fh := or(scheme, defScheme), or(host, defHost)
		ys, yh := or(xs, defScheme), or(xh, defHost)
		if fs != ys || !strings.EqualFold(stripDefaultPort(fh, fs), stripDefaultPort(yh, ys)) {
			return "", "", &Error{Reason: ReasonForwardedConflict, Header: "Forwarded", Value: fv[len(fv)-1], Err: errFwdConflict}
		}
	}
	return scheme, host, nil
}

// webScheme is the web origin's scheme for a forwarded proto: "wss" and
// "ws" are "https" and "http". Traefik sends them in X-Forwarded-Proto
// for a WebSocket handshake (its forwarded-headers middleware), whose
// origin is the page's; other values are returned as they are.
func webScheme(proto string) string {
	switch proto {
	case "wss":
		return "https"
	case "ws":
		return "http"
	}
	return proto
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// xForwardedOrigin returns the last X-Forwarded-Proto and X-Forwarded-Host
// values, checked: a header sent with an empty last value is refused.
func xForwardedOrigin(h http.Header) (scheme, host string, e *Error) {
	if v, ok := h["X-Forwarded-Proto"]; ok {
		scheme = webScheme(strings.ToLower(lastValue(v)))
		switch {
		case scheme == "":
			e = &Error{Reason: ReasonForwardedInvalid, Header: "X-Forwarded-Proto", Value: v[len(v)-1], Err: errFwdEmpty}
		case scheme != "https" && scheme != "http":
			e = &Error{Reason: ReasonForwardedInvalid, Header: "X-Forwarded-Proto", Value: v[len(v)-1], Err: errFwdProto}
		}
		if e != nil {
			return "", "", e
		}
	}
	if v, ok := h["X-Forwarded-Host"]; ok {
		host = lastValue(v)
		switch {
		case host == "":
			e = &Error{Reason: ReasonForwardedInvalid, Header: "X-Forwarded-Host", Value: v[len(v)-1], Err: errFwdEmpty}
		case !validHostPort(host):
			e = &Error{Reason: ReasonForwardedInvalid, Header: "X-Forwarded-Host", Value: v[len(v)-1], Err: errFwdHost}
		}
		if e != nil {
			return "", "", e
		}
	}
	return scheme, host, nil
}

// lastForwarded parses every Forwarded line (RFC 7239 §4) and returns the
// proto (lower case) and host of the last element. Each line is parsed on
// its own: a quoted-string never spans two. Any syntax error in any element
// refuses the whole field, since it would move the boundaries between
// elements: which one is last depends on every quote before it. bad is
// the index of the line refused.
func lastForwarded(lines []string) (proto, host string, bad int, err error) {
	var last fwdElement
	for i, line := range lines {
		if last, err = parseForwardedLine(line); err != nil {
			return "", "", i, err
		}
	}
	bad = len(lines) - 1
	last.proto = webScheme(last.proto)
	if last.hasProto && last.proto != "https" && last.proto != "http" {
		return "", "", bad, errFwdProto
	}
	if last.hasHost && !validHostPort(last.host) {
		return "", "", bad, errFwdHost
	}
	return last.proto, last.host, 0, nil
}

// A fwdElement is what a Forwarded element says of the origin.
type fwdElement struct {
	proto, host       string
	hasProto, hasHost bool
}

// parseForwardedLine parses one line: a comma-separated list of elements,
// each of ';'-separated name=value pairs (empty pairs allowed), values
// tokens or quoted-strings (with quoted-pairs). It returns the last
// element. Whitespace is allowed around ',' and ';', not around '='. A
// parameter occurs at most once per element (RFC 7239 §4): two are
// ambiguous, and a proxy may have appended to the client's.
func parseForwardedLine(s string) (last fwdElement, err error) {
	var buf [8]string
	i := 0
	for {
		el, names := fwdElement{}, buf[:0]
		for {
			i = skipOWS(s, i)
			if i < len(s) && s[i] != ';' && s[i] != ',' {
				n := i
				for i < len(s) && isTchar(s[i]) {
					i++
				}
				if i == n {
					return last, unexpected(s[i], errFwdName)
				}
				name := strings.ToLower(s[n:i])
				if i == len(s) || s[i] != '=' {
					return last, errFwdPair
				}
				var v string
				if v, i, err = forwardedValue(s, i+1); err != nil {
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
				return last, unexpected(s[i], errFwdSeparator)
			}
			i++
		}
		if len(names) == 0 {
			return last, errFwdEmpty
		}
		last = el
		if i == len(s) {
			return last, nil
		}
		i++ // ','
	}
}

// forwardedValue reads a token or quoted-string value at s[i:] and
// returns it (unquoted) and the index after it.
func forwardedValue(s string, i int) (string, int, error) {
	if i < len(s) && s[i] == '"' {
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			switch c := s[j]; {
			case c == '"':
				return b.String(), j + 1, nil
			case c == '\\':
				j++
				if j == len(s) {
					return "", 0, errFwdUnterminated
				}
				if isCTL(s[j]) {
					return "", 0, errFwdEscape
				}
				b.WriteByte(s[j])
			case isCTL(c):
				return "", 0, errFwdControl
			default:
				b.WriteByte(c)
			}
		}
		return "", 0, errFwdUnterminated
	}
	j := i
	for j < len(s) && isTchar(s[j]) {
		j++
	}
	if j == i || j < len(s) && s[j] != ';' && s[j] != ',' && s[j] != ' ' && s[j] != '\t' {
		if j < len(s) {
			return "", 0, unexpected(s[j], errFwdValue)
		}
		return "", 0, errFwdValue
	}
	return s[i:j], j, nil
}

// unexpected is err, or errFwdControl when the unexpected byte c is a
// control character.
func unexpected(c byte, err error) error {
	if isCTL(c) {
		return errFwdControl
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

// isTchar reports whether c is a token character (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// lastValue returns the last comma-separated element of the last header
// line, trimmed.
func lastValue(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	v := lines[len(lines)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

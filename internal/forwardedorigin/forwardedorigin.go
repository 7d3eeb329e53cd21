// Package forwardedorigin reads the origin a trusted proxy reports for a
// request, in Forwarded (RFC 7239) and X-Forwarded-Proto/-Host, so that
// the csrf check, which builds the request's own origin from them, and
// the gateway, which forwards them, read them alike: the same values
// accepted, the same ones refused, for the same cause.
//
// Only the last element of Forwarded and the last value of the others
// count: they are the ones the trusted proxy added; earlier ones came
// from further away and may be the client's. Forwarded is parsed whole,
// quoted-strings included, since which element is last depends on every
// quote before it. Proxies that set X-Forwarded-* but pass the client's
// Forwarded on (Caddy's default reverse_proxy, the usual nginx recipe)
// let a client name its own origin to an application that reads
// Forwarded first, so when both are sent they must name the same origin.
package forwardedorigin

import (
	"fmt"
	"net/http"
	"strings"
)

// Kind says why a trusted proxy's forwarding headers were refused.
type Kind uint8

const (
	// Invalid: a value cannot be parsed, so the request's origin is
	// unknown.
	Invalid Kind = iota + 1
	// Conflict: Forwarded and X-Forwarded-Proto/-Host name different
	// origins; an application may read either.
	Conflict
)

// An Error is a refusal of a trusted proxy's forwarding headers.
type Error struct {
	Kind   Kind
	Header string // "Forwarded", "X-Forwarded-Proto" or "X-Forwarded-Host"
	Value  string // the line refused, as sent
	// Err is the cause; its text is stable ("unterminated
	// quoted-string", `parameter "host" repeated in one element`, …).
	// A Conflict's begins with "names another origin than
	// X-Forwarded-Proto and X-Forwarded-Host" and goes on to name the
	// two origins.
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("%s %q: %v", e.Header, e.Value, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// A Report is what a trusted proxy's forwarding headers say of a
// request's origin, once Read has accepted them.
type Report struct {
	// Proto ("http" or "https") and Host (host[:port], as sent) are
	// those of Forwarded's last element when Forwarded is sent, else
	// the last X-Forwarded-Proto and X-Forwarded-Host values; "" where
	// the header read names none.
	Proto, Host string
	// Element is Forwarded's last element as sent (without the blanks
	// around it), "" when there is no Forwarded.
	Element string
}

// Read reads the origin a trusted proxy reports in h. scheme and host
// are the request's own, from its connection and Host: what Forwarded or
// X-Forwarded-* leaves out is taken from them when the two are compared.
// A malformed value anywhere is refused (Invalid), and so is Forwarded
// naming another origin than X-Forwarded-Proto/-Host when both are sent
// (Conflict). A request without Forwarded costs no allocation.
func Read(h http.Header, scheme, host string) (Report, *Error) {
	xs, xh, e := xForwarded(h)
	if e != nil {
		return Report{}, e
	}
	fv := h["Forwarded"]
	if len(fv) == 0 {
		return Report{Proto: xs, Host: xh}, nil
	}
	el, bad, err := lastForwarded(fv)
	if err != nil {
		return Report{}, &Error{Kind: Invalid, Header: "Forwarded", Value: fv[bad], Err: err}
	}
	_, hasXP := h["X-Forwarded-Proto"]
	if _, hasXH := h["X-Forwarded-Host"]; hasXP || hasXH {
		fs, fh := or(el.proto, scheme), or(el.host, host)
		ys, yh := or(xs, scheme), or(xh, host)
		if fs != ys || !strings.EqualFold(StripDefaultPort(fh, fs), StripDefaultPort(yh, ys)) {
			return Report{}, &Error{Kind: Conflict, Header: "Forwarded", Value: fv[len(fv)-1],
				Err: &conflictError{forwarded: fs + "://" + fh, xForwarded: ys + "://" + yh}}
		}
	}
	return Report{Proto: el.proto, Host: el.host, Element: el.raw}, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// xForwarded returns the last X-Forwarded-Proto (lower case) and
// X-Forwarded-Host values, checked: a header sent with an empty last
// value is refused.
func xForwarded(h http.Header) (scheme, host string, e *Error) {
	if v, ok := h["X-Forwarded-Proto"]; ok {
		scheme = webScheme(strings.ToLower(lastValue(v)))
		switch {
		case scheme == "":
			e = &Error{Kind: Invalid, Header: "X-Forwarded-Proto", Value: v[len(v)-1], Err: errEmpty}
		case scheme != "https" && scheme != "http":
			e = &Error{Kind: Invalid, Header: "X-Forwarded-Proto", Value: v[len(v)-1], Err: errProto}
		}
		if e != nil {
			return "", "", e
		}
	}
	if v, ok := h["X-Forwarded-Host"]; ok {
		host = lastValue(v)
		switch {
		case host == "":
			e = &Error{Kind: Invalid, Header: "X-Forwarded-Host", Value: v[len(v)-1], Err: errEmpty}
		case !validReportedHost(host):
			e = &Error{Kind: Invalid, Header: "X-Forwarded-Host", Value: v[len(v)-1], Err: errHost}
		}
		if e != nil {
			return "", "", e
		}
	}
	return scheme, host, nil
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

// webScheme is the web origin's scheme for a forwarded proto: "wss" and
// "ws" are "https" and "http". Traefik sends them in X-Forwarded-Proto
// for a WebSocket handshake, whose origin is the page's; other values
// are returned as they are.
func webScheme(proto string) string {
	switch proto {
	case "wss":
		return "https"
	case "ws":
		return "http"
	}
	return proto
}

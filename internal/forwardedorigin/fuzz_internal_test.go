package forwardedorigin

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// FuzzRead: Read never panics; what it returns is a known scheme and a
// valid host; its Element, read again alone, says the same; and with
// both Forwarded and X-Forwarded-* it returns only an origin both name.
func FuzzRead(f *testing.F) {
	for _, c := range forwardedCases {
		f.Add(c.in, "", "")
	}
	f.Add("", "http, https", "evil.example, app.example")
	f.Add("", "gopher", "")
	f.Add("proto=https;host=app.example", "https", "app.example:443")
	f.Add("proto=http", "https", "")
	f.Add("host=evil.example, proto=https;host=app.example", "https", "app.example")
	f.Fuzz(func(t *testing.T, fwd, proto, host string) {
		h := http.Header{}
		if fwd != "" {
			h["Forwarded"] = []string{fwd}
		}
		if proto != "" {
			h["X-Forwarded-Proto"] = []string{proto}
		}
		if host != "" {
			h["X-Forwarded-Host"] = []string{host}
		}
		rep, e := Read(h, "http", "conn.example")
		if e != nil {
			if e.Kind != Invalid && e.Kind != Conflict || e.Err == nil || e.Header == "" {
				t.Errorf("refusal %#v", e)
			}
			return
		}
		if rep.Proto != "" && rep.Proto != "http" && rep.Proto != "https" {
			t.Errorf("scheme %q", rep.Proto)
		}
		if rep.Host != "" && !validReportedHost(rep.Host) {
			t.Errorf("host %q", rep.Host)
		}
		if (fwd != "") != (rep.Element != "") {
			t.Errorf("Forwarded %q: element %q", fwd, rep.Element)
		}
		if rep.Element != "" {
			// What the gateway forwards means what was checked.
			again, e := Read(http.Header{"Forwarded": {rep.Element}}, "http", "conn.example")
			if e != nil || again.Proto != rep.Proto || again.Host != rep.Host || again.Element != rep.Element {
				t.Errorf("Forwarded %q: element %q read alone gives %+v, %v; want %+v", fwd, rep.Element, again, e, rep)
			}
		}
		if fwd != "" && (proto != "" || host != "") {
			xs, xh, _ := xForwarded(h)
			s, x := or(rep.Proto, "http"), or(xs, "http")
			if s != x || !strings.EqualFold(StripDefaultPort(or(rep.Host, "conn.example"), s), StripDefaultPort(or(xh, "conn.example"), x)) {
				t.Errorf("Forwarded %q and X-Forwarded %q %q accepted as %q %q though they disagree", fwd, proto, host, rep.Proto, rep.Host)
			}
		}
	})
}

// forwardedCases are Forwarded lines and what lastForwarded makes of
// them: the proto and host of the last element, or the cause of refusal
// (moved from csrf with the parser).
// Each refused shape has an allowed twin.
var forwardedCases = []struct{ in, proto, host, err string }{
	{in: `for=192.0.2.60;proto=https;host="app.example"`, proto: "https", host: "app.example"},
	{in: `for="[2001:db8::1]:4711";proto=https;host="app.example.com:8443"`, proto: "https", host: "app.example.com:8443"},
	{in: `for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com`, proto: "http", host: "example.com"},
	{in: `;for=192.0.2.60;;proto=https;host="app.example";`, proto: "https", host: "app.example"},
	{in: `for=a ; proto=HTTPS , for=b;host=app.example`, host: "app.example"},
	{in: `host="app\.example"`, err: errQuoted.Error()},
	{in: `host="app.example"`, host: "app.example"},
	{in: `for="_hidden, \"quoted\"";host=app.example`, err: errQuoted.Error()},
	{in: `for="_hidden";host=app.example`, host: "app.example"},
	{in: `for="_x;host=evil.example"`, err: errQuoted.Error()},
	{in: `for="_x=1"`, err: errQuoted.Error()},
	{in: `for="_x"`},
	{in: `host="evil.example, host=app.example"`, err: errQuoted.Error()},
	{in: `host="a,b"`, err: errQuoted.Error()},
	{in: `host="a b"`, err: errHost.Error()},
	{in: `host=evil.example, for="x, host=app.example"`, err: errQuoted.Error()},
	{in: `host=evil.example, for="x"`, host: ""},
	{in: `host="app.example;proto=http"`, err: errQuoted.Error()},
	{in: `for="x`, err: errUnterminated.Error()},
	{in: `for="x, for=y;host=app.example`, err: errQuoted.Error()},
	{in: `for="x y`, err: errUnterminated.Error()},
	{in: `host="app.example\`, err: errQuoted.Error()},
	{in: "host=\"app\\\x01\"", err: errQuoted.Error()},
	{in: "host=\"app\\\tx\"", err: errQuoted.Error()},
	{in: "host=\"app\tx\"", err: errHost.Error()},
	{in: "host=\"app\x01.example\"", err: errControl.Error()},
	{in: "host=app.example\x7f", err: errControl.Error()},
	{in: "for=x;\x00host=app.example", err: errControl.Error()},
	{in: `host=app.example"`, err: errValue.Error()},
	{in: `host=[::1]`, err: errValue.Error()},
	{in: `host="[::1]"`, host: "[::1]"},
	{in: `host=`, err: errValue.Error()},
	{in: `host=""`, err: errHost.Error()},
	{in: `proto=""`, err: errProto.Error()},
	{in: `proto=gopher`, err: errProto.Error()},
	{in: `proto`, err: errPair.Error()},
	{in: `host =app.example`, err: errPair.Error()},
	{in: `"host"=app.example`, err: errName.Error()},
	{in: `host=app.example extra`, err: errSeparator.Error()},
	{in: `proto=http;host=app.example;proto=https`, err: `parameter "proto" repeated in one element`},
	{in: `proto=https;HOST=evil.example;host=app.example`, err: `parameter "host" repeated in one element`},
	{in: `for=a;For=b, proto=https`, err: `parameter "for" repeated in one element`},
	{in: `ext=1;ext=2`, err: `parameter "ext" repeated in one element`},
	{in: `for=192.0.2.1;xhost=evil.example`, err: errExtension.Error()},
	{in: `for=192.0.2.1;X-Proto=http`, err: errExtension.Error()},
	{in: `for=192.0.2.1;xfor=_x;host=app.example`, err: errExtension.Error()},
	{in: `for=127.0.0.1;by=_ats;proto=https;host=app.example;connection=https`, proto: "https", host: "app.example"},
	{in: `for=192.0.2.1;hostname=evil.example;host=app.example`, host: "app.example"},
	{in: `for=192.0.2.1;secret="_x"`},
	{in: `by=_p;for=192.0.2.1`},
	{in: `for=a, for=a;proto=https`, proto: "https"},
	{in: `host=app.example, `, err: errEmpty.Error()},
	{in: `for=x,,host=app.example`, err: errEmpty.Error()},
	{in: ``, err: errEmpty.Error()},
	{in: `;`, err: errEmpty.Error()},
}

func TestLastForwarded(t *testing.T) {
	for _, tt := range forwardedCases {
		el, _, err := lastForwarded([]string{tt.in})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err || el.proto != tt.proto || el.host != tt.host {
			t.Errorf("%q: got %q %q %q, want %q %q %q", tt.in, el.proto, el.host, got, tt.proto, tt.host, tt.err)
		}
	}
}

// The reference model of RFC 7239 §4 for FuzzForwardedModel, written from
// the grammar with regular expressions over the line's bytes read as
// Latin-1 (so that obs-text is one character each).
var (
	fwdToken   = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
	fwdQuoted  = `"(?:[\t \x{21}\x{23}-\x{5b}\x{5d}-\x{7e}\x{80}-\x{ff}]|\\[\t \x{21}-\x{7e}\x{80}-\x{ff}])*"`
	fwdPair    = "(" + fwdToken + ")=(" + fwdToken + "|" + fwdQuoted + ")"
	fwdLine    = regexp.MustCompile(`^[ \t]*(?:` + fwdPair + `)?(?:[ \t]*[;,][ \t]*(?:` + fwdPair + `)?)*[ \t]*$`)
	fwdItem    = regexp.MustCompile(fwdPair + `|[;,]`)
	fwdMisread = regexp.MustCompile(`(for|by|host|proto)$`) // extension names Spring reads as the four
	fwdUnq     = regexp.MustCompile(`\\(.)`)
)

// modelForwarded is lastForwarded's reference: ok is false where the line
// must be refused.
func modelForwarded(line string) (proto, host string, ok bool) {
	r := make([]rune, len(line))
	for i := range len(line) {
		r[i] = rune(line[i])
	}
	l1 := string(r)
	if !fwdLine.MatchString(l1) {
		return "", "", false
	}
	var params map[string]string
	end := func() bool {
		if len(params) == 0 {
			return false
		}
		proto, host = "", ""
		p, hasP := params["proto"]
		h, hasH := params["host"]
		proto, host = strings.ToLower(p), h
		return (!hasP || proto == "http" || proto == "https") && (!hasH || validReportedHost(host))
	}
	params = map[string]string{}
	for _, m := range fwdItem.FindAllStringSubmatch(l1, -1) {
		switch m[0] {
		case ",":
			if len(params) == 0 {
				return "", "", false
			}
			params = map[string]string{}
		case ";":
		default:
			k, v := strings.ToLower(m[1]), m[2]
			if k != "for" && k != "by" && k != "host" && k != "proto" && fwdMisread.MatchString(k) ||
				strings.HasPrefix(v, `"`) && strings.ContainsAny(v[1:len(v)-1], `,;=\`) {
				return "", "", false // narrowed: what naive parsers read otherwise
			}
			if _, dup := params[k]; dup {
				return "", "", false
			}
			if strings.HasPrefix(v, `"`) {
				v = fwdUnq.ReplaceAllString(v[1:len(v)-1], "$1")
			}
			b := make([]byte, 0, len(v))
			for _, c := range v {
				b = append(b, byte(c))
			}
			params[k] = string(b)
		}
	}
	if !end() {
		return "", "", false
	}
	return proto, host, true
}

// FuzzForwardedModel compares lastForwarded with the reference model: the
// same lines refused, the same proto and host from the others.
func FuzzForwardedModel(f *testing.F) {
	for _, c := range forwardedCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, line string) {
		el, _, err := lastForwarded([]string{line})
		mp, mh, ok := modelForwarded(line)
		if (err == nil) != ok || el.proto != mp || el.host != mh {
			t.Errorf("%q: got %q %q %v, model %q %q %v", line, el.proto, el.host, err, mp, mh, ok)
		}
	})
}

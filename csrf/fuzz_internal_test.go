package csrf

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// FuzzRefererOrigin checks the allocation-free Referer parser against
// net/url: whatever it accepts is a prefix of the input and has the scheme
// and host that url.Parse finds.
func FuzzRefererOrigin(f *testing.F) {
	for _, s := range []string{
		"https://app.example/form?x=1", "https://evil.example/attack", "http://app.example/form",
		"https://app.example@evil.example/", "/form", "https://app.example", "https://[::1]:8443/x#y",
		"https://app.example:0/", "https://a..b/", "javascript:alert(1)", "https://app.example?q", "https://%41/",
		"https://app.example./f", "https://app.example.:8443/f", "https://app.example../f", "https://[::1]./f", "https://1.2.3.4./f",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		o, ok := refererOrigin(ref)
		if !ok {
			return
		}
		if !strings.HasPrefix(ref, o) {
			t.Fatalf("origin %q is not a prefix of %q", o, ref)
		}
		u, err := url.Parse(ref)
		if err != nil {
			// net/url is stricter about later parts (escapes in the path);
			// the origin itself must still parse.
			if u, err = url.Parse(o); err != nil {
				t.Fatalf("accepted %q whose origin %q does not parse: %v", ref, o, err)
			}
		}
		if got := u.Scheme + "://" + u.Host; got != o || u.User != nil {
			t.Errorf("referer %q: got origin %q, net/url says %q (user %v)", ref, o, got, u.User)
		}
		// An origin, or one whose DNS name has one trailing dot (kept as
		// sent, as in Origin).
		if scheme, hp, _ := strings.Cut(o, "://"); !validScheme(scheme) || !validHostPort(hp) && !validDottedHostPort(hp) {
			t.Errorf("referer %q: origin %q is not scheme://host[:port]", ref, o)
		}
	})
}

// FuzzOriginPattern: parsing never panics; an accepted pattern prints in a
// form that parses back to itself; a wildcard matches exactly one label.
func FuzzOriginPattern(f *testing.F) {
	for _, s := range []string{
		"https://a.example", "https://*.a.example:8443", "a.example", "https://a.example/",
		"https://*.com", "HTTPS://A.EXAMPLE:443", "https://[::1]:8443", "https://*.[::1]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseOriginPattern(s, true)
		if err != nil {
			return
		}
		q, err := parseOriginPattern(p.String(), true)
		if err != nil || q != p {
			t.Fatalf("%q normalized to %q, which parses to %+v, %v", s, p.String(), q, err)
		}
		if !p.wildcard {
			if !p.match(p.String()) {
				t.Errorf("%q does not match itself", p.String())
			}
			return
		}
		one := p.scheme + "://x" + p.host
		two := p.scheme + "://x.y" + p.host
		apex := p.scheme + "://" + strings.TrimPrefix(p.host, ".")
		if !p.match(one) || p.match(two) || p.match(apex) {
			t.Errorf("%q: one label %v, two labels %v, apex %v; want true, false, false", p, p.match(one), p.match(two), p.match(apex))
		}
	})
}

// FuzzTokenVerify feeds arbitrary strings to token verification. It must
// never panic, and anything it accepts must unmask to a token we minted: a
// different mask over the same signed bytes is the only way to pass.
func FuzzTokenVerify(f *testing.F) {
	ring, err := NewKeyRing(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		f.Fatal(err)
	}
	// Seeds must be the same in every fuzzing process: mint them with
	// fixed nonces and pads rather than random ones.
	binding := []byte("alice")
	minted := map[[rawSize]byte]bool{}
	for i := range byte(2) {
		tok := fixedToken(ring, kindSession, binding, i)
		raw, _ := unmask(tok)
		minted[raw] = true
		f.Add(tok)
	}
	genuine := fixedToken(ring, kindSession, binding, 0)
	if err := ring.verify(genuine, kindSession, binding); err != nil {
		f.Fatalf("the genuine seed does not verify: %v", err)
	}
	if ring.verify(genuine, kindSession, []byte("bob")) == nil || ring.verify(genuine, kindPreSession, binding) == nil {
		f.Fatal("the genuine seed verifies for another binding")
	}
	f.Add(fixedToken(ring, kindPreSession, binding, 3))
	f.Add(strings.Repeat("A", TokenLength))
	f.Add("")
	f.Add(genuine[:TokenLength-1] + "=")
	f.Fuzz(func(t *testing.T, tok string) {
		if ring.verify(tok, kindSession, binding) != nil {
			return
		}
		raw, ok := unmask(tok)
		if !ok || !minted[raw] {
			t.Fatalf("accepted %q, which is not a token we minted", tok)
		}
	})
}

// fixedToken is mint with a nonce and a pad derived from seed.
func fixedToken(k *KeyRing, kind byte, binding []byte, seed byte) string {
	var raw [rawSize]byte
	rk := &k.keys[0]
	raw[0] = tokenVersion
	copy(raw[1:5], rk.id[:])
	for i := 5; i < headerSize; i++ {
		raw[i] = seed + byte(i)
	}
	rk.tag((*[tagSize]byte)(raw[headerSize:]), (*[headerSize]byte)(raw[:headerSize]), kind, binding)
	var masked [maskedSize]byte
	for i := range rawSize {
		masked[i] = seed*7 + byte(i)*13
		masked[rawSize+i] = raw[i] ^ masked[i]
	}
	return tokenEncoding.EncodeToString(masked[:])
}

func unmask(tok string) ([rawSize]byte, bool) {
	var raw [rawSize]byte
	m, err := tokenEncoding.DecodeString(tok)
	if err != nil || len(m) != maskedSize {
		return raw, false
	}
	for i := range rawSize {
		raw[i] = m[i] ^ m[rawSize+i]
	}
	return raw, true
}

// FuzzForwarded: the Forwarded / X-Forwarded-* reader never panics; what
// it returns is a known scheme and a valid host; and with both Forwarded
// and X-Forwarded-* it returns only an origin both name.
func FuzzForwarded(f *testing.F) {
	for _, c := range forwardedCases {
		f.Add(c.in, "", "")
	}
	f.Add("", "http, https", "evil.example, app.example")
	f.Add("", "gopher", "")
	f.Add("proto=https;host=app.example", "https", "app.example:443")
	f.Add("proto=http", "https", "")
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
		scheme, hp, e := forwardedOrigin(h, "http", "conn.example")
		if e != nil {
			if e.Reason != ReasonForwardedInvalid && e.Reason != ReasonForwardedConflict || e.Err == nil || e.Header == "" {
				t.Errorf("refusal %#v", e)
			}
			return
		}
		if scheme != "" && scheme != "http" && scheme != "https" {
			t.Errorf("scheme %q", scheme)
		}
		if hp != "" && !validHostPort(hp) {
			t.Errorf("host %q", hp)
		}
		if fwd != "" && (proto != "" || host != "") {
			xs, xh, _ := xForwardedOrigin(h)
			s, x := or(scheme, "http"), or(xs, "http")
			if s != x || !strings.EqualFold(stripDefaultPort(or(hp, "conn.example"), s), stripDefaultPort(or(xh, "conn.example"), x)) {
				t.Errorf("Forwarded %q and X-Forwarded %q %q accepted as %q %q though they disagree", fwd, proto, host, scheme, hp)
			}
		}
	})
}

// forwardedCases are Forwarded lines and what lastForwarded makes of
// them: the proto and host of the last element, or the cause of refusal.
// Each refused shape has an allowed twin.
var forwardedCases = []struct{ in, proto, host, err string }{
	{in: `for=192.0.2.60;proto=https;host="app.example"`, proto: "https", host: "app.example"},
	{in: `for="[2001:db8::1]:4711";proto=https;host="app.example.com:8443"`, proto: "https", host: "app.example.com:8443"},
	{in: `for=192.0.2.43, for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com`, proto: "http", host: "example.com"},
	{in: `;for=192.0.2.60;;proto=https;host="app.example";`, proto: "https", host: "app.example"},
	{in: `for=a ; proto=HTTPS , for=b;host=app.example`, host: "app.example"},
	{in: `host="app\.example"`, host: "app.example"},
	{in: `for="_hidden, \"quoted\"";host=app.example`, host: "app.example"},
	{in: `host="evil.example, host=app.example"`, err: errFwdHost.Error()},
	{in: `host="a,b"`, err: errFwdHost.Error()},
	{in: `host=evil.example, for="x, host=app.example"`, host: ""},
	{in: `host="app.example;proto=http"`, err: errFwdHost.Error()},
	{in: `for="x`, err: errFwdUnterminated.Error()},
	{in: `for="x, for=y;host=app.example`, err: errFwdUnterminated.Error()},
	{in: `host="app.example\`, err: errFwdUnterminated.Error()},
	{in: "host=\"app\\\x01\"", err: errFwdEscape.Error()},
	{in: "host=\"app\\\tx\"", err: errFwdHost.Error()},
	{in: "host=\"app\x01.example\"", err: errFwdControl.Error()},
	{in: "host=app.example\x7f", err: errFwdControl.Error()},
	{in: "for=x;\x00host=app.example", err: errFwdControl.Error()},
	{in: `host=app.example"`, err: errFwdValue.Error()},
	{in: `host=[::1]`, err: errFwdValue.Error()},
	{in: `host="[::1]"`, host: "[::1]"},
	{in: `host=`, err: errFwdValue.Error()},
	{in: `host=""`, err: errFwdHost.Error()},
	{in: `proto=""`, err: errFwdProto.Error()},
	{in: `proto=gopher`, err: errFwdProto.Error()},
	{in: `proto`, err: errFwdPair.Error()},
	{in: `host =app.example`, err: errFwdPair.Error()},
	{in: `"host"=app.example`, err: errFwdName.Error()},
	{in: `host=app.example extra`, err: errFwdSeparator.Error()},
	{in: `proto=http;host=app.example;proto=https`, err: `parameter "proto" repeated in one element`},
	{in: `proto=https;HOST=evil.example;host=app.example`, err: `parameter "host" repeated in one element`},
	{in: `for=a;For=b, proto=https`, err: `parameter "for" repeated in one element`},
	{in: `ext=1;ext=2`, err: `parameter "ext" repeated in one element`},
	{in: `for=a, for=a;proto=https`, proto: "https"},
	{in: `host=app.example, `, err: errFwdEmpty.Error()},
	{in: `for=x,,host=app.example`, err: errFwdEmpty.Error()},
	{in: ``, err: errFwdEmpty.Error()},
	{in: `;`, err: errFwdEmpty.Error()},
}

func TestLastForwarded(t *testing.T) {
	for _, tt := range forwardedCases {
		proto, host, _, err := lastForwarded([]string{tt.in})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.err || proto != tt.proto || host != tt.host {
			t.Errorf("%q: got %q %q %q, want %q %q %q", tt.in, proto, host, got, tt.proto, tt.host, tt.err)
		}
	}
}

// The reference model of RFC 7239 §4 for FuzzForwardedModel, written from
// the grammar with regular expressions over the line's bytes read as
// Latin-1 (so that obs-text is one character each).
var (
	fwdToken  = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
	fwdQuoted = `"(?:[\t \x{21}\x{23}-\x{5b}\x{5d}-\x{7e}\x{80}-\x{ff}]|\\[\t \x{21}-\x{7e}\x{80}-\x{ff}])*"`
	fwdPair   = "(" + fwdToken + ")=(" + fwdToken + "|" + fwdQuoted + ")"
	fwdLine   = regexp.MustCompile(`^[ \t]*(?:` + fwdPair + `)?(?:[ \t]*[;,][ \t]*(?:` + fwdPair + `)?)*[ \t]*$`)
	fwdItem   = regexp.MustCompile(fwdPair + `|[;,]`)
	fwdUnq    = regexp.MustCompile(`\\(.)`)
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
		return (!hasP || proto == "http" || proto == "https") && (!hasH || validHostPort(host))
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
		proto, host, _, err := lastForwarded([]string{line})
		mp, mh, ok := modelForwarded(line)
		if (err == nil) != ok || proto != mp || host != mh {
			t.Errorf("%q: got %q %q %v, model %q %q %v", line, proto, host, err, mp, mh, ok)
		}
	})
}

// FuzzCookie compares the allocation-free cookie scan with net/http's
// (*Request).Cookie on arbitrary Cookie headers: the same cookie found,
// with the same value, or none for both.
func FuzzCookie(f *testing.F) {
	for _, s := range []string{
		PreSessionCookie + "=abc", "a=1; " + PreSessionCookie + "=abc; b=2", ` ` + PreSessionCookie + ` = "abc" `,
		PreSessionCookie + `="ab"c"; ` + PreSessionCookie + "=second", strings.ToLower(PreSessionCookie) + "=abc",
		PreSessionCookie, PreSessionCookie + "=", PreSessionCookie + `="`, PreSessionCookie + "=a=b;;", "\t" + PreSessionCookie + "=x\r\n",
		SPACookie + "=tok; " + SPACookie + "=other", PreSessionCookie + "=a\\b; " + PreSessionCookie + "=ok",
	} {
		f.Add(s, "")
	}
	f.Add("a=1", PreSessionCookie+"=in-the-second-line")
	f.Add(PreSessionCookie+" \t= spaced", PreSessionCookie+"x=longer-name")
	f.Add(strings.Repeat(";", maxCookies-1), PreSessionCookie+"=past-the-limit")
	f.Add(strings.Repeat(";", maxCookies-2), PreSessionCookie+"=at-the-limit")
	f.Add("a="+strings.Repeat("x", maxCookies), PreSessionCookie+"=long-but-few")
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		r := &http.Request{Header: http.Header{"Cookie": {line1}}}
		if line2 != "" {
			r.Header["Cookie"] = append(r.Header["Cookie"], line2)
		}
		for _, name := range []string{PreSessionCookie, devPreSessionCookie, SPACookie} {
			got, ok := cookie(r, name)
			ck, err := r.Cookie(name)
			if ok != (err == nil) || ok && got != ck.Value {
				t.Fatalf("cookie %q in %q: got %q, %v; net/http: %v, %v", name, r.Header["Cookie"], got, ok, ck, err)
			}
		}
	})
}

// FuzzJoinedURLs: joinedURLs (the Referer half of the repeated-header
// check) never panics, finds nothing in a value without a comma, and
// always finds two absolute URLs joined with a comma.
func FuzzJoinedURLs(f *testing.F) {
	for _, s := range []string{"https://app.example/form", "https://app.example/form, https://evil.example/",
		"https://app.example/a?x=1,2", "https://a/,HTTP://b/", "a,b://", ",://", ", \t1x://", "https://a/,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := joinedURLs(v)
		if got && !strings.Contains(v, ",") {
			t.Fatalf("joinedURLs(%q) = true without a comma", v)
		}
		if !joinedURLs(v + ", https://evil.example/") {
			t.Fatalf("joinedURLs(%q + a second URL) = false", v)
		}
	})
}

// FuzzDecodeToken: decodeToken accepts exactly the strings of
// TokenLength characters that tokenEncoding (strict unpadded base64url)
// decodes into a masked token (encoding/base64 skips '\r' and '\n',
// which the length rules out), and decodes them to the same bytes.
func FuzzDecodeToken(f *testing.F) {
	ring, err := NewKeyRing(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		f.Fatal(err)
	}
	tok := fixedToken(ring, kindSession, []byte("alice"), 0)
	f.Add(tok)
	f.Add(tok[:TokenLength-1] + "B") // the last character's spare bits set: not strict
	f.Add(tok[:TokenLength-1] + "=")
	f.Add(tok[:10] + "+" + tok[11:]) // standard alphabet
	f.Add(tok[:10] + "\xff" + tok[11:])
	f.Add(tok[:TokenLength-1])
	f.Add(tok + "A")
	f.Add(strings.Repeat("_", TokenLength))
	f.Add(tok[:50] + "\r" + tok[50:])
	f.Add(tok[:50] + "\n" + tok[51:])
	f.Fuzz(func(t *testing.T, s string) {
		var got [maskedSize]byte
		ok := decodeToken(&got, s)
		want, err := tokenEncoding.DecodeString(s)
		wantOK := len(s) == TokenLength && err == nil && len(want) == maskedSize
		if ok != wantOK || ok && !bytes.Equal(got[:], want) {
			t.Fatalf("decodeToken(%q) = %x, %v; encoding/base64: %x, %v", s, got, ok, want, err)
		}
	})
}

// FuzzCookieClass: the classes cookieClass reports are those of the value
// it returns (the pre-session check relies on isBase64URL).
func FuzzCookieClass(f *testing.F) {
	for _, s := range []string{PreSessionCookie + "=abc-_09", PreSessionCookie + `="abc"`, PreSessionCookie + "=a+b", PreSessionCookie + "=a b", PreSessionCookie + "=", PreSessionCookie + "=a\\b; " + PreSessionCookie + "=ok"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r := &http.Request{Header: http.Header{"Cookie": {line}}}
		v, cls, ok := cookieClass(r, PreSessionCookie)
		if !ok {
			return
		}
		b64 := true
		for i := 0; i < len(v); i++ {
			if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", rune(v[i])) {
				b64 = false
			}
		}
		if cls&isCookieOctet == 0 || (cls&isBase64URL != 0) != b64 {
			t.Fatalf("cookieClass(%q) = %q, classes %b; base64url: %v", line, v, cls, b64)
		}
	})
}

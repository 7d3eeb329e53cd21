package csrf

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
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

// FuzzFormOverride: formOverride (the bypass check's reading of a
// POST's _method field) never panics, gives the handler the body as
// sent, and says true whenever net/http's own form parsing (gorilla's and
// echo's method override), or a urlencoded reading of every body whose
// media type some reader takes for a form (Rack reads an untyped POST
// body as one; Rack, PHP and Express read "…urlencoded; a=1; a=2", which
// mime.ParseMediaType refuses), finds an override that changes a POST's
// method. A Content-Type of "\x00" stands for none at all.
func FuzzFormOverride(f *testing.F) {
	mp := "--b\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--b--\r\n"
	for _, s := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "_method=DELETE&a=1"},
		{"application/x-www-form-urlencoded; a", "_method=PUT"},
		{"application/x-www-form-urlencoded;a=1;a=2", "_method=PUT"},
		{"application/x-www-form-urlencoded,x", "_method=PUT"},
		{"application/x-www-form-urlencoded; charset=utf-16", "_method=PUT"},
		{"application/x-www-form-urlencoded; charset=UTF-8", "_method=POST"},
		{"application/x-www-form-urlencoded", "a=1&_METHOD=patch"},
		{"application/x-www-form-urlencoded", "_method=GET"},
		{"application/x-www-form-urlencoded", "_method=+GET"},
		{"application/x-www-form-urlencoded", "_method=post"},
		{"multipart/form-data; boundary=b", mp},
		{"multipart/form-data; boundary=b; boundary=c", mp},
		{"multipart/form-data; xboundary=a; boundary=b", mp},
		{"multipart/form-data; boundary=\"b\"", mp},
		{"multipart/form-data", mp},
		{"multipart/form-data", "_method=DELETE&x=\r\n----\r\n"},
		{"text/plain", "_method=DELETE"},
		{"", "_method=DELETE"},
		{"\x00", "_method=DELETE"},
		{"\x00", "_method=POST"},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		c := &config{maxFormBytes: DefaultMaxFormBytes}
		r, err := http.NewRequest("POST", "https://app.example/hooks/x", bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		if ct != "\x00" {
			r.Header.Set("Content-Type", ct)
		}
		got := c.formOverride(r)
		if after, err := io.ReadAll(r.Body); err != nil || !bytes.Equal(after, body) {
			t.Fatalf("the handler reads %q (%v), want the body as sent %q", after, err, body)
		}
		if got {
			return // fails closed: nothing to compare
		}
		std, _ := http.NewRequest("POST", "https://app.example/hooks/x", bytes.NewReader(body))
		std.Header = r.Header
		std.ParseMultipartForm(1 << 20) // fills PostForm for urlencoded bodies too
		readers := []url.Values{std.PostForm}
		if mt, _, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Content-Type")), ";"); mt == "" || strings.EqualFold(mt, "application/x-www-form-urlencoded") {
			v, _ := url.ParseQuery(string(body))
			readers = append(readers, v)
		}
		for _, vals := range readers {
			for k, v := range vals {
				if isOverrideKey(k) && overridesAny(v, "POST") {
					t.Fatalf("Content-Type %q, body %q: a reader reads %s=%q, formOverride says no override", ct, body, k, v)
				}
			}
		}
	})
}

// FuzzFindToken: whatever the body and Content-Type, findToken leaves the
// body as sent for the handler, and a token it finds in a form is the
// csrf_token field net/http's form parser reads from the same request.
func FuzzFindToken(f *testing.F) {
	tok := strings.Repeat("A", TokenLength)
	mp := "--b\r\nContent-Disposition: form-data; name=\"" + FormField + "\"\r\n\r\n" + tok + "\r\n--b--\r\n"
	for _, s := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", FormField + "=" + tok + "&a=1"},
		{"application/x-www-form-urlencoded", "a=1&" + FormField + "=x&" + FormField + "=y"},
		{"application/x-www-form-urlencoded", FormField + "=%zz"},
		{"application/x-www-form-urlencoded; charset=utf-8", "csrf%5Ftoken=" + tok},
		{"multipart/form-data; boundary=b", mp},
		{"multipart/form-data; boundary=\"b\"", mp},
		{"multipart/form-data", mp},
		{"multipart/form-data; boundary=", mp},
		{"multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"" + FormField + "\"; filename=\"t\"\r\n\r\nx\r\n--b--\r\n"},
		{"text/plain", FormField + "=" + tok},
		{"", FormField + "=" + tok},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		c := &config{maxFormBytes: DefaultMaxFormBytes}
		r, err := http.NewRequest("POST", "https://app.example/x", bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		r.Header.Set("Content-Type", ct)
		got, _, _ := c.findToken(r)
		if after, err := io.ReadAll(r.Body); err != nil || !bytes.Equal(after, body) {
			t.Fatalf("the handler reads %q (%v), want the body as sent %q", after, err, body)
		}
		std, _ := http.NewRequest("POST", "https://app.example/x", bytes.NewReader(body))
		std.Header = r.Header
		std.ParseMultipartForm(1 << 20) // fills PostForm for urlencoded bodies too
		want := std.PostFormValue(FormField)
		if got != "" && len(got) <= TokenLength && want != "" && got != want {
			t.Fatalf("Content-Type %q, body %q: findToken reads %q, net/http %q", ct, body, got, want)
		}
	})
}

// FuzzParseKeyRing: a key file parses to one key per line that is not
// blank or a comment, or to an error that quotes no line of the file (a
// line may be a secret).
func FuzzParseKeyRing(f *testing.F) {
	a := "+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s="
	b := "_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-"
	for _, s := range []string{a + "\n", "# active\n" + a + "\n\n  # old\n" + b + "\r\n", "# nothing\n",
		a + "\nAAAAAAAAAAAAAAAAAAAAAA==\n", "not base64!\n", strings.Repeat("ab", 32) + "\n", a + "\n" + a + "\n",
		a + "==\n", "\x00" + a, a + " " + a} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeyRing(data)
		var lines []string
		for l := range strings.Lines(string(data)) {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		if err != nil {
			for _, l := range lines {
				// Long and without spaces: no phrase of the message itself.
				if len(l) >= 16 && !strings.Contains(l, " ") && strings.Contains(err.Error(), l) {
					t.Fatalf("error %q quotes the line %q", err, l)
				}
			}
			return
		}
		if len(k.keys) != len(lines) {
			t.Fatalf("%q: %d keys from %d lines", data, len(k.keys), len(lines))
		}
	})
}

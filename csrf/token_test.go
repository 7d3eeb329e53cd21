package csrf_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// sessionBinding binds tokens to the X-Test-Session header, standing in for
// a session ID or a certificate's SPKI hash; no header means no session.
func sessionBinding(r *http.Request) ([]byte, error) {
	if v := r.Header.Get("X-Test-Session"); v != "" {
		return []byte(v), nil
	}
	return nil, nil
}

func testRing(t testing.TB, keys ...[]byte) *csrf.KeyRing {
	t.Helper()
	if len(keys) == 0 {
		keys = [][]byte{bytes.Repeat([]byte{1}, 32)}
	}
	k, err := csrf.NewKeyRing(keys[0], keys[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func tokenProtection(t testing.TB, mode csrf.Mode, ring *csrf.KeyRing) *csrf.Protection {
	t.Helper()
	p := csrf.New()
	if err := p.SetMode(mode); err != nil {
		t.Fatal(err)
	}
	p.SetKeyRing(ring)
	p.SetBinding(sessionBinding)
	return p
}

func mintFor(t testing.TB, p *csrf.Protection, session string) string {
	t.Helper()
	r := request("GET", app+"/")
	r.Header.Set("X-Test-Session", session)
	tok, err := p.Token(r)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokens(t *testing.T) {
	k1 := bytes.Repeat([]byte{1}, 32)
	k2 := bytes.Repeat([]byte{2}, 32)
	alice := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t, k1))
	aliceTok := mintFor(t, alice, "alice")

	tests := []struct {
		name string
		p    *csrf.Protection
		h    []string
		want csrf.Reason
	}{
		{"valid token, same session", alice, []string{"X-Test-Session", "alice", "X-CSRF-Token", aliceTok}, ""},
		{"valid token, other session", alice, []string{"X-Test-Session", "bob", "X-CSRF-Token", aliceTok}, csrf.ReasonTokenInvalid},
		{"no token", alice, []string{"X-Test-Session", "alice"}, csrf.ReasonTokenMissing},
		{"token required even without browser headers", alice, []string{"X-Test-Session", "alice"}, csrf.ReasonTokenMissing},
		{"origin still checked with a valid token", alice, []string{"X-Test-Session", "alice", "X-CSRF-Token", aliceTok, "Sec-Fetch-Site", "cross-site"}, csrf.ReasonCrossSite},
		{"tampered token", alice, []string{"X-Test-Session", "alice", "X-CSRF-Token", flip(aliceTok, csrf.TokenLength-10)}, csrf.ReasonTokenInvalid},
		{"truncated token", alice, []string{"X-Test-Session", "alice", "X-CSRF-Token", aliceTok[:len(aliceTok)-1]}, csrf.ReasonTokenInvalid},
		{"unmasked garbage", alice, []string{"X-Test-Session", "alice", "X-CSRF-Token", strings.Repeat("A", csrf.TokenLength)}, csrf.ReasonTokenInvalid},
		{"rotated ring: old key still verifies", tokenProtection(t, csrf.ModeOriginAndToken, testRing(t, k2, k1)),
			[]string{"X-Test-Session", "alice", "X-CSRF-Token", aliceTok}, ""},
		{"old key removed: refused", tokenProtection(t, csrf.ModeOriginAndToken, testRing(t, k2)),
			[]string{"X-Test-Session", "alice", "X-CSRF-Token", aliceTok}, csrf.ReasonTokenInvalid},
		{"no key ring in a token mode: refused", tokenProtection(t, csrf.ModeOriginAndToken, nil),
			[]string{"X-Test-Session", "alice", "X-CSRF-Token", aliceTok}, csrf.ReasonNoKeys},
		{"no session and no pre-session cookie", alice, []string{"X-CSRF-Token", aliceTok}, csrf.ReasonBindingUnavailable},
		// Negative control: with tokens off the same forged, header-less
		// request from an old browser goes through.
		{"origin-only mode lets a header-less request through", tokenProtection(t, csrf.ModeOriginOnly, testRing(t, k1)), []string{"X-Test-Session", "alice"}, ""},
		{"legacy mode: header-less request needs a token", tokenProtection(t, csrf.ModeTokenIfNoBrowserHeaders, testRing(t, k1)), []string{"X-Test-Session", "alice"}, csrf.ReasonTokenMissing},
		{"legacy mode: header-less request with token", tokenProtection(t, csrf.ModeTokenIfNoBrowserHeaders, testRing(t, k1)), []string{"X-Test-Session", "alice", "X-CSRF-Token", aliceTok}, ""},
		{"legacy mode: Referer alone still needs a token", tokenProtection(t, csrf.ModeTokenIfNoBrowserHeaders, testRing(t, k1)), []string{"X-Test-Session", "alice", "Referer", app + "/form"}, csrf.ReasonTokenMissing},
		{"legacy mode: Origin-bearing request needs none", tokenProtection(t, csrf.ModeTokenIfNoBrowserHeaders, testRing(t, k1)), []string{"X-Test-Session", "alice", "Origin", app}, ""},
		{"legacy mode: Sec-Fetch-Site request needs none", tokenProtection(t, csrf.ModeTokenIfNoBrowserHeaders, testRing(t, k1)), []string{"X-Test-Session", "alice", "Sec-Fetch-Site", "same-origin"}, ""},
		{"SPA header ignored when SPA is off", alice, []string{"X-Test-Session", "alice", "X-XSRF-TOKEN", aliceTok}, csrf.ReasonTokenMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reasonOf(tt.p.Check(request("POST", app+"/", tt.h...))); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func flip(tok string, i int) string {
	b := []byte(tok)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestTokensAreMaskedPerCall(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	a, b := mintFor(t, p, "alice"), mintFor(t, p, "alice")
	if a == b {
		t.Fatalf("got the same token twice, want a fresh mask each time")
	}
	if len(a) != csrf.TokenLength {
		t.Errorf("length: got %d, want %d", len(a), csrf.TokenLength)
	}
	for _, tok := range []string{a, b} {
		r := request("POST", app+"/", "X-Test-Session", "alice", "X-CSRF-Token", tok)
		if err := p.Check(r); err != nil {
			t.Errorf("got %v, want both masked tokens valid", err)
		}
	}
}

// A session value and a pre-session cookie holding the same bytes are
// different bindings.
func TestSessionAndPreSessionBindingsDiffer(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	same := strings.Repeat("s", 32)
	tok := mintFor(t, p, same)
	cookie := &http.Cookie{Name: csrf.PreSessionCookie, Value: same} // a valid pre-session cookie: 32 base64url characters

	r := request("POST", app+"/", "X-CSRF-Token", tok)
	r.AddCookie(cookie)
	if got := reasonOf(p.Check(r)); got != csrf.ReasonTokenInvalid {
		t.Errorf("session token against pre-session cookie: got %q, want %q", got, csrf.ReasonTokenInvalid)
	}
	r = request("GET", app+"/")
	r.AddCookie(cookie)
	pre, err := p.Token(r)
	must(t, err)
	r = request("POST", app+"/", "X-CSRF-Token", pre)
	r.AddCookie(cookie)
	if err := p.Check(r); err != nil {
		t.Errorf("pre-session token against its cookie: got %v, want nil", err)
	}
}

func TestBindingError(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	boom := errors.New("session store down")
	p.SetBinding(func(*http.Request) ([]byte, error) { return nil, boom })
	err := p.Check(request("POST", app+"/", "X-CSRF-Token", "x"))
	if got := reasonOf(err); got != csrf.ReasonBindingUnavailable {
		t.Errorf("got %q, want %q", got, csrf.ReasonBindingUnavailable)
	}
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want it to wrap the binding error", err)
	}
	if _, err := p.Token(request("GET", app+"/")); !errors.Is(err, boom) {
		t.Errorf("Token: got %v, want the binding error", err)
	}
	p.SetKeyRing(nil)
	if _, err := p.Token(request("GET", app+"/")); !errors.Is(err, csrf.ErrNoKeys) {
		t.Errorf("Token without keys: got %v, want ErrNoKeys", err)
	}
}

func TestTokenInForm(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	tok := mintFor(t, p, "alice")
	form := url.Values{"amount": {"100"}, csrf.FormField: {tok}}.Encode()

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("upload", "a.txt")
	fw.Write(bytes.Repeat([]byte("x"), 5000))
	mw.WriteField(csrf.FormField, tok)
	mw.Close()

	var mpNoTok bytes.Buffer
	mw2 := multipart.NewWriter(&mpNoTok)
	mw2.WriteField("amount", "100")
	mw2.Close()

	tests := []struct {
		name        string
		contentType string
		body        string
		maxBytes    int64
		want        csrf.Reason
	}{
		{"urlencoded with token", "application/x-www-form-urlencoded", form, 0, ""},
		{"urlencoded without token", "application/x-www-form-urlencoded", "amount=100", 0, csrf.ReasonTokenMissing},
		{"urlencoded with wrong token", "application/x-www-form-urlencoded", "csrf_token=" + flip(tok, 7), 0, csrf.ReasonTokenInvalid},
		{"multipart with token after a file", mw.FormDataContentType(), mp.String(), 0, ""},
		{"multipart without token", mw2.FormDataContentType(), mpNoTok.String(), 0, csrf.ReasonTokenMissing},
		{"form larger than the limit", "application/x-www-form-urlencoded", form, 64, csrf.ReasonTokenMissing},
		// The largest limit, "no limit", must not overflow into none.
		{"largest limit, with token", "application/x-www-form-urlencoded", form, math.MaxInt64, ""},
		{"largest limit, without token", "application/x-www-form-urlencoded", "amount=100", math.MaxInt64, csrf.ReasonTokenMissing},
		{"JSON body is not searched", "application/json", `{"csrf_token":"` + tok + `"}`, 0, csrf.ReasonTokenMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.SetMaxFormBytes(tt.maxBytes)
			r := request("POST", app+"/", "X-Test-Session", "alice", "Content-Type", tt.contentType)
			r.Body = io.NopCloser(strings.NewReader(tt.body))
			if got := reasonOf(p.Check(r)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			// The handler still reads the whole body, once.
			rest, err := io.ReadAll(r.Body)
			if err != nil || string(rest) != tt.body {
				t.Errorf("body after Check: got %d bytes (%v), want the %d sent", len(rest), err, len(tt.body))
			}
		})
	}
}

func TestTokenInFormAfterParseForm(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	tok := mintFor(t, p, "alice")
	r := request("POST", app+"/", "X-Test-Session", "alice", "Content-Type", "application/x-www-form-urlencoded")
	r.Body = io.NopCloser(strings.NewReader("csrf_token=" + tok))
	must(t, r.ParseForm())
	if err := p.Check(r); err != nil {
		t.Errorf("got %v, want the parsed form's token accepted", err)
	}
	r = request("POST", app+"/", "X-Test-Session", "alice", "Content-Type", "application/x-www-form-urlencoded")
	r.Body = io.NopCloser(strings.NewReader("other=1"))
	must(t, r.ParseForm())
	if got := reasonOf(p.Check(r)); got != csrf.ReasonTokenMissing {
		t.Errorf("parsed form without the field: got %q, want %q", got, csrf.ReasonTokenMissing)
	}

	// ParseForm (a logging or routing middleware's r.FormValue of a
	// query parameter does the same) leaves a multipart body unread and
	// r.PostForm empty: the token is still in the body, as
	// r.PostFormValue, gorilla/csrf and nosurf find it.
	for _, tt := range []struct {
		name  string
		field string
		want  csrf.Reason
	}{
		{"multipart after ParseForm, with the token", csrf.FormField, ""},
		{"multipart after ParseForm, without the token", "other", csrf.ReasonTokenMissing},
	} {
		var mp bytes.Buffer
		mw := multipart.NewWriter(&mp)
		mw.WriteField(tt.field, tok)
		mw.Close()
		r = request("POST", app+"/", "X-Test-Session", "alice", "Content-Type", mw.FormDataContentType())
		r.Body = io.NopCloser(bytes.NewReader(mp.Bytes()))
		must(t, r.ParseForm())
		if got := reasonOf(p.Check(r)); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
		if rest, _ := io.ReadAll(r.Body); !bytes.Equal(rest, mp.Bytes()) {
			t.Errorf("%s: body after Check: got %d bytes, want the %d sent", tt.name, len(rest), mp.Len())
		}
	}
	// A token in the query string is never read, parsed or not.
	r = request("POST", app+"/?"+csrf.FormField+"="+tok, "X-Test-Session", "alice", "Content-Type", "application/x-www-form-urlencoded")
	r.Body = io.NopCloser(strings.NewReader("other=1"))
	must(t, r.ParseForm())
	if got := reasonOf(p.Check(r)); got != csrf.ReasonTokenMissing {
		t.Errorf("token in the query of a parsed form: got %q, want %q", got, csrf.ReasonTokenMissing)
	}
}

func TestSPAHeader(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	p.SetSPA(true)
	tok := mintFor(t, p, "alice")
	if err := p.Check(request("POST", app+"/", "X-Test-Session", "alice", csrf.SPAHeader, tok)); err != nil {
		t.Errorf("got %v, want the SPA header accepted", err)
	}
	p.SetSPA(false)
	if got := reasonOf(p.Check(request("POST", app+"/", "X-Test-Session", "alice", csrf.SPAHeader, tok))); got != csrf.ReasonTokenMissing {
		t.Errorf("SPA off: got %q, want %q", got, csrf.ReasonTokenMissing)
	}
}

func TestBypassWaivesToken(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	must(t, p.AddInsecureBypassPattern("POST /hooks/"))
	if err := p.Check(request("POST", app+"/hooks/a", "X-Test-Session", "alice")); err != nil {
		t.Errorf("bypassed: got %v, want nil", err)
	}
	if got := reasonOf(p.Check(request("POST", app+"/other", "X-Test-Session", "alice"))); got != csrf.ReasonTokenMissing {
		t.Errorf("not bypassed: got %q, want %q", got, csrf.ReasonTokenMissing)
	}
}

// The token path through Handler allocates no more than it must: nothing
// on a POST with a valid token (the request goes on as it came: its token
// state is all in it), and the token string on a GET that mints. A
// regression here (parsing every cookie, a request copy or a context per
// request, re-encoding) shows as a higher count. The race detector's
// instrumentation allocates, so counts are only checked without it.
func TestTokenPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	h, cookie, tok := preSessionVisitor(t)
	for _, tc := range []struct {
		name string
		r    *http.Request
		max  float64
	}{
		{"verify", request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", "Cookie", cookie, csrf.HeaderName, tok), 0},
		{"mint", request("GET", app+"/form", "Sec-Fetch-Site", "same-origin", "Cookie", cookie), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &statusWriter{h: http.Header{}}
			n := testing.AllocsPerRun(100, func() {
				clear(w.h)
				h.ServeHTTP(w, tc.r)
			})
			if w.code != 0 || len(w.h) != 0 {
				t.Fatalf("got status %d and headers %v, want the request accepted with no cookie set", w.code, w.h)
			}
			if n > tc.max {
				t.Errorf("got %v allocations, want at most %v", n, tc.max)
			}
		})
	}
}

// The origin-only accept path allocates nothing, through Handler and
// through Check: a same-origin POST decided by Sec-Fetch-Site, and one
// from an older browser decided by its Origin. The inner handler counts
// its calls, so the test knows the requests were accepted, not refused.
func TestOriginPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	p := csrf.New()
	var reached int
	h := p.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }))
	for _, tc := range []struct {
		name string
		r    *http.Request
	}{
		{"same-origin", request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", "Origin", app)},
		{"legacy-origin", request("POST", app+"/transfer", "Origin", app)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &statusWriter{h: http.Header{}}
			reached = 0
			n := testing.AllocsPerRun(100, func() {
				clear(w.h)
				h.ServeHTTP(w, tc.r)
			})
			// AllocsPerRun makes one warm-up run beside the 100 it counts.
			if w.code != 0 || reached != 101 {
				t.Fatalf("got status %d and %d calls of the handler, want the request accepted every time", w.code, reached)
			}
			if n != 0 {
				t.Errorf("Handler: got %v allocations, want 0", n)
			}
			if n := testing.AllocsPerRun(100, func() { _ = p.Check(tc.r) }); n != 0 {
				t.Errorf("Check: got %v allocations, want 0", n)
			}
		})
	}
}

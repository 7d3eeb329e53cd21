package csrf_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// The binding function may be a session lookup: Handler calls it at most
// once per request and hands its answer to Token, which does not ask
// again. The twin of each case counts the same request through a handler
// that does not mint, to show what the middleware alone calls.
func TestBindingCalledOncePerRequest(t *testing.T) {
	ring := testRing(t)
	// A visitor with a pre-session cookie and a token minted for it, and
	// a session user's token.
	_, cookie, preTok := preSessionVisitor(t)
	tests := []struct {
		name    string
		session string // X-Test-Session, "" for none
		req     *http.Request
		mint    bool // the handler calls Token
		want    int  // binding calls
		status  int  // 0: the handler ran
	}{
		{name: "GET that mints, session", session: "alice", mint: true, want: 1,
			req: request("GET", app+"/form", "Sec-Fetch-Site", "same-origin")},
		{name: "GET that does not mint, session", session: "alice", want: 1,
			req: request("GET", app+"/form", "Sec-Fetch-Site", "same-origin")},
		{name: "GET that mints, pre-session cookie", mint: true, want: 1,
			req: request("GET", app+"/form", "Sec-Fetch-Site", "same-origin", "Cookie", cookie)},
		{name: "GET that does not mint, pre-session cookie", want: 0,
			req: request("GET", app+"/form", "Sec-Fetch-Site", "same-origin", "Cookie", cookie)},
		{name: "GET that mints, first visit", mint: true, want: 1,
			req: request("GET", app+"/form", "Sec-Fetch-Site", "none")},
		{name: "POST that verifies", want: 1,
			req: request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", "Cookie", cookie, csrf.HeaderName, preTok)},
		{name: "POST that verifies and mints", mint: true, want: 1,
			req: request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", "Cookie", cookie, csrf.HeaderName, preTok)},
		{name: "POST refused for its token", want: 1, status: http.StatusForbidden,
			req: request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", "Cookie", cookie, csrf.HeaderName, flip(preTok, 50))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			p := csrf.New()
			must(t, p.SetMode(csrf.ModeOriginAndToken))
			p.SetKeyRing(ring)
			p.SetBinding(func(r *http.Request) ([]byte, error) {
				calls++
				return sessionBinding(r)
			})
			var tok string
			h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.mint {
					var err error
					if tok, err = p.Token(r); err != nil {
						t.Errorf("Token: got %v, want a token", err)
					}
				}
			}))
			if tt.session != "" {
				tt.req.Header.Set("X-Test-Session", tt.session)
			}
			w := &statusWriter{h: http.Header{}}
			h.ServeHTTP(w, tt.req)
			if w.code != tt.status {
				t.Fatalf("status: got %d, want %d", w.code, tt.status)
			}
			if calls != tt.want {
				t.Errorf("binding calls: got %d, want %d", calls, tt.want)
			}
			if tt.mint && tok == "" {
				t.Error("no token minted")
			}
		})
	}
}

// Handler needs no copy of a request whose token state is all in the
// request; when it sets a new pre-session cookie, the handler's request
// carries it (so Token binds to it) and the caller's request is left as
// it was sent.
func TestNewPreSessionReachesTokenNotCaller(t *testing.T) {
	p := csrf.New()
	must(t, p.SetMode(csrf.ModeOriginAndToken))
	p.SetKeyRing(testRing(t))
	var tok string
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		tok, err = p.Token(r)
		must(t, err)
	}))
	r := request("GET", app+"/form", "Sec-Fetch-Site", "none", "Cookie", "a=1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if got := r.Header.Values("Cookie"); len(got) != 1 || got[0] != "a=1" {
		t.Errorf("caller's Cookie header: got %q, want %q", got, "a=1")
	}
	cks := rec.Result().Cookies()
	if len(cks) != 1 {
		t.Fatalf("got cookies %v, want the pre-session cookie", cks)
	}
	post := request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", csrf.HeaderName, tok)
	post.AddCookie(cks[0])
	if err := p.Check(post); err != nil {
		t.Errorf("token minted on the first visit, with the cookie set then: got %v, want nil", err)
	}
	// Its twin: without that cookie the token is refused.
	post = request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", csrf.HeaderName, tok, "Cookie", csrf.PreSessionCookie+"="+strings.Repeat("A", 32))
	if got := reasonOf(p.Check(post)); got != csrf.ReasonTokenInvalid {
		t.Errorf("same token with another pre-session cookie: got %q, want %q", got, csrf.ReasonTokenInvalid)
	}
}

// Rotate on a request that Handler passed on as it came (a login POST
// with a valid token needs no copy): Token after Rotate mints for the new
// cookie, tokens for the old one stop verifying, and Rotate without a key
// ring fails and sets nothing.
func TestRotateWithoutCopy(t *testing.T) {
	_, cookie, oldTok := preSessionVisitor(t)
	p := csrf.New()
	must(t, p.SetMode(csrf.ModeOriginAndToken))
	p.SetKeyRing(testRing(t))
	var newTok string
	var fresh *http.Cookie
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		must(t, p.Rotate(w, r))
		var err error
		newTok, err = p.Token(r)
		must(t, err)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request("POST", app+"/login", "Sec-Fetch-Site", "same-origin", "Cookie", cookie, csrf.HeaderName, oldTok))
	if rec.Code != http.StatusOK {
		t.Fatalf("login: got %d %q, want 200", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == csrf.PreSessionCookie {
			fresh = c
		}
	}
	if fresh == nil {
		t.Fatal("Rotate set no pre-session cookie")
	}
	tests := []struct {
		name string
		tok  string
		want csrf.Reason
	}{
		{"token minted after Rotate", newTok, ""},
		{"token minted before Rotate", oldTok, csrf.ReasonTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", csrf.HeaderName, tt.tok)
			r.AddCookie(fresh)
			if got := reasonOf(p.Check(r)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	p.SetKeyRing(nil)
	rec = httptest.NewRecorder()
	if err := p.Rotate(rec, request("POST", app+"/login")); err == nil {
		t.Error("Rotate without a key ring: got nil, want an error")
	}
	if got := rec.Header().Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("Rotate without a key ring: got Set-Cookie %q, want none", got)
	}
}

// Two Protections in a chain keep their binding functions' answers apart:
// the inner one's Token asks its own function, not the outer's answer.
func TestBindingAnswerPerProtection(t *testing.T) {
	ring := testRing(t)
	outerCalls, innerCalls := 0, 0
	outer := csrf.New()
	must(t, outer.SetMode(csrf.ModeOriginAndToken))
	outer.SetKeyRing(ring)
	outer.SetBinding(func(r *http.Request) ([]byte, error) { outerCalls++; return []byte("outer"), nil })
	inner := csrf.New()
	inner.SetKeyRing(ring)
	inner.SetBinding(func(r *http.Request) ([]byte, error) { innerCalls++; return []byte("inner"), nil })

	outerTok := func() string {
		tok, err := outer.Token(request("GET", app+"/"))
		must(t, err)
		outerCalls = 0
		return tok
	}()
	var innerTok string
	h := outer.Handler(inner.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		innerTok, err = inner.Token(r)
		must(t, err)
	})))
	w := &statusWriter{h: http.Header{}}
	h.ServeHTTP(w, request("POST", app+"/", "Sec-Fetch-Site", "same-origin", csrf.HeaderName, outerTok))
	if w.code != 0 {
		t.Fatalf("got status %d, want the POST through both", w.code)
	}
	if outerCalls != 1 || innerCalls != 1 {
		t.Errorf("binding calls: got outer %d, inner %d; want 1 and 1", outerCalls, innerCalls)
	}
	// The inner token is bound to the inner binding, not the outer one.
	must(t, inner.SetMode(csrf.ModeOriginAndToken))
	if err := inner.Check(request("POST", app+"/", csrf.HeaderName, innerTok)); err != nil {
		t.Errorf("inner token under the inner binding: got %v, want nil", err)
	}
	if got := reasonOf(outer.Check(request("POST", app+"/", csrf.HeaderName, innerTok))); got != csrf.ReasonTokenInvalid {
		t.Errorf("inner token under the outer binding: got %q, want %q", got, csrf.ReasonTokenInvalid)
	}
}

// A pre-session cookie is valid only as Handler makes it: 32 base64url
// characters. Anything else is replaced by a new one (and a token cannot
// be bound to it); the valid twin is kept.
func TestPreSessionCookieForm(t *testing.T) {
	p := csrf.New()
	p.SetKeyRing(testRing(t))
	h := p.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	valid := "abcdefghijklmnopqrstuvwxyz-_0123"
	tests := []struct {
		name    string
		value   string
		replace bool
	}{
		{"valid", valid, false},
		{"valid, quoted", `"` + valid + `"`, false},
		{"one character short", valid[:31], true},
		{"one character long", valid + "A", true},
		{"standard base64 character", "+" + valid[1:], true},
		{"padding", valid[:31] + "=", true},
		{"not base64", "!" + valid[1:], true},
		{"empty", "", true},
		{"the 43-character form of 32 bytes", strings.Repeat("A", 43), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("GET", app+"/")
			r.Header.Set("Cookie", csrf.PreSessionCookie+"="+tt.value)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if got := len(rec.Result().Cookies()) == 1; got != tt.replace {
				t.Errorf("replaced: got %v, want %v", got, tt.replace)
			}
			_, err := p.Token(r)
			if got := err != nil; got != tt.replace {
				t.Errorf("Token on the request as sent: got error %v, want an error %v", err, tt.replace)
			}
		})
	}
}

// Rotate marks a login or logout, where a session manager changes the
// session in place (renews or destroys it in the request it was handed):
// Token after Rotate must ask the binding function again, not reuse the
// answer Handler got before the change, or the page rendered with the
// login or logout carries a token for a session that no longer exists.
// The twin: without Rotate, Token keeps Handler's answer, as documented.
func TestRotateAsksBindingAgain(t *testing.T) {
	ring := testRing(t)
	_, preCookie, preTok := preSessionVisitor(t) // same ring
	tests := []struct {
		name   string
		cookie string // the request's Cookie header
		before string // X-Test-Session as sent, "" for none
		after  string // the session once the handler has run
		rotate bool
		want   csrf.Reason // for the token minted after the change, sent with the new session
	}{
		{name: "logout, Rotate", cookie: preCookie, before: "alice", after: "", rotate: true},
		{name: "login, Rotate", cookie: preCookie, before: "", after: "bob", rotate: true},
		{name: "logout, no Rotate", cookie: preCookie, before: "alice", after: "", want: csrf.ReasonTokenInvalid},
		{name: "login, no Rotate", cookie: preCookie, before: "", after: "bob", want: csrf.ReasonTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tokenProtection(t, csrf.ModeOriginAndToken, ring)
			var tok string
			h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Del("X-Test-Session") // the session manager's change, in place
				if tt.after != "" {
					r.Header.Set("X-Test-Session", tt.after)
				}
				if tt.rotate {
					must(t, p.Rotate(w, r))
				}
				var err error
				tok, err = p.Token(r)
				must(t, err)
			}))
			sentTok := preTok
			if tt.before != "" {
				sentTok = mintFor(t, p, tt.before)
			}
			r := request("POST", app+"/session", "Sec-Fetch-Site", "same-origin", csrf.HeaderName, sentTok)
			if tt.cookie != "" {
				r.Header.Set("Cookie", tt.cookie)
			}
			if tt.before != "" {
				r.Header.Set("X-Test-Session", tt.before)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				t.Fatalf("got %d %q, want 200", rec.Code, rec.Body)
			}

			// The next request, as the browser sends it: the pre-session
			// cookie the response set, else the one it had; the session
			// as it now is.
			next := request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", csrf.HeaderName, tok, "Cookie", tt.cookie)
			if cks := rec.Result().Cookies(); len(cks) > 0 {
				next.Header.Del("Cookie")
				for _, c := range cks {
					next.AddCookie(c)
				}
			}
			if tt.after != "" {
				next.Header.Set("X-Test-Session", tt.after)
			}
			if got := reasonOf(p.Check(next)); got != tt.want {
				t.Errorf("token minted after the change: got %q, want %q", got, tt.want)
			}
		})
	}
}

// A response on which Rotate sets the new pre-session cookie is kept out
// of shared caches, as Handler's are: a cached logout page would hand one
// visitor's pre-session value to every other. The twin: a Cache-Control
// the handler set first is left alone.
func TestRotateNoStore(t *testing.T) {
	tests := []struct {
		name string
		set  string // Cache-Control the handler sets before Rotate
		want string
	}{
		{name: "none set", want: "no-store"},
		{name: "handler's own", set: "private, max-age=60", want: "private, max-age=60"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := csrf.New()
			p.SetKeyRing(testRing(t))
			_, cookie, _ := preSessionVisitor(t)
			h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.set != "" {
					w.Header().Set("Cache-Control", tt.set)
				}
				must(t, p.Rotate(w, r))
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, request("GET", app+"/logout", "Sec-Fetch-Site", "same-origin", "Cookie", cookie))
			if len(rec.Result().Cookies()) != 1 {
				t.Fatalf("got cookies %v, want the new pre-session cookie", rec.Result().Cookies())
			}
			if got := rec.Header().Values("Cache-Control"); len(got) != 1 || got[0] != tt.want {
				t.Errorf("Cache-Control: got %q, want %q", got, tt.want)
			}
		})
	}
}

// Several goroutines may mint for one request (a page rendered in
// parts): Token reads what Handler passed on and writes nothing shared.
// Run with -race. Each token verifies for the request's binding: a
// session when the binding function reports one, else the pre-session
// cookie Handler set.
func TestConcurrentTokensOneRequest(t *testing.T) {
	for _, session := range []string{"alice", ""} {
		t.Run("session="+session, func(t *testing.T) {
			p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
			toks := make([]string, 8)
			h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var wg sync.WaitGroup
				for i := range toks {
					wg.Go(func() {
						tok, err := p.Token(r)
						if err != nil {
							t.Errorf("Token: %v", err)
						}
						toks[i] = tok
					})
				}
				wg.Wait()
			}))
			r := request("GET", app+"/page", "Sec-Fetch-Site", "none")
			if session != "" {
				r.Header.Set("X-Test-Session", session)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			for i, tok := range toks {
				next := request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", csrf.HeaderName, tok)
				for _, c := range rec.Result().Cookies() {
					next.AddCookie(c)
				}
				if session != "" {
					next.Header.Set("X-Test-Session", session)
				}
				if err := p.Check(next); err != nil {
					t.Errorf("token %d: got %v, want nil", i, err)
				}
			}
		})
	}
}

// TestSPARecoversAfterLogin: an SPA's login handler calls Rotate before
// its binding function can see the new session (the session cookie is on
// the response, not yet on r), so the XSRF-TOKEN Rotate sets is bound to
// the pre-session, and the SPA's next POST, with the session, is refused.
// The refusal now carries a fresh XSRF-TOKEN for the session, and the
// SPA's retry passes; before, every POST was refused until the SPA loaded
// a page. The twin: a cross-site refusal sets no cookie.
func TestSPARecoversAfterLogin(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	p.SetSPA(true)
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			must(t, p.Rotate(w, r)) // the session cookie goes on w
		}
	}))
	jar := map[string]string{}
	send := func(method, path, session string, header ...string) *httptest.ResponseRecorder {
		t.Helper()
		r := request(method, app+path, header...)
		for name, v := range jar {
			r.AddCookie(&http.Cookie{Name: name, Value: v})
		}
		if session != "" {
			r.Header.Set("X-Test-Session", session)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for _, c := range rec.Result().Cookies() {
			jar[c.Name] = c.Value
		}
		return rec
	}
	send("GET", "/", "")
	if rec := send("POST", "/login", "", "Sec-Fetch-Site", "same-origin", csrf.SPAHeader, jar[csrf.SPACookie]); rec.Code != 200 {
		t.Fatalf("login: got %d %q, want 200", rec.Code, rec.Body)
	}
	stale := jar[csrf.SPACookie]
	rec := send("POST", "/transfer", "bob", "Sec-Fetch-Site", "same-origin", csrf.SPAHeader, stale)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), string(csrf.ReasonTokenInvalid)) {
		t.Fatalf("first POST after login: got %d %q, want 403 %s", rec.Code, rec.Body, csrf.ReasonTokenInvalid)
	}
	if jar[csrf.SPACookie] == stale {
		t.Fatalf("the refusal set no new %s cookie (Set-Cookie %q)", csrf.SPACookie, rec.Header().Values("Set-Cookie"))
	}
	if rec := send("POST", "/transfer", "bob", "Sec-Fetch-Site", "same-origin", csrf.SPAHeader, jar[csrf.SPACookie]); rec.Code != 200 {
		t.Errorf("the retry with the new cookie: got %d %q, want 200", rec.Code, rec.Body)
	}

	rec = send("POST", "/transfer", "bob", "Sec-Fetch-Site", "cross-site", csrf.SPAHeader, stale)
	if rec.Code != 403 || len(rec.Result().Cookies()) != 0 {
		t.Errorf("cross-site: got %d with cookies %q, want 403 and none", rec.Code, rec.Header().Values("Set-Cookie"))
	}
}
